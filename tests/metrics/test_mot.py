"""MOT metrics: hand-computed cases, bad input, and agreement with TrackEval."""
import numpy as np
import pytest

from classicseg.errors import EvalError
from classicseg.metrics.mot import box_iou, evaluate, read_mot, restrict, scored_range


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


def test_hota_known_answers(tmp_path):
    # perfect: every part is 1
    rows = [(f, i, 10 * i, 0, 8, 8, 1) for f in range(1, 4) for i in (1, 2)]
    r = evaluate(_write(tmp_path / "g.txt", rows), _write(tmp_path / "p.txt", rows))
    assert (r.hota, r.deta, r.assa, r.loca) == (1.0, 1.0, 1.0, 1.0)
    # one object, found exactly in 4 frames, as id 7 then id 8: DetA 1; each id pair's
    # track Jaccard is 2 / (4 + 2 - 2) = 0.5, so AssA 0.5 and HOTA sqrt(0.5)
    gt = [(f, 1, 0, 0, 10, 10, 1) for f in range(1, 5)]
    pr = [(f, 7 if f < 3 else 8, 0, 0, 10, 10, 1) for f in range(1, 5)]
    r = evaluate(_write(tmp_path / "g.txt", gt), _write(tmp_path / "p.txt", pr))
    assert r.deta == pytest.approx(1.0) and r.assa == pytest.approx(0.5) and r.hota == pytest.approx(0.5 ** 0.5)
    assert r.mota == pytest.approx(0.75) and r.loca == pytest.approx(1.0)
    # one box at IoU 0.5: a match at the 10 thresholds 0.05..0.50, none at the 9 above;
    # LocA is 0.5 where matched and 1 (TrackEval's value with no match) elsewhere
    r = evaluate(_write(tmp_path / "g.txt", [(1, 1, 0, 0, 10, 10, 1)]),
                 _write(tmp_path / "p.txt", [(1, 1, 0, 0, 10, 5, 1)]))
    assert r.deta == pytest.approx(10 / 19) and r.assa == pytest.approx(10 / 19)
    assert r.hota == pytest.approx(10 / 19) and r.loca == pytest.approx((10 * 0.5 + 9) / 19)
    # no tracks at all
    r = evaluate(_write(tmp_path / "g.txt", gt), _write(tmp_path / "p.txt", []))
    assert (r.hota, r.deta, r.assa, r.loca) == (0.0, 0.0, 0.0, 1.0)


def test_per_frame_rows_add_up(tmp_path):
    gt = [(f, 1, 0, 0, 10, 10, 1, -1, -1, -1) for f in range(1, 5)]
    pr = [(1, 7, 0, 0, 10, 10, 1), (2, 7, 1, 0, 10, 10, 1), (3, 8, 0, 1, 10, 10, 1), (1, 9, 50, 50, 10, 10, 1)]
    r = evaluate(_write(tmp_path / "g.txt", gt), _write(tmp_path / "p.txt", pr))
    rows = r.frame_rows()
    assert [(x["frame"], x["matches"], x["misses"], x["false_positives"], x["id_switches"]) for x in rows] == [
        (1, 1, 0, 1, 0), (2, 1, 0, 0, 0), (3, 1, 0, 0, 1), (4, 0, 1, 0, 0)]
    assert sum(x["gt"] for x in rows) == r.gt and sum(x["predictions"] for x in rows) == r.predictions
    assert "per_frame" not in r.to_dict()


def test_only_the_frames_that_were_run_are_scored(tmp_path):
    # 10 frames of ground truth; a perfect tracker run over the first 4 only
    gt = [(f, 1, 0, 0, 10, 10, 1) for f in range(1, 11)]
    g, p = _write(tmp_path / "g.txt", gt), _write(tmp_path / "p.txt", gt[:4])
    gt_t, pr_t = read_mot(g, ignore_zero_flag=True), read_mot(p)
    assert evaluate(g, p).mota == pytest.approx(0.4)             # all 10 frames: 6 misses
    rng, why = scored_range(gt_t, pr_t)
    assert rng == (1, 4) and "last frame with a track" in why
    r = evaluate(g, p, frames=rng)
    assert (r.mota, r.gt, r.frames, r.first_frame, r.last_frame) == (1.0, 4, 4, 1, 4)
    # run.json's frame count wins over the last track (frames 5..6 ran, nothing was tracked)
    assert scored_range(gt_t, pr_t, run_frames=6)[0] == (1, 6)
    assert evaluate(g, p, frames=(1, 6)).mota == pytest.approx(4 / 6)
    # the user's --frames wins over both; open ends are the data's
    assert scored_range(gt_t, pr_t, run_frames=6, frames=(3, None)) == ((3, 10), "--frames")
    # a run that covered every ground-truth frame needs no range
    assert scored_range(gt_t, read_mot(_write(tmp_path / "all.txt", gt))) == (None, "")
    assert scored_range(gt_t, read_mot(_write(tmp_path / "none.txt", []))) == (None, "")
    assert len(restrict(gt_t, 2, 3).frames) == 2 and restrict(gt_t, 2, 3).n_rows == 2


