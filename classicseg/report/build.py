"""Building the report files of a comparison folder from its method records (no rerun)."""
from __future__ import annotations

import time
from pathlib import Path

from classicseg.errors import ConfigError
from classicseg.report.results import BENCHMARKS, ROW_KEYS, build_rows, metric_keys
from classicseg.report.store import FILES, FORMAT, check_same_inputs, load_records, ordered

__all__ = ["build_report", "csv_columns"]

_METHOD_KEYS = ("method", "folder", "kind", "source", "pipeline", "config_hash", "command", "run_id", "started",
                "seconds", "error", "versions", "machine")


def csv_columns(rows: list[dict]) -> list[str]:
    """ROW_KEYS, then the metric columns of the benchmarks present (each once, in table order)."""
    cols = list(ROW_KEYS)
    for bench in BENCHMARKS:
        if any(r.get("benchmark") == bench for r in rows):
            cols += [k for k in metric_keys(bench) if k not in cols]
    return cols


def _check_baseline(baseline: str | None, records: list[dict]) -> None:
    if baseline is None:
        return
    names = [r["method"] for r in records]
    if baseline not in names:
        from classicseg.registry import nearest

        raise ConfigError(f"--baseline {baseline!r} is not one of the methods{nearest(baseline, names)}: "
                          f"{', '.join(names)}")


def build_report(folder, baseline: str | None = None, first: list[str] | None = None,
                 frames_per_sequence: int | None = None) -> dict[str, Path]:
    """Write ``results.json``, ``results.csv``, ``report.html``, ``table.md`` and ``table.tex``
    into ``folder`` from the method records found there.

    Parameters
    ----------
    folder : path-like
        A comparison folder (:mod:`classicseg.report.store`).
    baseline : str, optional
        Show every method's difference to this one.
    first : list of str, optional
        Methods to list first, in this order (default: the order of the last report).
    frames_per_sequence : int, optional
        Frames per sequence in the qualitative grid (default: 1, or 3 for a single sequence).

    Returns
    -------
    dict
        ``{"json": path, "csv": ..., "html": ..., "md": ..., "tex": ...}``.

    Raises
    ------
    ResultsError
        No records, or records of different input roots.
    ConfigError
        ``baseline`` is not one of the methods.
    """
    from classicseg.io.images import atomic_write_text
    from classicseg.io.sinks import write_csv, write_json
    from classicseg.report.html import render_html
    from classicseg.report.qualitative import pick_frames
    from classicseg.report.tables import latex_table, markdown_table

    t0 = time.perf_counter()
    folder = Path(folder)
    records = load_records(folder)
    if first:
        records = ordered(records, first)
    check_same_inputs(records, folder)
    _check_baseline(baseline, records)
    rows = build_rows(records)
    files = {k: folder / v for k, v in FILES.items()}
    cols = csv_columns(rows)
    write_csv(files["csv"], [{c: ("" if r.get(c) is None else r.get(c, "")) for c in cols} for r in rows])
    atomic_write_text(files["md"], markdown_table(records, rows, baseline))
    atomic_write_text(files["tex"], latex_table(records, rows, baseline))
    n_seq = len({s["sequence"] for r in records for s in r.get("sequences", [])})
    grid = pick_frames(folder, records, frames_per_sequence or (3 if n_seq == 1 else 1))
    html = render_html(records, rows, grid, baseline)
    atomic_write_text(files["html"], html)
    seconds = time.perf_counter() - t0
    write_json(files["json"], {
        "format": FORMAT, "inputs": records[0].get("inputs", []), "baseline": baseline,
        "methods": [{k: r.get(k) for k in _METHOD_KEYS} for r in records], "columns": cols, "rows": rows,
        "report_seconds": round(seconds, 3),
    })
    return files
