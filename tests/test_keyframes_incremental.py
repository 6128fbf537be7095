"""Keyframed: only the spans a change touches are recomputed; keyframes of every kind."""
import json

import cv2
import numpy as np
import pytest
from PIL import Image

from classicseg.errors import ClassicsegError, SourceError
from classicseg.io.formats import export
from classicseg.keyframes import FrameResult, Keyframed, find_keyframe_files, resolve_keyframes, run_keyframes
from classicseg.pipeline import Pipeline
from tests.stages.test_vos import _clip, _iou


def _frames(frames):
    return [(f"{i:05d}", f) for i, f in enumerate(frames)]


class Recorder:
    """A runner that records the spans it is asked for and copies the keyframe's mask."""

    def __init__(self):
        self.calls = []

    def __call__(self, order, init):
        self.calls.append(list(order))
        return {j: FrameResult(init.copy(), None, 0.1 * abs(j - order[0])) for j in order}


def test_only_the_span_between_the_neighbours_is_recomputed():
    frames, masks = _clip(n=20)
    rec = Recorder()
    kf = Keyframed(None, _frames(frames), runner=rec)
    kf.set(0, masks[0])
    kf.set(19, masks[19])
    assert kf.propagate() == list(range(1, 19))
    assert rec.calls == [list(range(0, 19)), list(range(19, 0, -1))]
    rec.calls.clear()
    kf.set(10, masks[10])
    assert kf.stale() == list(range(1, 10)) + list(range(11, 19))
    assert kf.propagate() == list(range(1, 10)) + list(range(11, 19))
    assert rec.calls == [list(range(10, 19)), list(range(10, 0, -1))]  # only keyframe 10's two runs
    rec.calls.clear()
    assert kf.propagate() == [] and rec.calls == []  # nothing changed
    kf.set(10, masks[11])  # a new mask on keyframe 10: its runs again
    kf.propagate()
    assert rec.calls == [list(range(10, 19)), list(range(10, 0, -1))]
    rec.calls.clear()
    kf.remove(10)  # its neighbours' runs grow back over the freed span
    kf.propagate()
    assert rec.calls == [list(range(0, 19)), list(range(19, 0, -1))]
    assert kf.result(5).uncertainty == pytest.approx(0.5)
    with pytest.raises(ClassicsegError, match="past the end of the input"):
        kf.set(20, masks[0])


def test_incremental_equals_from_scratch():
    frames, masks = _clip(n=12)
    pipe = Pipeline.load(preset="vos")
    kf = Keyframed(pipe, _frames(frames))
    kf.set(0, masks[0])
    kf.propagate()
    kf.set(7, masks[7])
    kf.propagate()
    scratch = run_keyframes(pipe, _frames(frames), {0: masks[0], 7: masks[7]})
    for s, t in zip(kf.samples(), scratch):
        assert np.array_equal(s["ids"], t["ids"])
    assert min(_iou(s["fg"], m) for s, m in zip(scratch, masks)) > 0.85


def _write_mask(path, m):
    cv2.imwrite(str(path), m.astype(np.uint8) * 255)


def test_keyframe_folder_of_every_kind(tmp_path):
    frames, masks = _clip(n=10)
    fr = _frames(frames)
    _write_mask(tmp_path / "00000.png", masks[0])
    ys, xs = np.nonzero(masks[4])
    (tmp_path / "00004.json").write_text(json.dumps([{"box": [int(xs.min()) - 3, int(ys.min()) - 3,
                                                              int(np.ptp(xs)) + 7, int(np.ptp(ys)) + 7]}]))
    s = np.zeros(masks[8].shape, np.uint8)
    ys, xs = np.nonzero(masks[8])
    s[int(ys.mean()) - 2:int(ys.mean()) + 3, int(xs.mean()) - 4:int(xs.mean()) + 5] = 1
    s[2:5, 5:90] = 2
    s[66:69, 5:90] = 2
    Image.fromarray(s, "L").save(tmp_path / "00008.scribbles.png")
    found = find_keyframe_files(tmp_path, seeds=True)
    assert {k: sorted(v) for k, v in found.items()} == {0: ["mask"], 4: ["seeds"], 8: ["scribbles"]}
    assert list(find_keyframe_files(tmp_path)) == [0]  # the mask files alone
    keys = resolve_keyframes(tmp_path, fr)
    assert sorted(keys) == [0, 4, 8]
    assert _iou(keys[4] > 0, masks[4]) > 0.85 and _iou(keys[8] > 0, masks[8]) > 0.6
    # scribbles beside a mask of the same frame correct it
    wrong = masks[0].copy()
    wrong[5:15, 80:90] = True
    _write_mask(tmp_path / "00000.png", wrong)
    s0 = np.zeros_like(s)
    s0[8:12, 82:88] = 2
    s0[int(np.nonzero(masks[0])[0].mean()), int(np.nonzero(masks[0])[1].mean())] = 1
    Image.fromarray(s0, "L").save(tmp_path / "00000.scribbles.png")
    fixed = resolve_keyframes(tmp_path, fr)[0] > 0
    assert not fixed[5:15, 80:90].any() and _iou(fixed, masks[0]) > 0.9
    # bad input: a keyframe for a frame that does not exist, scribbles of another size
    Image.fromarray(s0, "L").save(tmp_path / "00042.scribbles.png")
    with pytest.raises(SourceError, match="00042.scribbles.png: no frame numbered 42 in the input"):
        resolve_keyframes(tmp_path, fr)
    (tmp_path / "00042.scribbles.png").unlink()
    Image.fromarray(s0[:10, :10], "L").save(tmp_path / "00003.scribbles.png")
    with pytest.raises(ClassicsegError, match="00003.scribbles.png is 10x10 but the frames are 96x72"):
        resolve_keyframes(tmp_path, fr)


def test_annotation_files_as_keyframes(tmp_path):
    pytest.importorskip("pycocotools")
    frames, masks = _clip(n=6)
    fr = _frames(frames)
    items = [(n, m.astype(np.uint8)) for (n, _), m in zip(fr, masks)]
    for fmt, name in (("coco", "a.json"), ("cvat", "a.xml")):
        keys = resolve_keyframes(export(fmt, [items[0], items[1]], tmp_path / name), fr[:2])
        assert np.array_equal(keys[0], items[0][1]) and np.array_equal(keys[1], items[1][1]), fmt
    keys = resolve_keyframes(export("mot", items[:2], tmp_path / "b.txt"), fr)
    assert sorted(keys) == [0, 1] and _iou(keys[1] > 0, masks[1]) > 0.7  # boxes -> GrabCut
