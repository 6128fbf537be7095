"""A comparison's folder: one record per method, and the files built from all of them.

::

    DIR/
      <method>/            the method's masks in the dataset's own layout (classicseg batch)
        compare.json       its record: pipeline, inputs, command, versions, per-sequence scores
        scores.json        what classicseg batch wrote
      results.json         every row (method x sequence, categories, overall) and the run's details
      results.csv          the same rows, one per line
      report.html          one self-contained page
      table.md, table.tex  the main tables, for papers

The records are the source of truth: ``classicseg report DIR`` rebuilds every other file
from them, and a later ``compare`` into the same folder adds its methods beside the
earlier ones (results of the same input roots only).
"""
from __future__ import annotations

import logging
from pathlib import Path

from classicseg.errors import ResultsError

log = logging.getLogger("classicseg")

__all__ = ["RECORD", "FORMAT", "FILES", "load_records", "check_same_inputs", "write_record", "ordered"]

RECORD = "compare.json"
FORMAT = "classicseg-compare/1"
FILES = {"json": "results.json", "csv": "results.csv", "html": "report.html", "md": "table.md", "tex": "table.tex"}


def write_record(folder, record: dict) -> Path:
    from classicseg.io.sinks import write_json

    path = Path(folder) / RECORD
    write_json(path, record)
    return path


def load_records(folder) -> list[dict]:
    """The method records under ``folder`` (``<method>/compare.json``), in the order of the
    last ``results.json`` (methods added since then after it, oldest first).

    Raises
    ------
    ResultsError
        ``folder`` does not exist or holds no record.
    """
    from classicseg.io.sinks import read_json_object

    folder = Path(folder)
    if not folder.is_dir():
        raise ResultsError(f"results folder not found: {folder}")
    records = []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir()):
        path = sub / RECORD
        if not path.is_file():
            continue
        rec = read_json_object(path)
        if rec is None or rec.get("format") != FORMAT or "method" not in rec:
            log.warning("%s: not a classicseg compare record, skipped", path)
            continue
        rec["_folder"] = sub.name
        records.append(rec)
    if not records:
        raise ResultsError(f"no results under {folder} (expected <method>/{RECORD} written by classicseg compare)")
    previous = read_json_object(folder / FILES["json"]) or {}
    return ordered(records, [m.get("method") for m in previous.get("methods", []) if isinstance(m, dict)])


def ordered(records: list[dict], first: list[str]) -> list[dict]:
    """``records`` with the methods named in ``first`` first (in that order), the others after
    them by the time they were run."""
    rank = {name: i for i, name in enumerate(first)}
    return sorted(records, key=lambda r: (rank.get(r["method"], len(rank)), r.get("started", ""), r["method"]))


def _roots(rec: dict) -> tuple[str, ...]:
    return tuple(sorted(rec.get("inputs") or []))


def check_same_inputs(records: list[dict], where, inputs: list[str] | None = None) -> None:
    """Refuse records made on different input roots (their sequences would not line up).

    Raises
    ------
    ResultsError
        Naming each set of roots and its methods.
    """
    groups: dict[tuple, list[str]] = {}
    if inputs is not None:
        groups[tuple(sorted(inputs))] = ["(this run)"]
    for rec in records:
        groups.setdefault(_roots(rec), []).append(rec["method"])
    if len(groups) > 1:
        parts = [f"{' + '.join(roots) or '(none)'} ({', '.join(methods)})" for roots, methods in groups.items()]
        raise ResultsError(f"{where} holds results from different dataset roots: {'; '.join(parts)}; "
                           "give each dataset its own output folder")
