"""Small hand-written SVG charts for the report: grouped bars and per-frame lines.

Plain SVG text (no JavaScript, no fonts to fetch), so the report is one self-contained
file and its charts render in any browser and print sharply. Colours come from the
Tableau 10 palette (distinguishable in print and by most colour-blind readers); from the
eleventh series on, lines are also dashed.
"""
from __future__ import annotations

import math
from html import escape

__all__ = ["PALETTE", "colour", "dash", "bar_chart", "line_chart"]

PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
           "#bab0ac")
_DASHES = ("", "6 3", "2 2", "8 3 2 3")
_FONT = 'font-family="sans-serif" font-size="11"'


def colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def dash(i: int) -> str:
    return _DASHES[(i // len(PALETTE)) % len(_DASHES)]


def _f(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def _ticks(lo: float, hi: float, n: int = 5, integer: bool = False) -> list[float]:
    span = hi - lo
    if span <= 0:
        return [lo]
    raw = span / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw and not (integer and m * mag % 1))
    first = math.ceil(lo / step) * step
    out, v = [], first
    while v <= hi + 1e-9:
        out.append(round(v, 10))
        v += step
    return out


def _axes(w, h, left, top, pw, ph, lo, hi, ylabel, title) -> list[str]:
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" '
             f'role="img" {_FONT}>', f"<title>{escape(title)}</title>",
             f'<rect x="0" y="0" width="{w}" height="{h}" fill="white"/>']
    for t in _ticks(lo, hi):
        y = top + ph - (t - lo) / (hi - lo) * ph
        parts.append(f'<line x1="{left}" y1="{_f(y)}" x2="{left + pw}" y2="{_f(y)}" stroke="#ddd"/>')
        parts.append(f'<text x="{left - 4}" y="{_f(y + 4)}" text-anchor="end">{t:g}</text>')
    parts.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + ph}" stroke="#444"/>')
    if lo < 0 < hi:
        y0 = top + ph - (0 - lo) / (hi - lo) * ph
        parts.append(f'<line x1="{left}" y1="{_f(y0)}" x2="{left + pw}" y2="{_f(y0)}" stroke="#444"/>')
    else:
        parts.append(f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" stroke="#444"/>')
    parts.append(f'<text x="12" y="{top + ph / 2}" transform="rotate(-90 12 {top + ph / 2})" '
                 f'text-anchor="middle">{escape(ylabel)}</text>')
    parts.append(f'<text x="{left}" y="13" font-weight="bold">{escape(title)}</text>')
    return parts


def _range(values, lo=0.0, hi=1.0) -> tuple[float, float]:
    vals = [v for v in values if v is not None and math.isfinite(v)]
    if vals:
        lo, hi = min(lo, min(vals)), max(hi, max(vals))
    return lo, hi


def bar_chart(groups: list[str], series: list[tuple[str, list]], ylabel: str, title: str) -> str:
    """Grouped bars: for each group, one bar per series (``(name, values)``, None = no bar)."""
    n = max(1, len(series))
    bar = max(4, min(18, 160 // n))
    gw = n * bar + 14
    left, top, bottom = 44, 22, 64
    pw = max(240, gw * len(groups))
    ph = 180
    w, h = left + pw + 10, top + ph + bottom
    lo, hi = _range([v for _, vals in series for v in vals])
    parts = _axes(w, h, left, top, pw, ph, lo, hi, ylabel, title)
    zero = top + ph - (0 - lo) / (hi - lo) * ph
    gw = pw / max(1, len(groups))
    for g, name in enumerate(groups):
        x0 = left + g * gw + (gw - n * bar) / 2
        for i, (label, vals) in enumerate(series):
            v = vals[g] if g < len(vals) else None
            if v is None or not math.isfinite(v):
                continue
            y = top + ph - (v - lo) / (hi - lo) * ph
            parts.append(f'<rect x="{_f(x0 + i * bar)}" y="{_f(min(y, zero))}" width="{bar - 1}" '
                         f'height="{_f(max(abs(zero - y), 0.5))}" fill="{colour(i)}">'
                         f"<title>{escape(label)}, {escape(name)}: {v:.3f}</title></rect>")
        cx = left + g * gw + gw / 2
        parts.append(f'<text x="{_f(cx)}" y="{top + ph + 14}" text-anchor="end" '
                     f'transform="rotate(-30 {_f(cx)} {top + ph + 14})">{escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _downsample(xs: list, ys: list, n: int) -> tuple[list, list]:
    """At most ``n`` points: the mean of each bin (None values are gaps and kept as such)."""
    if len(xs) <= n:
        return xs, ys
    step = len(xs) / n
    ox, oy = [], []
    for b in range(n):
        i0, i1 = int(b * step), int((b + 1) * step)
        seg = [y for y in ys[i0:i1] if y is not None]
        ox.append(xs[(i0 + i1 - 1) // 2])
        oy.append(sum(seg) / len(seg) if seg else None)
    return ox, oy


def line_chart(series: list[tuple[str, list, list]], ylabel: str, title: str, max_points: int = 300) -> str:
    """One line per series (``(name, frames, values)``, None = a gap), frame number on x."""
    left, top, bottom = 44, 22, 30
    pw, ph = 500, 140
    w, h = left + pw + 10, top + ph + bottom
    xs_all = [x for _, xs, _ in series for x in xs]
    if not xs_all:
        return ""
    x_lo, x_hi = min(xs_all), max(xs_all)
    if x_hi == x_lo:
        x_hi = x_lo + 1
    lo, hi = _range([v for _, _, ys in series for v in ys])
    parts = _axes(w, h, left, top, pw, ph, lo, hi, ylabel, title)
    for t in _ticks(x_lo, x_hi, 8, integer=True):
        x = left + (t - x_lo) / (x_hi - x_lo) * pw
        parts.append(f'<text x="{_f(x)}" y="{top + ph + 14}" text-anchor="middle">{t:g}</text>')
    parts.append(f'<text x="{left + pw / 2}" y="{h - 2}" text-anchor="middle">frame</text>')
    for i, (label, xs, ys) in enumerate(series):
        xs, ys = _downsample(list(xs), list(ys), max_points)
        runs, cur = [], []
        for x, y in zip(xs, ys):
            if y is None or not math.isfinite(y):
                if cur:
                    runs.append(cur)
                cur = []
                continue
            cur.append(f"{_f(left + (x - x_lo) / (x_hi - x_lo) * pw)},{_f(top + ph - (y - lo) / (hi - lo) * ph)}")
        if cur:
            runs.append(cur)
        d = f' stroke-dasharray="{dash(i)}"' if dash(i) else ""
        parts.append(f'<g stroke="{colour(i)}" fill="none" stroke-width="1.3"{d}><title>{escape(label)}</title>')
        for r in runs:
            if len(r) == 1:
                x, y = r[0].split(",")
                parts.append(f'<circle cx="{x}" cy="{y}" r="1.5" fill="{colour(i)}"/>')
            else:
                parts.append(f'<polyline points="{" ".join(r)}"/>')
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)