def _trackeval_data(gt_t, pr_t):
    """TrackEval's per-sequence input built from the same rows our metric reads."""
    gids = sorted({int(i) for ids, _ in gt_t.frames.values() for i in ids})
    pids = sorted({int(i) for ids, _ in pr_t.frames.values() for i in ids})
    empty = (np.zeros(0, int), np.zeros((0, 4)))
    frames = range(1, max(list(gt_t.frames) + list(pr_t.frames) + [1]) + 1)
    data = {"num_timesteps": len(frames), "num_gt_ids": len(gids), "num_tracker_ids": len(pids),
            "num_gt_dets": gt_t.n_rows, "num_tracker_dets": pr_t.n_rows, "gt_ids": [], "tracker_ids": [],
            "similarity_scores": []}
    for f in frames:
        gi, gb = gt_t.frames.get(f, empty)
        pi, pb = pr_t.frames.get(f, empty)
        data["gt_ids"].append(np.array([gids.index(int(i)) for i in gi], int))
        data["tracker_ids"].append(np.array([pids.index(int(i)) for i in pi], int))
        data["similarity_scores"].append(box_iou(gb, pb))
    return data


_HOTA_FIELDS = (("hota", "HOTA"), ("deta", "DetA"), ("assa", "AssA"), ("loca", "LocA"), ("detre", "DetRe"),
                ("detpr", "DetPr"), ("assre", "AssRe"), ("asspr", "AssPr"))


def _check_against_trackeval(ours, data, label):
    clear = pytest.importorskip("trackeval.metrics.clear")
    identity = pytest.importorskip("trackeval.metrics.identity")
    hota = pytest.importorskip("trackeval.metrics.hota")
    h = hota.HOTA({"PRINT_CONFIG": False}).eval_sequence(data)
    for mine, theirs in _HOTA_FIELDS:
        assert getattr(ours, mine) == pytest.approx(float(np.mean(h[theirs])), abs=1e-12), (label, mine)
    if data["num_gt_dets"] == 0:
        return
    c = clear.CLEAR({"PRINT_CONFIG": False}).eval_sequence(data)
    i = identity.Identity({"PRINT_CONFIG": False}).eval_sequence(data)
    assert ours.mota == pytest.approx(c["MOTA"], abs=1e-12), label
    assert ours.id_switches == c["IDSW"], label
    assert ours.idf1 == pytest.approx(i["IDF1"], abs=1e-12), label


def test_agrees_with_trackeval(tmp_path):
    """TrackEval (installed without its dependencies: it requires a second OpenCV wheel)."""
    pytest.importorskip("trackeval.metrics.hota")
    rng = np.random.default_rng(0)
    for case in range(42):
        gt, pr = _random_case(rng)
        if case == 40:
            pr = []          # no tracks
        if case == 41:
            gt = []          # no ground truth
        g, p = _write(tmp_path / "g.txt", gt), _write(tmp_path / "p.txt", pr)
        ours = evaluate(g, p)
        _check_against_trackeval(ours, _trackeval_data(read_mot(g, ignore_zero_flag=True), read_mot(p)), case)
        # a part of the sequence: the same as TrackEval on those frames' rows
        part = evaluate(g, p, frames=(5, 20))
        _check_against_trackeval(part, _trackeval_data(restrict(read_mot(g, ignore_zero_flag=True), 5, 20),
                                                       restrict(read_mot(p), 5, 20)), f"{case} frames 5..20")


@pytest.mark.realdata
def test_agrees_with_trackeval_on_mot15(shared_data, tmp_path):
    """A naive tracker's output on TUD-Campus (MOG2 blobs + Hungarian), scored by both."""
    pytest.importorskip("trackeval.metrics.hota")
    from classicseg.cli import main

    seq = shared_data / "mot15" / "TUD-Campus"
    cfg = tmp_path / "naive.yaml"
    cfg.write_text("pipeline:\n  - stage: bgsub.mog2\n  - stage: morph.open\n    radius: 2\n"
                   "  - stage: morph.close\n    radius: 2\n  - stage: blobs.components\n    min_area: 300\n"
                   "  - stage: track.hungarian\n")
    out = tmp_path / "out"
    assert main(["run", "-c", str(cfg), "-i", str(seq / "TUD-Campus.mp4"), "-o", str(out), "--threads", "1",
                 "--no-progress"]) == 0
    gt_t, pr_t = read_mot(seq / "gt" / "gt.txt", ignore_zero_flag=True), read_mot(out / "tracks.txt")
    assert pr_t.n_rows > 50
    _check_against_trackeval(evaluate(gt_t, pr_t), _trackeval_data(gt_t, pr_t), "TUD-Campus")
