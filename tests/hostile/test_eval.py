"""Hostile files given to ``classicseg eval``: MOT text that is not text or not numbers,
ground truth and predictions whose headers claim huge sizes, 16-bit ground truth."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from tests.hostile.util import EXIT, check_error, check_ok, png_bytes, png_header_only

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="rlimits: Linux")

GT = "1,1,10,10,20,40,1,1,1\n2,1,12,10,20,40,1,1,1\n"


def _mot(cli, tmp_path, tracks: bytes, *needles):
    (tmp_path / "gt.txt").write_text(GT)
    (tmp_path / "tracks.txt").write_bytes(tracks)
    return check_error(cli(["eval", "-m", "mot", "--pred", tmp_path / "tracks.txt", "--gt", tmp_path / "gt.txt"]),
                       EXIT["eval"], *needles)


def test_mot_invalid_utf8(cli, tmp_path):
    _mot(cli, tmp_path, b"1,1,10,10,20,40,1,-1,-1,-1\n\xff\xfe,\x80\x81\n", "not UTF-8")


def test_mot_binary_file(cli, tmp_path):
    _mot(cli, tmp_path, bytes(range(256)) * 64, "tracks.txt")


@pytest.mark.parametrize("row,needle", [
    ("1,1,nan,10,20,40,1,-1,-1,-1", "finite"),
    ("1,1,10,10,inf,40,1,-1,-1,-1", "finite"),
    ("1e400,1,10,10,20,40,1,-1,-1,-1", "malformed"),
    ("1,1e400,10,10,20,40,1,-1,-1,-1", "malformed"),
    ("99999999999999999999,1,10,10,20,40,1,-1,-1,-1", "frame numbers"),
    ("1,1,10,10,-20,40,1,-1,-1,-1", "negative box size"),
    ("0,1,10,10,20,40,1,-1,-1,-1", "1-based"),
    ("1,1,10", "malformed"),
])
def test_mot_bad_numbers(cli, tmp_path, row, needle):
    _mot(cli, tmp_path, (row + "\n").encode(), needle)


def test_mot_missing_tracks(cli, tmp_path):
    (tmp_path / "gt.txt").write_text(GT)
    check_error(cli(["eval", "-m", "mot", "--pred", tmp_path / "none.txt", "--gt", tmp_path / "gt.txt"]),
                EXIT["eval"], "not found")


def _cdnet(tmp_path, gt_writer):
    seq = tmp_path / "cat" / "seq"
    (seq / "groundtruth").mkdir(parents=True)
    (seq / "input").mkdir()
    pred = tmp_path / "pred"
    pred.mkdir()
    for i in range(1, 4):
        gt_writer(seq / "groundtruth" / f"gt{i:06d}.png", i)
        (seq / "input" / f"in{i:06d}.jpg").write_bytes(png_bytes(np.zeros((8, 8, 3), np.uint8)))
        (pred / f"bin{i:06d}.png").write_bytes(png_bytes(np.where(np.eye(8, dtype=bool), 255, 0).astype(np.uint8)))
    return seq, pred


def test_cdnet_16_bit_ground_truth_is_scored_with_a_warning(cli, tmp_path):
    from PIL import Image

    def write(path, i):
        a = np.zeros((8, 8), np.uint16)
        a[np.eye(8, dtype=bool)] = 255 * 257
        a[0, 7] = 170 * 257  # 'unknown': must stay unknown, not become foreground
        Image.fromarray(a).save(path)

    seq, pred = _cdnet(tmp_path, write)
    res = cli(["eval", "-m", "cdnet", "--pred", pred, "--gt", seq, "--json"])
    check_ok(res, quiet_stderr=False)
    assert len(res.lines) == 1 and "16-bit" in res.lines[0] and "WARNING" in res.lines[0], res.lines
    import json

    row = json.loads(res.stdout)["rows"][0]
    assert row["f_measure"] == pytest.approx(1.0)


def test_cdnet_ground_truth_header_bomb(cli, tmp_path):
    seq, pred = _cdnet(tmp_path, lambda p, i: png_header_only(p, 100_000, 100_000, colour=0))
    check_error(cli(["eval", "-m", "cdnet", "--pred", pred, "--gt", seq]), EXIT["eval"], "100000x100000")


def test_cdnet_prediction_header_bomb(cli, tmp_path):
    seq, pred = _cdnet(tmp_path, lambda p, i: p.write_bytes(png_bytes(np.zeros((8, 8), np.uint8))))
    png_header_only(pred / "bin000002.png", 100_000, 100_000, colour=0)
    check_error(cli(["eval", "-m", "cdnet", "--pred", pred, "--gt", seq]), EXIT["eval"], "100000x100000")


def test_davis_annotation_header_bomb(cli, tmp_path):
    ann, pred = tmp_path / "ann", tmp_path / "pred"
    ann.mkdir()
    pred.mkdir()
    for i in range(4):
        (ann / f"{i:05d}.png").write_bytes(png_bytes(np.eye(8, dtype=np.uint8)))
        (pred / f"{i:05d}.png").write_bytes(png_bytes(np.eye(8, dtype=np.uint8)))
    png_header_only(ann / "00002.png", 100_000, 100_000, colour=0)
    check_error(cli(["eval", "-m", "davis", "--pred", pred, "--gt", ann]), EXIT["eval"], "100000x100000")
