"""`classicseg eval` for flow, mIoU and temporal consistency, and the speed lines from run.json."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from classicseg.cli import cli, main
from classicseg.io.masks import davis_palette
from tests.metrics.test_flow import kitti_root, middlebury_root
from tests.test_cli import _cdnet_seq


def test_flow_compute_and_pictures(tmp_path):
    middlebury_root(tmp_path / "data" / "mb")
    kitti_root(tmp_path / "data" / "kitti")
    viz = tmp_path / "viz"
    r = CliRunner().invoke(cli, ["eval", "-m", "flow", "--gt", str(tmp_path / "data"), "--method", "dis",
                                 "--viz", str(viz), "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    rows = {row["pair"]: row for row in out["rows"]}
    assert set(rows) == {"Tex", "000007_10", "mean"} and out["source"] == "dis (scale 1)"
    assert rows["Tex"]["epe"] < 0.5 and rows["000007_10"]["epe"] < 0.5 and rows["Tex"]["seconds"] > 0
    for name in ("Tex", "000007_10"):
        for kind in ("flow", "gt", "epe"):
            img = cv2.imread(str(viz / f"{name}_{kind}.png"))
            assert img is not None and img.shape == (64, 80, 3), (name, kind)
    gt_pic = cv2.imread(str(viz / "000007_10_gt.png"))
    assert not gt_pic[0, 0].any()                      # unknown ground truth is black
    r = CliRunner().invoke(cli, ["eval", "-m", "flow", "--gt", str(tmp_path / "data"), "--method", "zero"])
    assert r.exit_code == 0, r.output
    assert "flow: zero (scale 1)" in r.output and "mean" in r.output and "pairs/s" in r.output
    assert "2.2361" in r.output                        # |(2, 1)|: the zero-flow EPE of the Middlebury pair


def test_flow_scores_files_and_reports_bad_ones(tmp_path, capsys):
    from classicseg.metrics.flow import write_flo

    middlebury_root(tmp_path / "gt")
    pred = tmp_path / "pred"
    pred.mkdir()
    write_flo(pred / "Tex.flo", np.full((64, 80, 2), (2.0, 1.0), np.float32))
    assert main(["eval", "-m", "flow", "--gt", str(tmp_path / "gt"), "--pred", str(pred)]) == 0
    text = capsys.readouterr().out
    assert f"flow: {pred}" in text and "0.0000" in text
    (pred / "Tex.flo").write_bytes(b"JUNK" + bytes(8))
    assert main(["eval", "-m", "flow", "--gt", str(tmp_path / "gt"), "--pred", str(pred)]) == 5
    err = capsys.readouterr().err.strip()
    assert err.startswith("classicseg: error: ") and "Tex.flo: not a .flo file" in err and "\n" not in err


@pytest.mark.parametrize("args, message", [
    (["-m", "consistency", "--pred", "x"], "--metric consistency needs --images"),
    (["-m", "flow"], "--metric flow needs --gt"),
    (["-m", "miou", "--gt", "x"], "--metric miou needs --pred"),
    (["-m", "flow", "--gt", "x", "--pred", "y", "--method", "dis"], "not both"),
    (["-m", "davis", "--gt", "x", "--pred", "y", "--viz", "z"], "--viz is for --metric flow"),
])
def test_usage_errors(args, message):
    r = CliRunner().invoke(cli, ["eval", *args])
    assert r.exit_code == 2 and message in r.output


def _p(path, ids):
    path.parent.mkdir(parents=True, exist_ok=True)
    im = Image.fromarray(ids.astype(np.uint8), mode="P")
    im.putpalette(davis_palette().reshape(-1).tolist())
    im.save(path)


def test_miou_and_consistency(tmp_path, moving_square):
    frames, masks = moving_square(n=14, start=4)
    for d in ("gt/seq", "pred/seq", "img/seq"):
        (tmp_path / d).mkdir(parents=True)
    for t, (f, m) in enumerate(zip(frames, masks)):
        gt = m.astype(np.uint8)
        gt[:2] = 255                                   # a void band
        _p(tmp_path / "gt" / "seq" / f"{t:05d}.png", gt)
        _p(tmp_path / "pred" / "seq" / f"{t:05d}.png", m.astype(np.uint8))
        cv2.imwrite(str(tmp_path / "img" / "seq" / f"{t:05d}.png"), f)
    (tmp_path / "pred" / "seq" / ".done.json").write_text(json.dumps({"frames": 14, "fps": 123.4}))  # batch's
    r = CliRunner().invoke(cli, ["eval", "-m", "miou", "--pred", str(tmp_path / "pred"), "--gt",
                                 str(tmp_path / "gt"), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["speed"] == [{"run": "seq", "frames": 14, "frames/s": 123.4}]
    row = json.loads(r.output)["rows"][0]
    assert row["sequence"] == "seq" and row["mIoU"] == 1.0 and row["IoU[1]"] == 1.0 and row["frames"] == 14
    r = CliRunner().invoke(cli, ["eval", "-m", "consistency", "--pred", str(tmp_path / "pred" / "seq"),
                                 "--images", str(tmp_path / "img"), "--method", "zero", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    row = out["rows"][0]
    assert row["pairs"] == 13 and row["flow"] == "zero" and 0.5 < row["TC_mean"] < 1
    pairs = out["per_pair"]["seq"]
    assert pairs["0"] == 1.0                           # no object yet in frames 0 and 1
    assert pairs["3"] == 0.0 and row["TC_min"] == 0.0 and row["worst_frame"] == 3   # it appears in frame 4
    assert pairs["5"] == pytest.approx(6 / 10)         # an 8-px square moved 2 px, zero flow
    r = CliRunner().invoke(cli, ["eval", "-m", "consistency", "--pred", str(tmp_path / "pred"),
                                 "--images", str(tmp_path / "img")])
    assert r.exit_code == 0, r.output
    assert "TC_mean" in r.output and "dis" in r.output


def test_run_writes_speed_and_eval_prints_it(tmp_path, capsys):
    seq = _cdnet_seq(tmp_path / "seq", n=24)
    out = tmp_path / "out"
    assert main(["run", "-p", "surveillance", "-i", str(seq), "-o", str(out), "--threads", "1",
                 "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "latency per frame: mean" in text and "p95" in text
    run = json.loads((out / "run.json").read_text())
    lat = run["latency_ms"]
    assert run["frames"] == 24 and run["fps"] > 0
    assert 0 < lat["p50"] <= lat["p95"] <= lat["max"] and lat["mean"] <= lat["max"]
    assert lat["mean"] * 24 / 1000 <= run["seconds"]
    share = run["stage_share"]
    assert "(read)" in share and "(write)" in share and 0.5 < sum(share.values()) <= 1.0 + 1e-6
    assert not list(out.glob(".*part"))                # written atomically
    assert main(["eval", "-m", "cdnet", "--pred", str(out), "--gt", str(seq)]) == 0
    text = capsys.readouterr().out
    assert "speed (from run.json" in text and "frames/s" in text and "latency p95 ms" in text
    assert main(["eval", "-m", "cdnet", "--pred", str(out), "--gt", str(seq), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["speed"][0]["frames"] == 24 and res["speed"][0]["latency mean ms"] == lat["mean"]


# -- scoring what was run, per-frame CSV, HOTA -----------------------------------------
def _mot_rows(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(",".join(str(v) for v in r) + "\n" for r in rows))
    return path


def test_mot_scores_the_frames_that_were_run_and_prints_hota(tmp_path, capsys):
    gt = _mot_rows(tmp_path / "seq" / "gt" / "gt.txt", [(f, 1, 0, 0, 10, 10, 1, -1, -1, -1) for f in range(1, 11)])
    tracks = _mot_rows(tmp_path / "run" / "tracks.txt", [(f, 4, 0, 0, 10, 10, 1) for f in range(1, 5)])
    # no run.json: up to the last frame with a track, said in one line on stderr
    assert main(["eval", "-m", "mot", "--pred", str(tracks), "--gt", str(tmp_path / "seq"), "--json"]) == 0
    out, err = capsys.readouterr()
    row = json.loads(out)["rows"][0]
    assert (row["mota"], row["hota"], row["frames"], row["first_frame"], row["last_frame"]) == (1.0, 1.0, 4, 1, 4)
    assert err.count("\n") == 1 and "scored frames 1..4 only (up to the last frame with a track)" in err
    assert "not the ground truth's 1..10; --frames A:B to choose" in err
    # run.json says 6 frames were run: frames 5 and 6 count as misses
    (tmp_path / "run" / "run.json").write_text(json.dumps({"frames": 6, "fps": 10.0}))
    assert main(["eval", "-m", "mot", "--pred", str(tracks), "--gt", str(tmp_path / "seq"), "--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["rows"][0]["mota"] == pytest.approx(4 / 6) and "from its run.json" in err
    # --frames chooses, silently; the table shows HOTA beside MOTA and IDF1
    assert main(["eval", "-m", "mot", "--pred", str(tracks), "--gt", str(tmp_path / "seq"), "--frames", "1:10",
                 "--per-frame", str(tmp_path / "pf" / "mot.csv")]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    header, values = out.splitlines()[:2]
    assert header.split()[:8] == ["sequence", "frames", "hota", "mota", "idf1", "deta", "assa", "loca"]
    # DetA 4/10; the one id pair's track Jaccard 4/(10 + 4 - 4) = AssA 0.4; HOTA sqrt(0.4 * 0.4)
    assert values.split()[:8] == ["run", "10", "0.4000", "0.4000", "0.5714", "0.4000", "0.4000", "1.0000"]
    lines = (tmp_path / "pf" / "mot.csv").read_text().splitlines()
    assert lines[0] == "sequence,frame,gt,predictions,matches,misses,false_positives,id_switches"
    assert lines[1] == "run,1,1,1,1,0,0,0" and lines[10] == "run,10,1,0,0,1,0,0" and len(lines) == 11


def test_cdnet_per_frame_csv_and_partial_roots(tmp_path, capsys):
    import csv

    from classicseg.metrics.cdnet import evaluate_sequence

    for name in ("a", "b", "c"):
        _cdnet_seq(tmp_path / "gt" / "cat" / name, n=14)
    for name in ("a", "c"):                               # b was not run
        seq = tmp_path / "gt" / "cat" / name
        (tmp_path / "pred" / "cat" / name).mkdir(parents=True)
        for p in (seq / "groundtruth").glob("gt*.png"):
            cv2.imwrite(str(tmp_path / "pred" / "cat" / name / p.name.replace("gt", "bin")), cv2.imread(str(p), 0))
    csv_path = tmp_path / "frames.csv"
    assert main(["eval", "-m", "cdnet", "--pred", str(tmp_path / "pred"), "--gt", str(tmp_path / "gt"),
                 "--per-frame", str(csv_path)]) == 0
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and "1 without were skipped (cat/b); --sequences A,B to choose" in err
    assert "per-frame scores: " in out and "(8 rows)" in out       # temporal ROI 11..14, two videos
    rows = list(csv.DictReader(csv_path.open()))
    assert list(rows[0]) == ["sequence", "frame", "tp", "fp", "fn", "tn", "f_measure"]
    assert [r["sequence"] for r in rows] == ["cat/a"] * 4 + ["cat/c"] * 4
    ref = evaluate_sequence(tmp_path / "pred" / "cat" / "a", tmp_path / "gt" / "cat" / "a")
    assert sum(int(r["tp"]) for r in rows[:4]) == ref.counts[0] and int(rows[0]["fp"]) == 0
    assert float(rows[0]["f_measure"]) == 1.0 and int(rows[0]["tp"]) == 64 and int(rows[0]["tn"]) == 48 * 64 - 64
    assert main(["eval", "-m", "cdnet", "--pred", str(tmp_path / "pred"), "--gt", str(tmp_path / "gt"),
                 "--sequences", "c", "--json"]) == 0
    out, err = capsys.readouterr()
    assert err == "" and [r["name"] for r in json.loads(out)["rows"]] == ["c", "cat", "overall"]
    assert main(["eval", "-m", "cdnet", "--pred", str(tmp_path / "pred"), "--gt", str(tmp_path / "gt"),
                 "--sequences", "b"]) == 5
    assert "no prediction folder for sequence cat/b" in capsys.readouterr().err


def test_davis_partial_root_sequences_and_per_frame(tmp_path, capsys):
    import csv

    one, two = np.zeros((12, 16), np.uint8), np.zeros((12, 16), np.uint8)
    one[2:8, 2:8] = 1
    two[2:8, 2:8], two[8:11, 10:15] = 1, 2
    for seq, ids in (("cow", one), ("dogs", two), ("goat", one)):
        for n in range(4):
            _p(tmp_path / "ann" / seq / f"{n:05d}.png", ids)
    for seq, ids in (("cow", one), ("dogs", two)):                  # goat was not run
        for n in range(4):
            pred = ids.copy()
            if n == 2 and seq == "dogs":
                pred[pred == 2] = 0                                  # object 2 lost in frame 2
            _p(tmp_path / "pred" / seq / f"{n:05d}.png", pred)
    csv_path = tmp_path / "davis.csv"
    assert main(["eval", "-m", "davis", "--pred", str(tmp_path / "pred"), "--gt", str(tmp_path / "ann"),
                 "--per-frame", str(csv_path), "--json"]) == 0
    out, err = capsys.readouterr()
    assert "1 without were skipped (goat)" in err and err.count("\n") == 1
    res = json.loads(out)
    assert [r["sequence"] for r in res["rows"]] == ["cow", "dogs", "global"] and res["per_frame"]["rows"] == 4
    rows = list(csv.DictReader(csv_path.open()))
    assert list(rows[0]) == ["sequence", "frame", "J", "F", "J_1", "F_1", "J_2", "F_2"]
    assert [(r["sequence"], r["frame"]) for r in rows] == [("cow", "1"), ("cow", "2"), ("dogs", "1"), ("dogs", "2")]
    assert rows[0]["J_2"] == "" and float(rows[0]["J_1"]) == 1.0          # cow has one object
    assert float(rows[3]["J_2"]) == 0.0 and float(rows[3]["F_2"]) == 0.0 and float(rows[3]["J"]) == 0.5
    assert main(["eval", "-m", "davis", "--pred", str(tmp_path / "pred"), "--gt", str(tmp_path / "ann"),
                 "--sequences", "dogs,cow", "--json"]) == 0
    out, err = capsys.readouterr()
    assert err == "" and [r["sequence"] for r in json.loads(out)["rows"]] == ["dogs", "cow", "global"]
    assert main(["eval", "-m", "davis", "--pred", str(tmp_path / "pred"), "--gt", str(tmp_path / "ann"),
                 "--sequences", "dog"]) == 5
    err = capsys.readouterr().err
    assert "no sequence 'dog' in the ground truth (did you mean 'dogs'?)" in err and err.count("\n") == 1


@pytest.mark.parametrize("args, message", [
    (["-m", "cdnet", "--gt", "x", "--pred", "y", "--frames", "1:5"], "--frames is for --metric mot"),
    (["-m", "mot", "--gt", "x", "--pred", "y", "--sequences", "a"], "--sequences is for --metric cdnet and davis"),
    (["-m", "miou", "--gt", "x", "--pred", "y", "--per-frame", "f.csv"], "--per-frame is for --metric cdnet, davis"),
    (["-m", "mot", "--gt", "x", "--pred", "y", "--frames", "0:5"], "expected A:B with 1 <= A <= B"),
    (["-m", "mot", "--gt", "x", "--pred", "y", "--frames", "7"], "got '7'"),
    (["-m", "mot", "--gt", "x", "--pred", "y", "--frames", "a:b"], "got 'a:b'"),
])
def test_scoring_option_errors(args, message):
    r = CliRunner().invoke(cli, ["eval", *args])
    assert r.exit_code == 2 and message in r.output
