"""Real-data check of the ``vos`` preset on the eight DAVIS 2016 sequences in shared/data."""
import pytest

from classicseg.batch import run_batch

pytestmark = pytest.mark.realdata

SEQUENCES = ("blackswan", "car-shadow", "dog", "motocross-jump", "dance-twirl", "goat", "kite-surf", "soapbox")

# What the shipped preset scores (J&F, samples/eval_vos.py --seq all, recorded in the preset file)
# minus a margin: 0.02 on the mean, 0.03 per sequence, 0.06 on car-shadow, which swings by +-0.05
# under small changes (0.79-0.86 across the candidates of samples/loso_vos.yaml near the preset).
MEASURED = {"blackswan": 0.952, "car-shadow": 0.853, "dog": 0.819, "motocross-jump": 0.683,
            "dance-twirl": 0.734, "goat": 0.739, "kite-surf": 0.562, "soapbox": 0.763}
MARGIN = {"car-shadow": 0.06}


def test_vos_preset_on_davis2016(shared_data, tmp_path):
    root = shared_data / "davis2016"
    # the whole DAVIS root through `classicseg batch` (first-frame masks from the dataset layout)
    batch = run_batch(root, tmp_path, preset="vos", workers=0)
    assert not batch.failed, [o.error for o in batch.failed]
    res = batch.davis
    assert sorted(s.name for s in res.sequences) == sorted(SEQUENCES), res.table()
    for s in res.sequences:
        print(f"{s.name}: J={s.J_mean:.3f} F={s.F_mean:.3f} J&F={s.JF:.3f}")
    by_name = {s.name: s.JF for s in res.sequences}
    for seq, jf in MEASURED.items():
        assert by_name[seq] >= jf - MARGIN.get(seq, 0.03), res.table()
    assert res.JF >= sum(MEASURED.values()) / len(MEASURED) - 0.02, res.table()
    assert res.JF > 0.55  # clearly above the plain Farneback warp (0.550 on the first four)
