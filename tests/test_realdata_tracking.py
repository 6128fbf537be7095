"""The tracking preset finds the people's size by itself: MOT15 TUD-Campus and TUD-Stadtmitte at full
size and shrunk to 0.5 and 0.35 (people 43-155 px), one parameter set, scored as TrackEval does.

The shrunk clips and their ground truth are made in memory by ``samples/eval_tracking.py``.
"""
import runpy
from pathlib import Path

import pytest

EVAL = Path(__file__).resolve().parents[1] / "samples" / "eval_tracking.py"

# measured (MOTA, IDF1) with the shipped preset; each run may fall 0.03 below
MEASURED = {
    ("TUD-Campus", 1.0): (0.599, 0.618), ("TUD-Campus", 0.5): (0.621, 0.638), ("TUD-Campus", 0.35): (0.529, 0.465),
    ("TUD-Stadtmitte", 1.0): (0.774, 0.775), ("TUD-Stadtmitte", 0.5): (0.752, 0.732),
    ("TUD-Stadtmitte", 0.35): (0.734, 0.748),
}


@pytest.mark.realdata
def test_tracking_preset_at_three_sizes(shared_data):
    """The issue's target: mean MOTA and mean IDF1 >= 0.65 over the six runs (measured 0.668 / 0.663)."""
    data = shared_data / "mot15"
    if not (data / "TUD-Campus").is_dir() or not (data / "TUD-Stadtmitte").is_dir():
        pytest.skip("MOT15 TUD sequences not in shared/data")
    rows = runpy.run_path(str(EVAL))["evaluate_runs"](data)
    assert len(rows) == 6
    for r in rows:
        mota, idf1 = MEASURED[(r["sequence"], r["scale"])]
        print(r["sequence"], r["scale"], round(r["mota"], 3), round(r["idf1"], 3), r["id_switches"])
        assert r["mota"] >= mota - 0.03 and r["idf1"] >= idf1 - 0.03, r
    assert sum(r["mota"] for r in rows) / 6 >= 0.65
    assert sum(r["idf1"] for r in rows) / 6 >= 0.65
