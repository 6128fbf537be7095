"""``report.html``: one self-contained page (inline CSS, SVG and PNG/JPEG; no script, no
network), readable in any browser, printable, and small enough to mail.

Sections: the tables of each benchmark (best of each column in bold), per-category (or
per-sequence) bar charts, per-frame score curves of every sequence, the qualitative grid,
the speed of each method as a ratio to the fastest of its run, runs that failed and why,
every metric of every method on every sequence, and how the results were made (commands,
pipelines, versions, machine).
"""
from __future__ import annotations

import time
from html import escape

from classicseg.report.results import BENCHMARKS, SPEED, is_number
from classicseg.report.svg import bar_chart, colour, line_chart
from classicseg.report.tables import Table, benchmark_tables, short_name, speed_table

__all__ = ["render_html"]

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:1.5em auto;max-width:1200px;padding:0 1em;
color:#222;line-height:1.4}
h1{font-size:1.6em;margin-bottom:.2em}h2{margin-top:1.8em;border-bottom:1px solid #ccc;padding-bottom:.2em}
h3{margin-bottom:.3em}
table{border-collapse:collapse;margin:.5em 0 1em;font-size:.9em}
th,td{border:1px solid #ddd;padding:.25em .5em;text-align:right;vertical-align:top}
th:first-child,td:first-child{text-align:left}
thead th{background:#f3f3f3}
td.best{background:#e6f4ea}
td.failed{color:#b00020;text-align:left;max-width:22em}
span.delta{color:#555;font-size:.85em;margin-left:.3em}
span.note{color:#b00020}
.meta{color:#555}
.legend span{display:inline-block;margin-right:1em;white-space:nowrap}
.legend i{display:inline-block;width:1em;height:.8em;margin-right:.3em;vertical-align:middle}
.charts{display:flex;flex-wrap:wrap;gap:1em}
.grid td{text-align:center;font-size:.8em;border:none;padding:2px}
.grid img{display:block;width:160px;image-rendering:pixelated}
.grid img.photo{image-rendering:auto}
div.wide{overflow-x:auto}
pre{background:#f6f6f6;padding:.6em;overflow-x:auto;font-size:.85em}
nav a{margin-right:1em}
"""


def _legend(methods: list[str]) -> str:
    items = "".join(f'<span><i style="background:{colour(i)}"></i>{escape(m)}</span>' for i, m in enumerate(methods))
    return f'<p class="legend">{items}</p>'


def _cell_html(c) -> str:
    if not c.text:
        note = escape(c.note)
        return f'<td class="failed" title="{note}">{note or "—"}</td>' if c.note else "<td>—</td>"
    body = f"<strong>{escape(c.text)}</strong>" if c.best else escape(c.text)
    if c.delta:
        body += f'<span class="delta">({escape(c.delta)})</span>'
    if c.note:
        body += f'<span class="note" title="{escape(c.note)}">*</span>'
    cls = ' class="best"' if c.best else ""
    return f"<td{cls}>{body}</td>"


def _table(t: Table) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in t.header)
    body = "".join(f'<tr data-method="{escape(m)}"><th scope="row">{escape(m)}</th>'
                   + "".join(_cell_html(c) for c in cells) + "</tr>" for m, cells in t.rows)
    notes = "".join(f'<p class="meta">{escape(n)}</p>' for n in t.notes)
    marks = [f"{m}, {h}: {c.note}" for m, cells in t.rows for h, c in zip(t.header, cells) if c.note and c.text]
    if marks:
        notes += '<p class="meta">* ' + escape("; ".join(dict.fromkeys(marks))) + "</p>"
    title = f"<h3>{escape(t.title)}</h3>" if t.title else ""
    return (f'{title}<div class="wide"><table class="scores" id="{escape(t.key)}"><thead><tr><th>method</th>{head}'
            f"</tr></thead><tbody>{body}</tbody></table></div>{notes}")


def _charts(records, rows, methods) -> str:
    out = []
    for key, bench in BENCHMARKS.items():
        brows = [r for r in rows if r["benchmark"] == key]
        if not brows or not any(is_number(r.get(bench.main)) for r in brows):
            continue
        level = "category" if any(r["level"] == "category" for r in brows) else "sequence"
        groups = list(dict.fromkeys(r["sequence"] for r in brows if r["level"] == level)) + ["overall"]
        by = {(r["method"], r["sequence"]): r.get(bench.main) for r in brows if r["level"] in (level, "overall")}
        series = [(m, [by.get((m, g)) if is_number(by.get((m, g))) else None for g in groups]) for m in methods]
        label = bench.column(bench.main).label
        what = "category" if level == "category" else "sequence"
        out.append(bar_chart([short_name(g) for g in groups], series, label,
                             f"{bench.title}: {label} per {what}"))
    return '<div class="charts">' + "".join(out) + "</div>" if out else ""


def _per_frame(records, methods) -> str:
    seqs = list(dict.fromkeys(s["sequence"] for r in records for s in r.get("sequences", [])))
    out = []
    for name in seqs:
        series, ylabel = [], "F"
        for rec in records:
            s = next((x for x in rec.get("sequences", []) if x["sequence"] == name), None)
            pf = (s or {}).get("per_frame")
            if not pf:
                series.append((rec["method"], [], []))
                continue
            if "J" in pf:
                ys = [None if j is None or f is None else (j + f) / 2 for j, f in zip(pf["J"], pf["F"])]
                ylabel = "J&F"
            else:
                ys = pf["F"]
            series.append((rec["method"], pf["frame"], ys))
        if any(xs for _, xs, _ in series):
            out.append(line_chart(series, ylabel, f"{name}: {ylabel} per frame"))
    return '<div class="charts">' + "".join(f"<div>{s}</div>" for s in out) + "</div>" if out else ""


def _grid(grid, methods) -> str:
    if not grid:
        return "<p>No masks to show.</p>"
    head = "<tr><th>sequence, frame</th><th>input</th><th>ground truth</th>" + "".join(
        f"<th>{escape(m)}</th>" for m in methods) + "</tr>"
    body = []
    for row in grid:
        cells = [f"<td><b>{escape(short_name(row.sequence))}</b><br>frame {row.frame}"
                 + (f"<br>disagreement {100 * row.contested:.1f}%" if row.contested is not None else "")
                 + "</td>"]
        cells.append(f'<td><img class="photo" src="{row.input}" alt="input {escape(row.sequence)} frame {row.frame}">'
                     "</td>" if row.input else "<td>(frame not found)</td>")
        cells.append(f'<td><img src="{row.gt}" alt="ground truth"></td>' if row.gt else "<td>(none)</td>")
        for m, uri, caption in row.cells:
            cells.append(f'<td><img src="{uri}" alt="{escape(m)}">{escape(caption)}</td>' if uri
                         else f"<td>({escape(caption)})</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    legend = ('<p class="meta">Masks against the ground truth: white = foreground on both, <span style="color:#e63c3c">'
              'red</span> = false positive, <span style="color:#2878e6">blue</span> = missed, dark grey = ignored by '
              "the benchmark; without ground truth a mask is white on black. Below each mask: its score on that "
              "frame. On each sequence, the frame where the methods disagree most: disagreement is the share of pairs of "
              "methods whose masks differ, averaged over the pixels.</p>")
    return legend + f'<div class="wide"><table class="grid">{head}{"".join(body)}</table></div>'


def _details(records, rows) -> str:
    out = []
    for key, bench in BENCHMARKS.items():
        brows = [r for r in rows if r["benchmark"] == key]
        if not brows:
            continue
        cols = [c for c in bench.columns if any(is_number(r.get(c.key)) for r in brows)]
        head = "<tr><th>method</th><th>sequence</th>" + "".join(f"<th>{escape(c.label)}</th>" for c in cols) + \
            "<th>frames</th><th>frames/s</th><th>status</th></tr>"
        body = []
        for r in brows:
            name = r["sequence"] if r["level"] != "category" else f"{r['sequence']} (category)"
            cells = "".join(f"<td>{escape(c.format(r.get(c.key)))}</td>" for c in cols)
            status = r.get("error") or r.get("status") or ("" if r["level"] == "sequence" else r.get("complete"))
            body.append(f"<tr><td>{escape(r['method'])}</td><td>{escape(name)}</td>{cells}"
                        f"<td>{r.get('frames') or ''}</td><td>{escape(SPEED.format(r.get('fps')))}</td>"
                        f'<td class="{"failed" if r.get("status") == "failed" else ""}">{escape(str(status))}</td></tr>')
        out.append(f"<details><summary>{escape(bench.title)}: every metric, every sequence ({len(brows)} rows)"
                   f"</summary><table>{head}{''.join(body)}</table></details>")
    plain = [r for r in rows if not r["benchmark"]]
    if plain:
        body = "".join(f"<tr><td>{escape(r['method'])}</td><td>{escape(r['sequence'])}</td>"
                       f"<td>{r.get('frames') or ''}</td><td>{escape(SPEED.format(r.get('fps')))}</td>"
                       f"<td>{escape(r.get('error') or r.get('status') or '')}</td></tr>" for r in plain)
        out.append("<details open><summary>Sequences without ground truth (not scored)</summary><table><tr>"
                   "<th>method</th><th>sequence</th><th>frames</th><th>frames/s</th><th>status</th></tr>"
                   f"{body}</table></details>")
    return "".join(out)


def _failures(records) -> str:
    items = [(r["method"], s["sequence"], s.get("error") or "failed")
             for r in records for s in r.get("sequences", []) if s.get("status") == "failed"]
    notes = [(r["method"], s["sequence"], s["error"])
             for r in records for s in r.get("sequences", []) if s.get("status") != "failed" and s.get("error")]
    if not items and not notes:
        return "<p>Every run finished.</p>"
    out = ""
    if items:
        out += "<ul>" + "".join(f"<li><b>{escape(m)}</b> on {escape(q)}: {escape(e)}</li>" for m, q, e in items) + \
            "</ul>"
    if notes:
        out += "<p>Finished but not scored:</p><ul>" + "".join(
            f"<li><b>{escape(m)}</b> on {escape(q)}: {escape(e)}</li>" for m, q, e in notes) + "</ul>"
    return out


def _kv(d: dict) -> str:
    return "<table>" + "".join(f"<tr><td>{escape(str(k))}</td><td style='text-align:left'>{escape(str(v))}</td></tr>"
                               for k, v in d.items()) + "</table>"


def _provenance(records) -> str:
    import yaml

    commands = list(dict.fromkeys(r.get("command", "") for r in records if r.get("command")))
    out = ["<h3>Command" + ("s" if len(commands) > 1 else "") + "</h3>"]
    out += [f"<pre>{escape(c)}</pre>" for c in commands]
    groups: dict[str, list[dict]] = {}
    for rec in records:
        groups.setdefault(repr((rec.get("versions"), rec.get("machine"))), []).append(rec)
    for recs in groups.values():
        who = "" if len(groups) == 1 else " of " + ", ".join(escape(r["method"]) for r in recs)
        out.append(f"<h3>Versions{who}</h3>{_kv(recs[0].get('versions') or {})}"
                   f"<h3>Machine{who}</h3>{_kv(recs[0].get('machine') or {})}")
    out.append("<h3>Pipelines</h3>")
    for rec in records:
        text = yaml.safe_dump(rec.get("pipeline") or {}, sort_keys=False)
        out.append(f"<details><summary>{escape(rec['method'])} ({escape(rec.get('kind', ''))} "
                   f"{escape(rec.get('source', ''))}, run {escape(rec.get('run_id', ''))} started "
                   f"{escape(rec.get('started', ''))}, {rec.get('seconds', 0):.1f} s)</summary>"
                   f"<pre>{escape(text)}</pre></details>")
    return "".join(out)


def render_html(records: list[dict], rows: list[dict], grid: list, baseline: str | None = None) -> str:
    """The report page (see the module docstring)."""
    methods = [r["method"] for r in records]
    seqs = list(dict.fromkeys(s["sequence"] for r in records for s in r.get("sequences", [])))
    inputs = records[0].get("inputs", []) if records else []
    tables = benchmark_tables(records, rows, baseline)
    from classicseg import __version__

    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>classicseg compare: {len(methods)} methods on {len(seqs)} sequences</title>",
             f"<style>{_CSS}</style></head><body>",
             f"<h1>{len(methods)} methods on {len(seqs)} sequences</h1>",
             f'<p class="meta">Input: {escape(" + ".join(inputs))}. Report built {time.strftime("%Y-%m-%d %H:%M")} '
             f"by classicseg {escape(__version__)} from the results in this folder.</p>",
             '<nav><a href="#scores">scores</a><a href="#charts">charts</a><a href="#per-frame">per frame</a>'
             '<a href="#qualitative">pictures</a><a href="#speed">speed</a><a href="#failures">failures</a>'
             '<a href="#details">all metrics</a><a href="#provenance">how it was made</a></nav>',
             _legend(methods)]
    parts.append('<h2 id="scores">Scores</h2>')
    if baseline:
        parts.append(f"<p>Differences in brackets are to <b>{escape(baseline)}</b>.</p>")
    if tables:
        parts.append('<p class="meta">Bold on green: the best of the column among the methods whose runs all '
                     "finished and were scored.</p>")
        parts += [_table(t) for t in tables]
    else:
        parts.append("<p>No sequence has ground truth: nothing is scored. Masks and speed are below.</p>")
    parts.append('<h2 id="charts">Charts</h2>' + (_charts(records, rows, methods) or "<p>Nothing scored.</p>"))
    parts.append('<h2 id="per-frame">Scores per frame</h2>' + _legend(methods)
                 + (_per_frame(records, methods) or "<p>Nothing scored per frame.</p>"))
    parts.append('<h2 id="qualitative">Where the methods disagree</h2>' + _grid(grid, methods))
    speed = speed_table(records, rows)
    speed.title = ""
    parts.append('<h2 id="speed">Speed</h2>' + _table(speed))
    parts.append('<h2 id="failures">Failures</h2>' + _failures(records))
    parts.append('<h2 id="details">All metrics</h2>' + _details(records, rows))
    parts.append('<h2 id="provenance">How it was made</h2>' + _provenance(records))
    notes = "".join(f"<li>{escape(b.title)}: {escape(b.rules)}</li>" for k, b in BENCHMARKS.items()
                    if any(r["benchmark"] == k for r in rows))
    if notes:
        parts.append(f"<h3>Scoring rules</h3><ul>{notes}</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)

