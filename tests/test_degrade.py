import numpy as np

from classicseg.degrade import weak_model_masks


def test_weak_model_masks_degrade_reproducibly_and_keep_ids():
    ids = np.zeros((60, 80), np.uint8)
    ids[10:40, 10:35] = 1
    ids[20:50, 45:70] = 3
    seq = [ids] * 30
    a = weak_model_masks(seq, seed=5)
    b = weak_model_masks(seq, seed=5)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not all(np.array_equal(x, y) for x, y in zip(a, weak_model_masks(seq, seed=6)))
    assert a[0].dtype == np.uint8 and set(np.unique(a[0])) == {0, 1, 3}  # the first frame is never dropped
    dropped = [i for i, x in enumerate(a) if not x.any()]
    assert 0 < len(dropped) < 10
    iou = [((x > 0) & (ids > 0)).sum() / ((x > 0) | (ids > 0)).sum() for x in a if x.any()]
    assert 0.4 < np.mean(iou) < 0.95  # off, but still about the objects
    clean = weak_model_masks(seq, seed=5, max_shift=0, noise=0, drop=0, flicker=0)
    assert all(np.array_equal(x, ids) for x in clean)
    assert weak_model_masks([ids > 0], seed=1)[0].dtype == bool
