"""The comparison's tables, once as data (:class:`Table`) and then as Markdown and LaTeX.

Two tables per benchmark:

* *overall*: one row per method, the benchmark's pooled metrics (CDnet: mean of
  categories; DAVIS: mean over objects; MOT: summed counts) and the stages' frames/s;
* *per sequence*: one row per method, the benchmark's main score (CDnet F, DAVIS J&F,
  MOTA) of every sequence, then the overall score.

The best value of each column is marked (bold) among the methods whose runs all
finished and were scored; with a baseline, each score is followed by its difference to
the baseline's.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from classicseg.report.results import BENCHMARKS, SPEED, Column, best_values, is_complete, is_number

__all__ = ["Cell", "Table", "benchmark_tables", "speed_table", "markdown_table", "latex_table", "short_name"]


@dataclass
class Cell:
    text: str
    value: float | None = None
    best: bool = False
    delta: str = ""
    note: str = ""          # why the cell is empty (a failure), or that the score is partial


@dataclass
class Table:
    title: str
    key: str
    header: list
    rows: list                              # list of (method, [Cell, ...])
    notes: list = field(default_factory=list)


def short_name(sequence: str) -> str:
    """The last part of a sequence's path (``cdnet2014/baseline/highway`` -> ``highway``)."""
    return sequence.rsplit("/", 1)[-1]


def short_names(sequences: list[str]) -> list[str]:
    """The shortest tails of the paths that tell the sequences apart (``highway``,
    ``cameraJitter/traffic``, ``ucsd_bgs/traffic``)."""
    parts = [s.split("/") for s in sequences]
    out = []
    for p in parts:
        for k in range(1, len(p) + 1):
            tail = p[-k:]
            if sum(q[-k:] == tail for q in parts) == 1 or k == len(p):
                out.append("/".join(tail))
                break
    return out


def _delta(v, base, col: Column) -> str:
    if not (is_number(v) and is_number(base)):
        return ""
    d = float(v) - float(base)
    return f"{d:+.{col.digits}f}"


def _cell(row: dict | None, col: Column, best, base_row: dict | None) -> Cell:
    if row is None:
        return Cell("")
    v = row.get(col.key)
    if not is_number(v):
        why = row.get("error") or ("" if row.get("status") != "failed" else "failed")
        if row.get("level") != "sequence" and not is_complete(row):
            why = why or f"{row.get('complete')} sequences scored"
        return Cell("failed" if row.get("status") == "failed" else "", note=why)
    c = Cell(col.format(v), float(v), best is not None and is_complete(row) and float(v) == best)
    if not is_complete(row):
        c.note = f"partial: {row.get('complete')} sequences scored"
    if base_row is not None and base_row is not row:
        c.delta = _delta(v, base_row.get(col.key), col)
    return c


def _mean_row(method: str, rows: list, col: Column) -> dict:
    """A row holding the plain mean of ``col`` over ``rows`` (complete only when every row is)."""
    vals = [float(r[col.key]) for r in rows if r is not None and is_number(r.get(col.key))]
    return {"method": method, "level": "mean", "status": "", "complete": f"{len(vals)}/{len(rows)}",
            col.key: sum(vals) / len(vals) if vals else None}


def _overall(rows, method, bench):
    return next((r for r in rows if r["method"] == method and r["benchmark"] == bench and r["level"] == "overall"),
                None)


def benchmark_tables(records: list[dict], rows: list[dict], baseline: str | None = None) -> list[Table]:
    """For each benchmark present: the overall table and the per-sequence table."""
    methods = [r["method"] for r in records]
    out = []
    for key, bench in BENCHMARKS.items():
        brows = [r for r in rows if r["benchmark"] == key]
        if not brows:
            continue
        cols = [c for c in bench.columns if any(is_number(r.get(c.key)) for r in brows)] or \
            [bench.column(bench.main)]
        cols.append(SPEED)
        overall = {m: _overall(rows, m, key) for m in methods}
        present = [m for m in methods if overall[m] is not None]
        base = overall.get(baseline) if baseline else None
        best = {c.key: best_values([overall[m] for m in present], c.key, c.higher) for c in cols}
        body = [(m, [_cell(overall[m], c, best[c.key], base) for c in cols]) for m in present]
        notes = [bench.rules]
        out.append(Table(f"{bench.title}: overall", f"{key}-overall", [c.label for c in cols], body, notes))

        main = bench.column(bench.main)
        seqs = list(dict.fromkeys(r["sequence"] for r in brows if r["level"] == "sequence"))
        levels = [("sequence", s) for s in seqs] + [("overall", "overall")]
        mean_of_videos = key == "cdnet" and any(r["level"] == "category" for r in brows) and len(seqs) > 1
        by = {(r["method"], r["level"], r["sequence"]): r for r in brows}
        best = {lv: best_values([by.get((m, *lv)) for m in present if by.get((m, *lv))], main.key, main.higher)
                for lv in levels}
        means = {m: _mean_row(m, [by.get((m, "sequence", s)) for s in seqs], main) for m in present}
        best_mean = best_values(list(means.values()), main.key, main.higher)
        body = []
        for m in present:
            cells = []
            for lv in levels:
                base_row = by.get((baseline, *lv)) if baseline else None
                cells.append(_cell(by.get((m, *lv)), main, best[lv], base_row))
            if mean_of_videos:
                cells.append(_cell(means[m], main, best_mean, means.get(baseline)))
            body.append((m, cells))
        head = short_names(seqs) + ["overall"] + (["mean of videos"] if mean_of_videos else [])
        notes = ([f"overall: the mean of the categories' {main.label}, each category the mean of its videos, as CDnet "
                  f"publishes it; mean of videos: the plain mean of the sequences' {main.label} (not a CDnet score; "
                  "for tables that use it)."] if mean_of_videos else [])
        out.append(Table(f"{bench.title}: {main.label} per sequence", f"{key}-sequences", head, body, notes))
    return out


