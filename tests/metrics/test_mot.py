"""MOT metrics: hand-computed cases, bad input, and agreement with TrackEval."""
import numpy as np
import pytest

from classicseg.errors import EvalError
from classicseg.metrics.mot import box_iou, evaluate, read_mot


def _write(path, rows):
    path.write_text("\n".join(",".join(str(v) for v in r) for r in rows) + "\n")
    return path


def test_box_iou_known_answer():
    a = np.array([[0, 0, 10, 10]])
    b = np.array([[5, 0, 10, 10], [20, 20, 5, 5], [0, 0, 10, 10]])
    assert box_iou(a, b).tolist() == [[pytest.approx(50 / 150), 0.0, 1.0]]


def test_perfect_tracks(tmp_path):
    rows = [(f, i, 10 * i, 0, 8, 8, 1, -1, -1, -1) for f in range(1, 6) for i in (1, 2)]
    r = evaluate(_write(tmp_path / "g.txt", rows), _write(tmp_path / "p.txt", rows))
    assert (r.mota, r.idf1, r.id_switches, r.gt) == (1.0, 1.0, 0, 10)


def test_hand_computed_switch_miss_and_false_positive(tmp_path):
    # one object over 4 frames; the tracker follows it as id 7, then id 8 (a switch),
    # misses frame 4 and adds a far-away false positive in frame 1
    gt = [(f, 1, 0, 0, 10, 10, 1, -1, -1, -1) for f in range(1, 5)]
    pr = [(1, 7, 0, 0, 10, 10, 1), (2, 7, 1, 0, 10, 10, 1), (3, 8, 0, 1, 10, 10, 1), (1, 9, 50, 50, 10, 10, 1)]
    r = evaluate(_write(tmp_path / "g.txt", gt), _write(tmp_path / "p.txt", pr))
    assert (r.matches, r.misses, r.false_positives, r.id_switches) == (3, 1, 1, 1)
    assert r.mota == pytest.approx(1 - (1 + 1 + 1) / 4)
    # IDF1: gt 1 <-> hyp 7 share 2 frames; 2*2 / (4 + 4)
    assert r.idtp == 2 and r.idf1 == pytest.approx(0.5)


def test_low_overlap_is_not_a_match(tmp_path):
    gt = [(1, 1, 0, 0, 10, 10, 1)]
    pr = [(1, 1, 6, 0, 10, 10, 1)]  # IoU 40/160 = 0.25
    r = evaluate(_write(tmp_path / "g.txt", gt), _write(tmp_path / "p.txt", pr))
    assert (r.matches, r.misses, r.false_positives) == (0, 1, 1)


def test_ground_truth_flag_zero_is_ignored(tmp_path):
    gt = [(1, 1, 0, 0, 10, 10, 1), (1, 2, 50, 0, 10, 10, 0)]
    r = evaluate(_write(tmp_path / "g.txt", gt), _write(tmp_path / "p.txt", [(1, 1, 0, 0, 10, 10, 1)]))
    assert r.gt == 1 and r.mota == 1.0


def test_malformed_lines_are_named(tmp_path):
    p = tmp_path / "t.txt"
    p.write_text("1,1,0,0,10,10,1\n2,1,zero,0,10,10\n")
    with pytest.raises(EvalError, match=r"t.txt line 2: malformed MOT row"):
        read_mot(p)
    p.write_text("0,1,0,0,10,10,1\n")
    with pytest.raises(EvalError, match="1-based"):
        read_mot(p)
    p.write_text("1,1,0,0,10,10\n1,1,5,5,10,10\n")
    with pytest.raises(EvalError, match="frame 1 has the same id twice"):
        read_mot(p)
    with pytest.raises(EvalError, match="tracks file not found"):
        read_mot(tmp_path / "none.txt")


def _random_case(rng):
    gt, pr, seen = [], [], set()
    for f in range(1, 30):
        for o in range(rng.integers(0, 5)):
            x, y = 20 * o + f, 10 * o
            gt.append((f, o + 1, x, y, 30, 40, 1, -1, -1, -1))
            if rng.random() < 0.8:
                tid = o + 1 if rng.random() < 0.85 else int(rng.integers(1, 8))
                if (f, tid) not in seen:
                    seen.add((f, tid))
                    pr.append((f, tid, x + rng.normal(0, 6), y + rng.normal(0, 6), 30 + rng.normal(0, 4), 40, 1))
    return gt, pr


def test_agrees_with_trackeval(tmp_path):
    """TrackEval (installed without its dependencies: it requires a second OpenCV wheel)."""
    clear = pytest.importorskip("trackeval.metrics.clear")
    identity = pytest.importorskip("trackeval.metrics.identity")
    rng = np.random.default_rng(0)
    for _ in range(40):
        gt, pr = _random_case(rng)
        g, p = _write(tmp_path / "g.txt", gt), _write(tmp_path / "p.txt", pr)
        ours = evaluate(g, p)
        gt_t, pr_t = read_mot(g, ignore_zero_flag=True), read_mot(p)
        gids = sorted({int(i) for ids, _ in gt_t.frames.values() for i in ids})
        pids = sorted({int(i) for ids, _ in pr_t.frames.values() for i in ids})
        empty = (np.zeros(0, int), np.zeros((0, 4)))
        frames = range(1, max(list(gt_t.frames) + list(pr_t.frames)) + 1)
        data = {"num_timesteps": len(frames), "num_gt_ids": len(gids), "num_tracker_ids": len(pids),
                "num_gt_dets": len(gt), "num_tracker_dets": len(pr), "gt_ids": [], "tracker_ids": [],
                "similarity_scores": []}
        for f in frames:
            gi, gb = gt_t.frames.get(f, empty)
            pi, pb = pr_t.frames.get(f, empty)
            data["gt_ids"].append(np.array([gids.index(int(i)) for i in gi], int))
            data["tracker_ids"].append(np.array([pids.index(int(i)) for i in pi], int))
            data["similarity_scores"].append(box_iou(gb, pb))
        c = clear.CLEAR({"PRINT_CONFIG": False}).eval_sequence(data)
        i = identity.Identity({"PRINT_CONFIG": False}).eval_sequence(data)
        assert ours.mota == pytest.approx(c["MOTA"], abs=1e-12)
        assert ours.id_switches == c["IDSW"]
        assert ours.idf1 == pytest.approx(i["IDF1"], abs=1e-12)
