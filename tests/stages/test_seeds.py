"""Masks from interactive seeds (stages/vos/seeds.py) and their files (io/seeds.py)."""
import cv2
import numpy as np
import pytest
from PIL import Image

from classicseg.errors import ClassicsegError, SourceError
from classicseg.io.seeds import BACKGROUND, Seeds, keyframe_kind, parse_box, read_scribbles, read_seed_json
from classicseg.stages.vos.seeds import clicks_to_scribbles, seed_ids, seed_mask
from tests.stages.test_vos import _clip, _iou


def _two_disks():
    img, _ = _clip(n=1)
    img = img[0].copy()
    m2 = np.zeros(img.shape[:2], np.uint8)
    cv2.circle(m2, (70, 20), 8, 1, -1)
    img[m2 > 0] = (220, 200, 30)  # a second, cyan object
    return img, _clip(n=1)[1][0], m2 > 0


def test_box_gives_the_object():
    frames, masks = _clip(n=1)
    img, gt = frames[0], masks[0]
    ys, xs = np.nonzero(gt)
    box = (int(xs.min()) - 3, int(ys.min()) - 3, int(np.ptp(xs)) + 7, int(np.ptp(ys)) + 7)
    m = seed_mask(img, box=box)
    assert m.dtype == bool and _iou(m, gt) > 0.9
    assert not m[:, : box[0]].any()  # nothing outside the box
    assert np.array_equal(seed_mask(img, box=box, method="random_walker"), m)  # a box alone: GrabCut
    ys, xs = int(ys.mean()), int(xs.mean())
    fg = np.zeros_like(gt)
    fg[ys - 2:ys + 3, xs - 2:xs + 3] = True
    assert _iou(seed_mask(img, box=box, fg=fg, method="random_walker"), gt) > 0.8


def _disk_with_a_line(noise=16.0, seed=0):
    """A blue disk with a 2-px line to the top right, the line's colour halfway to the green
    background, in noise: the line's contrast is too low for GrabCut's smoothness term."""
    rng = np.random.default_rng(seed)
    img = np.empty((80, 100, 3), np.float64)
    img[:] = (60, 140, 60)
    disk = np.zeros((80, 100), np.uint8)
    cv2.circle(disk, (35, 55), 12, 1, -1)
    line = np.zeros((80, 100), np.uint8)
    cv2.line(line, (35, 55), (80, 10), 1, 2)
    line = (line > 0) & (disk == 0)
    img[disk > 0] = (40, 40, 200)
    img[line] = 0.4 * np.array((40, 40, 200)) + 0.6 * np.array((60, 140, 60))
    img = np.clip(img + rng.normal(0, noise, img.shape), 0, 255).astype(np.uint8)
    gt = (disk > 0) | line
    ys, xs = np.nonzero(gt)
    return img, gt, line, (int(xs.min()), int(ys.min()), int(np.ptp(xs)) + 1, int(np.ptp(ys)) + 1)


def test_tight_box_recovers_a_thin_part():
    img, gt, line, box = _disk_with_a_line()
    x, y, w, h = box
    loose = seed_mask(img, box=box, box_tight=False)
    assert (loose & line).sum() < 0.1 * line.sum()  # plain GrabCut cuts the line away
    assert not loose[y:y + 20, x:x + w].any()  # and leaves the box's top rows empty
    tight = seed_mask(img, box=box)  # tight is the default
    assert (tight & line).sum() > 0.8 * line.sum()
    assert _iou(tight, gt) > 0.9 > _iou(loose, gt)
    assert tight[y:y + h, x:x + w].any(axis=1).all() and tight[y:y + h, x:x + w].any(axis=0).all()
    assert not tight[:, x + w:].any() and not tight[:y].any()  # nothing outside the box
    assert np.array_equal(seed_ids(img, Seeds(boxes=[(1, box)])) > 0, tight)
    assert np.array_equal(seed_ids(img, Seeds(boxes=[(1, box)]), box_tight=False) > 0, loose)


def test_tight_box_changes_nothing_when_the_cut_fills_it():
    frames, masks = _clip(n=1)
    ys, xs = np.nonzero(masks[0])
    box = (int(xs.min()), int(ys.min()), int(np.ptp(xs)) + 1, int(np.ptp(ys)) + 1)
    assert np.array_equal(seed_mask(frames[0], box=box), seed_mask(frames[0], box=box, box_tight=False))


def test_known_answer_two_halves_by_scribbles():
    img = np.zeros((20, 30, 3), np.uint8)
    img[:, 15:] = 200
    fg = np.zeros((20, 30), bool)
    bg = np.zeros((20, 30), bool)
    fg[10, 20:28] = True
    bg[10, 2:10] = True
    expected = np.zeros((20, 30), bool)
    expected[:, 15:] = True
    for method in ("grabcut", "random_walker"):
        assert np.array_equal(seed_mask(img, fg=fg, bg=bg, method=method), expected), method


def test_correction_changes_only_near_the_strokes():
    frames, masks = _clip(n=1)
    img, gt = frames[0], masks[0]
    base = gt.copy()
    base[5:15, 80:90] = True  # a wrong blob far from the object
    bg = np.zeros_like(gt)
    bg[8:12, 82:88] = True  # one background stroke on it
    out = seed_mask(img, fg=None, bg=bg, base=base, reach=0.1)
    assert not out[5:15, 80:90].any()
    assert np.array_equal(out & gt, gt)  # the object, far from the stroke, is kept


