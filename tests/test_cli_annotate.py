"""The CLI of issue 14: run --init-box / --init-scribbles, suggest, export, and their bad input."""
import json

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from classicseg.cli import cli, main
from classicseg.io.masks import read_indexed_mask
from tests.stages.test_vos import _clip, _iou


@pytest.fixture
def clip_dir(tmp_path):
    frames, masks = _clip(n=8)
    d = tmp_path / "frames"
    d.mkdir()
    for i, f in enumerate(frames):
        cv2.imwrite(str(d / f"{i:05d}.jpg"), f, [cv2.IMWRITE_JPEG_QUALITY, 98])
    return d, masks


def _box(mask, pad=3):
    ys, xs = np.nonzero(mask)
    return f"{xs.min() - pad},{ys.min() - pad},{np.ptp(xs) + 2 * pad + 1},{np.ptp(ys) + 2 * pad + 1}"


def test_run_from_a_box_and_from_scribbles(clip_dir, tmp_path):
    d, masks = clip_dir
    r = CliRunner().invoke(cli, ["run", "-p", "vos", "-i", str(d), "-o", str(tmp_path / "box"),
                                 "--init-box", _box(masks[0]), "--threads", "1", "--no-progress"])
    assert r.exit_code == 0, r.output
    for j in range(8):
        assert _iou(read_indexed_mask(tmp_path / "box" / f"{j:05d}.png") > 0, masks[j]) > 0.8
    s = np.zeros(masks[0].shape, np.uint8)
    ys, xs = np.nonzero(masks[0])
    s[int(ys.mean()) - 2:int(ys.mean()) + 3, int(xs.mean()) - 4:int(xs.mean()) + 5] = 1
    s[3:6, 5:90] = 2
    s[64:67, 5:90] = 2
    Image.fromarray(s, "L").save(tmp_path / "s.png")
    r = CliRunner().invoke(cli, ["run", "-p", "vos", "-i", str(d), "-o", str(tmp_path / "scr"),
                                 "--init-scribbles", str(tmp_path / "s.png"), "--threads", "1", "--no-progress"])
    assert r.exit_code == 0, r.output
    assert _iou(read_indexed_mask(tmp_path / "scr" / "00004.png") > 0, masks[4]) > 0.6


def test_run_bad_seeds(clip_dir, tmp_path, capsys):
    d, masks = clip_dir
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.png").write_bytes(b"mine")
    assert main(["run", "-p", "vos", "-i", str(d), "-o", str(out), "--init-box", "200,5,10,10"]) == 2
    assert "box 200,5,10,10 lies outside the 96x72 frame" in capsys.readouterr().err
    assert main(["run", "-p", "vos", "-i", str(d), "-o", str(out), "--init-box", "5,5,0,10"]) == 2
    assert "box '5,5,0,10' has zero size" in capsys.readouterr().err
    Image.fromarray(np.ones((10, 10), np.uint8), "L").save(tmp_path / "small.png")
    assert main(["run", "-p", "vos", "-i", str(d), "-o", str(out), "--init-scribbles", str(tmp_path / "small.png")]) == 2
    assert "small.png: scribbles are 10x10 but the frames are 96x72" in capsys.readouterr().err
    assert main(["run", "-p", "surveillance", "-i", str(d), "--init-box", "5,5,10,10"]) == 2
    assert "--init-box/--init-scribbles: no stage of pipeline 'surveillance' takes an initial mask" in \
        capsys.readouterr().err
    assert (out / "keep.png").read_bytes() == b"mine"  # nothing already written lost


def test_suggest_and_export(clip_dir, tmp_path, capsys):
    d, masks = clip_dir
    pred = tmp_path / "pred"
    pred.mkdir()
    for j, m in enumerate(masks):
        cv2.imwrite(str(pred / f"{j:05d}.png"), m.astype(np.uint8) * 255)
    r = CliRunner().invoke(cli, ["suggest", "-i", str(d), "--masks", str(pred), "--budget", "2", "--json"])
    assert r.exit_code == 0, r.output
    picks = json.loads(r.output)
    assert len(picks) == 2 and all(isinstance(k, int) and 1 <= k < 8 for k in picks) and len(set(picks)) == 2
    r = CliRunner().invoke(cli, ["suggest", "-i", str(d), "--masks", str(pred), "--budget", "1"])
    assert r.exit_code == 0 and r.output.startswith("1. frame ")
    assert main(["suggest", "-i", str(d), "--masks", str(pred), "--budget", "9"]) == 2
    assert "budget 9 is larger than the video: 8 frames" in capsys.readouterr().err
    # several videos: frames across the whole set
    root, proot = tmp_path / "root", tmp_path / "proot"
    for name in ("a", "b"):
        (root / name).mkdir(parents=True)
        (proot / name).mkdir(parents=True)
        for p in d.iterdir():
            (root / name / p.name).write_bytes(p.read_bytes())
        for p in pred.iterdir():
            (proot / name / p.name).write_bytes(p.read_bytes())
    r = CliRunner().invoke(cli, ["suggest", "-i", str(root), "--masks", str(proot), "--budget", "3", "--json"])
    assert r.exit_code == 0, r.output
    got = json.loads(r.output)
    assert len(got) == 3 and {g["video"] for g in got} <= {"a", "b"} and all("frame" in g for g in got)
    for fmt, target in (("coco", "a.json"), ("cvat", "a.xml"), ("mot", "a.txt"), ("davis", "dv")):
        r = CliRunner().invoke(cli, ["export", "--format", fmt, "--masks", str(pred), "--output",
                                     str(tmp_path / target), "--images", str(d)])
        assert r.exit_code == 0, r.output
        assert (tmp_path / target).exists()
    assert json.loads((tmp_path / "a.json").read_text())["images"][0]["file_name"] == "00000.jpg"
    # and back as keyframes
    r = CliRunner().invoke(cli, ["run", "-p", "vos", "-i", str(d), "-o", str(tmp_path / "again"),
                                 "--keyframes", str(tmp_path / "a.xml"), "--no-progress"])
    assert r.exit_code == 0, r.output
    assert _iou(read_indexed_mask(tmp_path / "again" / "00003.png") > 0, masks[3]) > 0.95


def test_annotate_command_serves_on_localhost(clip_dir, tmp_path):
    import os
    import subprocess
    import sys
    import urllib.request

    d, _ = clip_dir
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "classicseg", "annotate", str(d), "-o", str(tmp_path / "o"),
                             "--port", "0", "--no-browser", "--threads", "1"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert line.startswith("annotate: 8 frames; open http://127.0.0.1:"), line
        url = line.split("open ")[1].split()[0]
        with urllib.request.urlopen(url + "api/state", timeout=30) as r:
            assert json.loads(r.read())["frames"] == 8
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert main(["annotate", str(tmp_path / "nope"), "-o", str(tmp_path / "o")]) == 2
