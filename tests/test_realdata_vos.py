"""Real-data check of the ``vos`` preset on the four DAVIS 2016 sequences in shared/data."""
import pytest

from classicseg.io.sinks import MaskSink
from classicseg.io.sources import open_source
from classicseg.metrics.davis import evaluate_dataset
from classicseg.pipeline import Pipeline

pytestmark = pytest.mark.realdata

SEQUENCES = ("blackswan", "car-shadow", "dog", "motocross-jump")


def test_vos_preset_on_davis2016(shared_data, tmp_path):
    root = shared_data / "davis2016"
    for seq in SEQUENCES:
        init = root / "Annotations" / "480p" / seq / "00000.png"
        pipe = Pipeline.load(preset="vos", sets=[f"vos.propagate.init_mask={init}"])
        src = open_source(str(root / "JPEGImages" / "480p" / seq))
        pipe.run(src, [MaskSink(tmp_path / seq, src)])
    res = evaluate_dataset(tmp_path, root / "Annotations" / "480p")
    for s in res.sequences:
        print(f"{s.name}: J={s.J_mean:.3f} F={s.F_mean:.3f} J&F={s.JF:.3f}")
    # Measured 0.736 (J 0.768, F 0.703): blackswan 0.919, car-shadow 0.695, dog 0.790,
    # motocross-jump 0.539 (before issue 4: 0.714; dog 0.667, motocross-jump 0.449). The
    # issue's target of 0.80 is NOT reached. These guard against regressions: what the preset
    # reaches minus 0.02 overall, minus 0.03 on the two fast-motion sequences it was changed for.
    assert res.JF >= 0.715, res.table()
    by_name = {s.name: s.JF for s in res.sequences}
    assert by_name["dog"] >= 0.76, res.table()
    assert by_name["motocross-jump"] >= 0.51, res.table()
    assert res.JF > 0.55  # clearly above the plain Farneback warp (0.550)
