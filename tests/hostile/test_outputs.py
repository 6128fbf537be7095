"""Outputs: classicseg deletes or overwrites only what it can prove it wrote, refuses outputs
that overlap its inputs, locks an output folder, replaces (never appends to) per-run files,
and reports a full disk as an output error (4)."""
from __future__ import annotations

import json
import os
import sys

import numpy as np
import pytest

from tests.hostile.util import (EXIT, assert_untouched, check_error, check_ok, frames, png_bytes, snapshot,
                                user_files, video)

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="flock, rlimits: Linux")

RUN = ["-q", "run", "-p", "surveillance-fast", "--no-progress"]


def test_output_is_the_input_folder(cli, tmp_path):
    clip = frames(tmp_path / "clip")
    before = snapshot(clip)
    check_error(cli([*RUN, "-i", clip, "-o", clip]), EXIT["output"], "overlaps the input")
    assert snapshot(clip) == before


def test_output_inside_the_input_folder(cli, tmp_path):
    seq = tmp_path / "seq"
    frames(seq / "input", names="in{:06d}.jpg")
    before = snapshot(seq)
    check_error(cli([*RUN, "-i", seq, "-o", seq / "input" / "out"]), EXIT["output"], "overlaps the input")
    assert snapshot(seq) == before


def test_input_inside_the_output_folder(cli, tmp_path):
    out = tmp_path / "out"
    before = user_files(out)
    clip = frames(out / "clip")
    before.update(snapshot(out))
    check_error(cli([*RUN, "-i", clip, "-o", out]), EXIT["output"], "overlaps the input")
    assert_untouched(before, out)


def test_overlay_is_the_input_video(cli, tmp_path):
    v = video(tmp_path / "clip.mp4")
    data = v.read_bytes()
    check_error(cli([*RUN, "-i", v, "--overlay", v]), EXIT["output"], "overlay")
    assert v.read_bytes() == data


def test_overlay_inside_the_input_folder(cli, tmp_path):
    clip = frames(tmp_path / "clip")
    before = snapshot(clip)
    check_error(cli([*RUN, "-i", clip, "--overlay", clip / "o.mp4"]), EXIT["output"], "overlay")
    assert snapshot(clip) == before


def test_overlay_is_a_folder(cli, tmp_path):
    clip = frames(tmp_path / "clip")
    (tmp_path / "o.mp4").mkdir()
    check_error(cli([*RUN, "-i", clip, "--overlay", tmp_path / "o.mp4"]), 2, "is a directory")


def test_output_is_a_file(cli, tmp_path):
    clip = frames(tmp_path / "clip")
    (tmp_path / "out").write_text("a file")
    check_error(cli([*RUN, "-i", clip, "-o", tmp_path / "out"]), 2, "out")
    assert (tmp_path / "out").read_text() == "a file"


def test_a_users_file_named_like_a_mask_is_not_replaced(cli, tmp_path):
    clip = frames(tmp_path / "clip")
    out = tmp_path / "out"
    before = user_files(out)
    (out / "00003.png").write_bytes(png_bytes(np.full((4, 4, 3), 7, np.uint8)))
    before = snapshot(out)
    check_error(cli([*RUN, "-i", clip, "-o", out]), EXIT["output"], "00003.png", "not written by classicseg")
    assert_untouched(before, out)
    assert not (out / "00000.png").exists(), "masks were written before the refusal"


def test_a_users_run_json_is_not_replaced(cli, tmp_path):
    clip = frames(tmp_path / "clip")
    out = tmp_path / "out"
    user_files(out)
    (out / "run.json").write_text('{"mine": true}')
    before = snapshot(out)
    check_error(cli([*RUN, "-i", clip, "-o", out]), EXIT["output"], "run.json")
    assert_untouched(before, out)


def test_events_file_that_is_a_symlink_is_not_followed(cli, tmp_path):
    clip = frames(tmp_path / "clip")
    out = tmp_path / "out"
    before = user_files(out)
    target = tmp_path / "precious.txt"
    target.write_text("do not append to me\n")
    (out / "events.jsonl").symlink_to(target)
    before = snapshot(out)
    check_error(cli([*RUN, "-i", clip, "-o", out, "--events"]), EXIT["output"], "events.jsonl")
    assert target.read_text() == "do not append to me\n"
    assert_untouched(before, out)


