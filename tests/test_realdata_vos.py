"""Real-data check of the ``vos`` preset on the four DAVIS 2016 sequences in shared/data."""
import pytest

from classicseg.batch import run_batch

pytestmark = pytest.mark.realdata

SEQUENCES = ("blackswan", "car-shadow", "dog", "motocross-jump")


def test_vos_preset_on_davis2016(shared_data, tmp_path):
    root = shared_data / "davis2016"
    # the whole DAVIS root through `classicseg batch` (first-frame masks from the dataset layout);
    # these four sequences are the ones the preset was tuned on
    batch = run_batch(root, tmp_path, preset="vos", workers=0)
    assert not batch.failed, [o.error for o in batch.failed]
    res = batch.davis
    res.sequences = [s for s in res.sequences if s.name in SEQUENCES]
    res = type(res).from_sequences(res.sequences)
    for s in res.sequences:
        print(f"{s.name}: J={s.J_mean:.3f} F={s.F_mean:.3f} J&F={s.JF:.3f}")
    # Measured 0.803 (J 0.836, F 0.771): blackswan 0.914, car-shadow 0.841, dog 0.776,
    # motocross-jump 0.683, with the recent colour model and the colour-and-texture classifier
    # learned from confidently labelled pixels and the rigid shape template (0.792 without the
    # template, 0.736 without the appearance models either; 0.714 before issue 4).
    # These guard against regressions: what the preset reaches minus 0.02 overall, minus 0.03 on
    # dog and motocross-jump; car-shadow swings by +-0.06 under small changes (0.81-0.85 across
    # neighbouring template weights, 0.73-0.81 without the template), so its guard is looser.
    assert res.JF >= 0.783, res.table()
    by_name = {s.name: s.JF for s in res.sequences}
    assert by_name["dog"] >= 0.745, res.table()
    assert by_name["motocross-jump"] >= 0.655, res.table()
    assert by_name["car-shadow"] >= 0.78, res.table()
    assert res.JF > 0.55  # clearly above the plain Farneback warp (0.550)