def test_several_objects_with_ids():
    img, m1, m2 = _two_disks()
    s = np.zeros(m1.shape, np.uint8)
    s[m1 & (cv2.erode(m1.view(np.uint8), np.ones((7, 7))) > 0)] = 1
    s[cv2.erode(m2.view(np.uint8), np.ones((7, 7))) > 0] = 2
    s[60:65, 5:90] = BACKGROUND
    ids = seed_ids(img, Seeds(scribbles=s))
    assert set(np.unique(ids)) == {0, 1, 2}
    assert _iou(ids == 1, m1) > 0.8 and _iou(ids == 2, m2) > 0.8
    boxes = seed_ids(img, Seeds(boxes=[(1, (8, 22, 26, 28)), (2, (59, 9, 23, 23))]))
    assert _iou(boxes == 1, m1) > 0.8 and _iou(boxes == 2, m2) > 0.8


def test_clicks():
    frames, masks = _clip(n=1)
    img, gt = frames[0], masks[0]
    ys, xs = np.nonzero(gt)
    s = clicks_to_scribbles([(1, int(xs.mean()), int(ys.mean()), True), (1, 80, 60, False)], gt.shape, radius=2)
    assert s[int(ys.mean()), int(xs.mean())] == 1 and s[60, 80] == BACKGROUND
    ids = seed_ids(img, Seeds(clicks=[(1, int(xs.mean()), int(ys.mean()), True), (1, 80, 60, False),
                                      (1, 5, 5, False)]))
    assert _iou(ids > 0, gt) > 0.7


def test_bad_seeds():
    img = np.zeros((40, 50, 3), np.uint8)
    with pytest.raises(ClassicsegError, match="box 60,5,10,10 lies outside the 50x40 frame"):
        seed_ids(img, Seeds(boxes=[(1, (60, 5, 10, 10))]))
    with pytest.raises(ClassicsegError, match="box 5,5,0,10 has zero size"):
        seed_ids(img, Seeds(boxes=[(1, (5, 5, 0, 10))]))
    with pytest.raises(ClassicsegError, match="scribbles are 10x10 but the frames are 50x40"):
        seed_ids(img, Seeds(scribbles=np.ones((10, 10), np.uint8)))
    with pytest.raises(ClassicsegError, match="click at 70,5 lies outside"):
        seed_ids(img, Seeds(clicks=[(1, 70, 5, True)]))
    with pytest.raises(ClassicsegError, match="no object .give a box, a foreground stroke or a positive click"):
        seed_ids(img, Seeds(clicks=[(1, 7, 5, False)]))
    with pytest.raises(ClassicsegError, match="zero size"):
        parse_box("1,2,0,4")
    with pytest.raises(ClassicsegError, match="expected X,Y,W,H"):
        parse_box("1,2,3")
    # a box partly outside is clipped
    assert Seeds(boxes=[(1, (-5, -5, 20, 20))]).check((40, 50)).boxes == [(1, (0, 0, 15, 15))]


def test_scribble_files(tmp_path):
    a = np.zeros((30, 40), np.uint8)
    a[5:8, 5:20] = 1
    a[20:22, 5:30] = 2
    Image.fromarray(a, "L").save(tmp_path / "s.png")
    s = read_scribbles(tmp_path / "s.png", (30, 40))
    assert set(np.unique(s)) == {0, 1, BACKGROUND}  # the one-object convention: 2 is background
    # an indexed PNG with 255 = background and object ids 1..3
    b = a.copy()
    b[b == 2] = 255
    b[10:12, 30:35] = 3
    im = Image.fromarray(b, "P")
    im.putpalette(list(range(256)) * 3)
    im.save(tmp_path / "ids.png")
    assert set(np.unique(read_scribbles(tmp_path / "ids.png"))) == {0, 1, 3, 255}
    with pytest.raises(ClassicsegError, match=r"s.png is 40x30 but the frames are 20x10"):
        read_scribbles(tmp_path / "s.png", (10, 20))
    a[0, 0] = 7
    Image.fromarray(a, "L").save(tmp_path / "bad.png")
    with pytest.raises(ClassicsegError, match=r"unknown labels \[7\]"):
        read_scribbles(tmp_path / "bad.png")
    Image.fromarray(np.where(a == 2, 2, 0).astype(np.uint8), "L").save(tmp_path / "nofg.png")
    with pytest.raises(ClassicsegError, match="no foreground stroke"):
        read_scribbles(tmp_path / "nofg.png")
    with pytest.raises(SourceError, match="scribble image not found"):
        read_scribbles(tmp_path / "none.png")


def test_seed_json(tmp_path):
    p = tmp_path / "00003.json"
    p.write_text('[{"box": [1, 2, 10, 12], "id": 2}, {"click": [4, 5]}, {"click": [9, 9], "positive": false}]')
    s = read_seed_json(p)
    assert s.boxes == [(2, (1, 2, 10, 12))] and s.clicks == [(1, 4, 5, True), (1, 9, 9, False)]
    assert s.ids == [1, 2]
    p.write_text('[{"box": [1, 2, 10]}]')
    with pytest.raises(ClassicsegError, match=r"item 0: box must be \[x, y, w, h\]"):
        read_seed_json(p)
    p.write_text("{oops")
    with pytest.raises(SourceError, match="not valid JSON"):
        read_seed_json(p)
    from pathlib import Path

    assert keyframe_kind(Path("00042.scribbles.png")) == ("scribbles", "00042")
    assert keyframe_kind(Path("00042.png")) == ("mask", "00042")
    assert keyframe_kind(Path("00042.json")) == ("seeds", "00042")
    assert keyframe_kind(Path("notes.txt")) is None
