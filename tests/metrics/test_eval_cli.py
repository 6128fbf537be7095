"""`classicseg eval` for flow, mIoU and temporal consistency, and the speed lines from run.json."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from classicseg.cli import cli, main
from classicseg.metrics.davis import davis_palette
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