def test_meta_folder_that_is_a_file(cli, tmp_path):
    clip = frames(tmp_path / "clip")
    out = tmp_path / "out"
    before = user_files(out)
    (out / ".classicseg").write_text("mine")
    check_error(cli([*RUN, "-i", clip, "-o", out]), EXIT["output"], ".classicseg")
    assert (out / ".classicseg").read_text() == "mine"
    assert_untouched(before, out)


def test_folder_locked_by_another_run(cli, tmp_path):
    from classicseg.io.outputs import FolderLock

    clip = frames(tmp_path / "clip")
    out = tmp_path / "out"
    before = user_files(out)
    lock = FolderLock(out).acquire()
    try:
        check_error(cli([*RUN, "-i", clip, "-o", out]), EXIT["output"], "in use by another classicseg run",
                    f"pid {os.getpid()}")
    finally:
        lock.release()
    assert_untouched(before, out)
    check_ok(cli([*RUN, "-i", clip, "-o", out]))  # free again


def test_rerun_replaces_the_previous_run(cli, tmp_path):
    out = tmp_path / "out"
    before = user_files(out)
    check_ok(cli([*RUN, "-i", frames(tmp_path / "long", n=8), "-o", out, "--events"]))
    assert len(list(out.glob("0*.png"))) == 8
    check_ok(cli([*RUN, "-i", frames(tmp_path / "short", n=3), "-o", out, "--events"]))
    assert sorted(p.name for p in out.glob("0*.png")) == ["00000.png", "00001.png", "00002.png"]
    assert json.loads((out / "run.json").read_text())["frames"] == 3
    assert_untouched(before, out)


def test_events_are_replaced_not_appended(cli, tmp_path):
    clip = frames(tmp_path / "clip", n=4)
    out = tmp_path / "out"
    before = user_files(out)
    check_ok(cli([*RUN, "-i", clip, "-o", out, "--events"]))
    with open(out / "events.jsonl", "a") as f:  # the first run's events (the file is classicseg's)
        f.write('{"frame": 1, "event": "from the first run"}\n')
    check_ok(cli([*RUN, "-i", clip, "-o", out, "--events"]))
    assert "first run" not in (out / "events.jsonl").read_text()
    assert_untouched(before, out)


def test_planted_temp_names_are_not_followed(cli, tmp_path):
    clip = frames(tmp_path / "clip", n=3)
    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    for name in ("00000.png", "00001.png", "00002.png", "run.json"):  # the names the old code used
        for pid in range(1, 300):
            (out / f".{name}.{pid}.part").symlink_to(victim)
    before = snapshot(out)
    check_ok(cli([*RUN, "-i", clip, "-o", out]))
    assert victim.read_text() == "keep me"
    assert_untouched(before, out)


def test_full_disk_while_writing_the_overlay(cli, tmp_path):
    pytest.importorskip("av")  # OpenCV's own writer does not report write errors
    clip = frames(tmp_path / "clip", n=30, h=120, w=160)
    out = tmp_path / "out"
    before = user_files(out)
    res = cli([*RUN, "-i", clip, "--overlay", tmp_path / "o.mp4"], fsize=2000)
    check_error(res, EXIT["output"], "overlay")
    assert not list(tmp_path.glob(".o.mp4*")), "the temporary video was left behind"
    assert_untouched(before, out)


def test_full_disk_while_writing_masks(cli, tmp_path):
    clip = frames(tmp_path / "clip", n=4)
    out = tmp_path / "out"
    before = user_files(out)
    res = cli([*RUN, "-i", clip, "-o", out], fsize=50)
    check_error(res, EXIT["output"], "cannot write")
    assert_untouched(before, out)


def test_demo_does_not_replace_a_users_files(cli, tmp_path):
    out = tmp_path / "out"
    before = user_files(out)
    (out / "scores.csv").write_text("my,scores\n")
    (out / "masks").mkdir()
    before = snapshot(out)
    check_error(cli(["demo", "-o", out, "--frames", "60", "--no-progress"]), EXIT["output"], "not written by classicseg")
    assert_untouched(before, out)
    assert not (out / "scene").exists()
