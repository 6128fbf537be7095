"""The report's views on tiny hand-made records: pooled rows, best marks, names, LaTeX, SVG."""
import pytest

from classicseg.report.results import build_rows
from classicseg.report.svg import _ticks, bar_chart, line_chart
from classicseg.report.tables import benchmark_tables, latex_table, short_names, speed_table, tex_escape


def _seq(name, cat, counts, status="done", fps_frames=(10, 0.5)):
    from classicseg.metrics.cdnet import metrics_from_counts

    ok = status != "failed"
    return {"sequence": f"{cat}/{name}", "name": name, "category": cat, "benchmark": "cdnet", "status": status,
            "error": None if ok else "broken", "frames": fps_frames[0] if ok else None, "seconds": 1.0,
            "stage_seconds": fps_frames[1] if ok else None, "fps": fps_frames[0] / fps_frames[1] if ok else None,
            "scores": metrics_from_counts(counts) if ok else None, "per_frame": None,
            "pool": {"counts": list(counts), "category": cat} if ok else None}


def _records():
    a = {"method": "a", "run_id": "r1", "sequences": [
        _seq("x", "c1", (8, 2, 2, 88)), _seq("y", "c1", (5, 5, 5, 85)), _seq("z", "c2", (9, 1, 1, 89))]}
    b = {"method": "b_1", "run_id": "r1", "sequences": [
        _seq("x", "c1", (10, 0, 0, 90), fps_frames=(10, 0.1)), _seq("y", "c1", (0, 0, 0, 0), status="failed"),
        _seq("z", "c2", (1, 1, 9, 89), fps_frames=(10, 0.1))]}
    return [a, b]


def test_pooled_rows_and_best_marks():
    recs = _records()
    rows = build_rows(recs)
    f = {(r["method"], r["sequence"]): r["f_measure"] for r in rows}
    assert f[("a", "c1")] == pytest.approx((0.8 + 0.5) / 2)
    assert f[("a", "overall")] == pytest.approx(((0.8 + 0.5) / 2 + 0.9) / 2)
    over_b = next(r for r in rows if r["method"] == "b_1" and r["level"] == "overall")
    assert over_b["complete"] == "2/3"
    overall, per_seq = benchmark_tables(recs, rows)
    cells = dict(overall.rows)
    fcol = overall.header.index("F")
    # b_1 is better on what it ran, but partial: never the best of a column
    assert cells["a"][fcol].best and not cells["b_1"][fcol].best and "partial" in cells["b_1"][fcol].note
    assert per_seq.header == ["x", "y", "z", "overall", "mean of videos"]
    assert dict(per_seq.rows)["b_1"][1].text == "failed" and dict(per_seq.rows)["b_1"][1].note == "broken"
    assert dict(per_seq.rows)["b_1"][0].best  # complete on its own sequence: may be the best there
    base = benchmark_tables(recs, rows, baseline="a")[0]
    assert dict(base.rows)["a"][fcol].delta == ""
    assert dict(base.rows)["b_1"][fcol].delta.startswith(("+", "-"))


def test_speed_ratios_within_a_run():
    recs = _records()
    t = speed_table(recs, build_rows(recs))
    rows = dict(t.rows)
    assert rows["b_1"][3].text == "1 (fastest)" and rows["a"][3].value == pytest.approx(
        (20 / 0.2) / (30 / 1.5))
    recs[1]["run_id"] = "r2"
    t = speed_table(recs, build_rows(recs))
    assert all(c[3].text == "1 (fastest)" for _, c in t.rows) and "different compare commands" in t.notes[-1]


def test_names_latex_and_svg():
    assert short_names(["cd/baseline/highway", "cd/jitter/traffic", "ucsd/traffic"]) == [
        "highway", "jitter/traffic", "ucsd/traffic"]
    assert tex_escape("b_1 & 50% {x}") == r"b\_1 \& 50\% \{x\}"
    recs = _records()
    tex = latex_table(recs, build_rows(recs))
    assert r"b\_1 &" in tex and r"\textbf{" in tex and "$^*$" in tex
    assert _ticks(0, 7, 8, integer=True) == [0, 1, 2, 3, 4, 5, 6, 7]
    assert _ticks(0, 1) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    svg = bar_chart(["c1", "overall"], [("a", [0.5, None]), ("b", [-0.2, 0.9])], "F", "t")
    assert svg.startswith("<svg") and svg.count("<rect") == 1 + 3  # background + three bars
    line = line_chart([("a", [1, 2, 3, 4], [0.1, None, 0.3, 0.4])], "F", "t")
    assert line.count("<polyline") == 1 and line.count("<circle") == 1  # a gap splits the line
