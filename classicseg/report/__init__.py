"""Comparing methods on datasets: ``classicseg compare`` and ``classicseg report``.

* :mod:`~classicseg.report.methods`: what a method is (a preset, a stage with its
  defaults, ``stage:VALUE``, a pipeline file) and how it is validated;
* :mod:`~classicseg.report.compare`: :func:`run_compare` runs each method through
  :func:`classicseg.batch.run_batch` and keeps one record per method;
* :mod:`~classicseg.report.results`: records -> rows (method x sequence, categories,
  overall), pooled by each benchmark's published rules;
* :mod:`~classicseg.report.store`: the comparison folder's layout;
* :mod:`~classicseg.report.build`: :func:`build_report` writes ``results.json``,
  ``results.csv``, ``report.html``, ``table.md`` and ``table.tex`` from the records;
* :mod:`~classicseg.report.tables`, :mod:`~classicseg.report.html`,
  :mod:`~classicseg.report.svg`, :mod:`~classicseg.report.qualitative`: the views.
"""
from classicseg.report.build import build_report
from classicseg.report.compare import CompareResult, run_compare
from classicseg.report.methods import Method, resolve_method, resolve_methods, split_methods

__all__ = ["run_compare", "CompareResult", "build_report", "Method", "resolve_method", "resolve_methods",
           "split_methods"]