def speed_table(records: list[dict], rows: list[dict]) -> Table:
    """Each method's frames, stage time and frames/s over all its sequences, and its time per
    frame as a multiple of the fastest method's of the same run (``compare`` invocation)."""
    per = []
    for rec in records:
        seqs = [s for s in rec.get("sequences", []) if s.get("frames") and is_number(s.get("stage_seconds"))]
        frames = sum(int(s["frames"]) for s in seqs)
        secs = sum(float(s["stage_seconds"]) for s in seqs)
        per.append((rec["method"], rec.get("run_id", ""), frames, secs, frames / secs if secs > 0 else None))
    fastest: dict[str, float] = {}
    for _, run, _, _, fps in per:
        if fps is not None:
            fastest[run] = max(fastest.get(run, 0.0), fps)
    body = []
    for m, run, frames, secs, fps in per:
        if fps is None:
            body.append((m, [Cell(str(frames) if frames else ""), Cell(""), Cell(""), Cell("", note="no timing"),
                             Cell(run)]))
            continue
        slower = fastest[run] / fps
        fast = slower == 1.0
        body.append((m, [Cell(str(frames), frames), Cell(f"{secs:.2f}", secs), Cell(f"{fps:.1f}", fps, fast),
                         Cell("1 (fastest)" if fast else f"{slower:.1f}" if slower < 100 else f"{slower:.0f}",
                              slower, fast), Cell(run)]))
    notes = ["frames/s of the pipeline's stages over all sequences (decoding the input and writing the masks "
             "are left out: they are the same for every method); time per frame as a multiple of the fastest "
             "method's, in the same compare command (run): 4.0 = four times slower."]
    if len(fastest) > 1:
        notes.append("These methods come from different compare commands: ratios compare methods of the same run "
                     "only.")
    return Table("Speed", "speed", ["frames", "stage seconds", "frames/s", "time / fastest", "run"], body,
                 notes)


# --------------------------------------------------------------------------- Markdown
def _md_text(c: Cell) -> str:
    t = c.text or ("—" if not c.note else "n/a")
    if c.best:
        t = f"**{t}**"
    if c.delta:
        t += f" ({c.delta})"
    if c.note and c.text:
        t += "\\*"
    return t


def _md(table: Table) -> list[str]:
    lines = [f"### {table.title}", "", "| method | " + " | ".join(table.header) + " |",
             "|---|" + "---:|" * len(table.header)]
    notes = []
    for m, cells in table.rows:
        lines.append(f"| {m} | " + " | ".join(_md_text(c) for c in cells) + " |")
        for h, c in zip(table.header, cells):
            if c.note:
                notes.append(f"{m}, {h}: {c.note}")
    lines += [""] + table.notes
    if notes:
        lines += ["", "Not scored or partial:"] + [f"- {n}" for n in dict.fromkeys(notes)]
    lines.append("")
    return lines


def markdown_table(records: list[dict], rows: list[dict], baseline: str | None = None) -> str:
    """Every table in Markdown (bold = best of its column; \\* = see the notes below it)."""
    lines = ["# Comparison", ""]
    if baseline:
        lines += [f"Differences in brackets are to {baseline}.", ""]
    for t in benchmark_tables(records, rows, baseline) + [speed_table(records, rows)]:
        lines += _md(t)
    return "\n".join(lines).rstrip() + "\n"


# --------------------------------------------------------------------------- LaTeX
_TEX_ESCAPE = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}",
               "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}"}


def tex_escape(text: str) -> str:
    return "".join(_TEX_ESCAPE.get(ch, ch) for ch in str(text))


def _tex_text(c: Cell) -> str:
    if not c.text:
        return "--"
    t = tex_escape(c.text)
    if c.best:
        t = rf"\textbf{{{t}}}"
    if c.delta:
        t += rf" {{\scriptsize({tex_escape(c.delta)})}}"
    if c.note:
        t += r"$^*$"
    return t


def latex_table(records: list[dict], rows: list[dict], baseline: str | None = None) -> str:
    """Every benchmark table as a LaTeX ``tabular`` (booktabs), best of each column in bold."""
    out = ["% classicseg compare tables; needs \\usepackage{booktabs}", ""]
    for t in benchmark_tables(records, rows, baseline) + [speed_table(records, rows)]:
        cols = [h for h in t.header if h != "run"]
        n = len(cols)
        out += [f"% {t.title}", r"\begin{table}[t]", r"\centering", rf"\caption{{{tex_escape(t.title)}}}",
                rf"\begin{{tabular}}{{l{'r' * n}}}", r"\toprule",
                "method & " + " & ".join(tex_escape(h) for h in cols) + r" \\", r"\midrule"]
        for m, cells in t.rows:
            out.append(tex_escape(m) + " & " + " & ".join(_tex_text(c) for c in cells[:n]) + r" \\")
        out += [r"\bottomrule", r"\end{tabular}"]
        if any(c.note for _, cells in t.rows for c in cells):
            out.append(r"\\[2pt]{\footnotesize $^*$ partial or not scored: see report.html}")
        out += [r"\end{table}", ""]
    return "\n".join(out)
