"""Hostile inputs to ``classicseg run``: each is a one-line error with the input exit code (3),
in bounded time and memory, and nothing the user had in the output folder changes."""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest

from tests.hostile.util import (EXIT, assert_untouched, big_png, check_error, check_ok, frames, mask_png,
                                png_bytes, png_header_only, user_files, video)

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="FIFOs, /proc and rlimits: Linux")


def _run(cli, tmp_path, inp, *more, preset="surveillance-fast", code=EXIT["input"], needles=(), env=None):
    out = tmp_path / "out"
    before = user_files(out)
    res = cli(["-q", "run", "-p", preset, "-i", inp, "-o", out, "--no-progress", *more], env=env)
    line = check_error(res, code, *needles)
    assert_untouched(before, out)
    return line, out


def test_missing_input(cli, tmp_path):
    _run(cli, tmp_path, tmp_path / "nope", needles=("input not found",))


def test_empty_folder(cli, tmp_path):
    (tmp_path / "empty").mkdir()
    _run(cli, tmp_path, tmp_path / "empty", needles=("no images",))


def test_folder_of_text_files(cli, tmp_path):
    d = tmp_path / "txt"
    d.mkdir()
    for i in range(3):
        (d / f"{i}.txt").write_text("hello")
    _run(cli, tmp_path, d, needles=("no images",))


@pytest.mark.parametrize("name,content", [("{:05d}.png", b"\x89PNG\r\n\x1a\n garbage"), ("{:05d}.jpg", b"")])
def test_folder_of_undecodable_images(cli, tmp_path, name, content):
    d = tmp_path / "bad"
    d.mkdir()
    for i in range(4):
        (d / name.format(i)).write_bytes(content)
    _run(cli, tmp_path, d, needles=("no frame could be read",))


def test_fifo_input_does_not_block(cli, tmp_path):
    os.mkfifo(tmp_path / "clip.mp4")
    _run(cli, tmp_path, tmp_path / "clip.mp4", needles=("fifo",))


def test_device_input(cli, tmp_path):
    _run(cli, tmp_path, "/dev/zero", needles=("device",))


def test_zero_byte_video(cli, tmp_path):
    (tmp_path / "empty.mp4").write_bytes(b"")
    _run(cli, tmp_path, tmp_path / "empty.mp4", needles=("empty",))


def test_text_file_named_as_video(cli, tmp_path):
    (tmp_path / "clip.mp4").write_text("this is not a video\n" * 100)
    _run(cli, tmp_path, tmp_path / "clip.mp4", needles=("video",))


def test_random_bytes_video(cli, tmp_path):
    (tmp_path / "clip.avi").write_bytes(np.random.default_rng(0).integers(0, 256, 200_000, np.uint8).tobytes())
    _run(cli, tmp_path, tmp_path / "clip.avi", needles=("clip",))


def test_single_image_as_input(cli, tmp_path):
    (tmp_path / "one.png").write_bytes(png_bytes(np.zeros((8, 8, 3), np.uint8)))
    _run(cli, tmp_path, tmp_path / "one.png", needles=("single image",))


def test_png_header_claiming_100000_squared(cli, tmp_path):
    d = tmp_path / "bomb"
    d.mkdir()
    png_header_only(d / "00000.png", 100_000, 100_000)
    _run(cli, tmp_path, d, needles=("100000x100000", "megapixels"))


def test_two_valid_16000_squared_frames(cli, tmp_path):
    d = tmp_path / "huge"
    d.mkdir()
    big_png(d / "00000.png", 16000, 16000)
    (d / "00001.png").write_bytes((d / "00000.png").read_bytes())
    _run(cli, tmp_path, d, needles=("16000x16000", "megapixels"))


def test_frames_too_large_for_memory_are_refused_before_the_models(cli, tmp_path):
    d = tmp_path / "large"
    d.mkdir()
    big_png(d / "00000.png", 3000, 3000)  # 9 MP: under the pixel limit; sense keeps ~600 B per pixel
    _run(cli, tmp_path, d, preset="surveillance", needles=("memory", "3000x3000"))


def test_pixel_limit_is_configurable(cli, tmp_path):
    d = frames(tmp_path / "clip", n=3)
    _run(cli, tmp_path, d, env={"CLASSICSEG_MAX_PIXELS": "1000"}, needles=("64x48", "CLASSICSEG_MAX_PIXELS"))


def test_bad_pixel_limit_setting(cli, tmp_path):
    d = frames(tmp_path / "clip", n=3)
    _run(cli, tmp_path, d, env={"CLASSICSEG_MAX_PIXELS": "lots"}, code=EXIT["config"],
         needles=("CLASSICSEG_MAX_PIXELS",))


def test_mixed_frame_sizes(cli, tmp_path):
    d = frames(tmp_path / "clip", n=3)
    (d / "00009.png").write_bytes(png_bytes(np.zeros((10, 10, 3), np.uint8)))
    _run(cli, tmp_path, d, needles=("mixed image sizes",))


def test_two_frames_one_mask_name(cli, tmp_path):
    d = frames(tmp_path / "seq" / "input", n=3, names="in{:06d}.jpg")
    (d / "in000001.png").write_bytes((d / "in000001.jpg").read_bytes())
    _run(cli, tmp_path, tmp_path / "seq", needles=("in000001.jpg", "in000001.png", "bin000001.png"))


@pytest.mark.parametrize("preset", ["motion", "vos"])
def test_one_pixel_frames(cli, tmp_path, preset):
    d = tmp_path / "tiny"
    d.mkdir()
    for i in range(4):
        (d / f"{i:05d}.png").write_bytes(png_bytes(np.full((1, 1, 3), 50 * i, np.uint8)))
    more = ["--init-mask", mask_png(tmp_path / "m.png", (1, 1), ((255, (0, 1, 0, 1)),))] if preset == "vos" else []
    _run(cli, tmp_path, d, *more, preset=preset, needles=("1x1", "too small"))


def test_wide_strip_frames_do_not_crash_optical_flow(cli, tmp_path):
    # OpenCV's DIS dies with SIGSEGV on a 24x200 frame at its default settings
    d = frames(tmp_path / "strip", n=4, h=24, w=200)
    _run(cli, tmp_path, d, preset="motion", needles=("200x24", "too small"))


def test_video_whose_frame_size_changes(cli, tmp_path):
    pytest.importorskip("av")
    v = video(tmp_path / "change.ts", n=6, sizes=[(64, 48), (96, 80)])
    _run(cli, tmp_path, v, needles=("frame size changes", "64x48", "96x80"))


def test_path_with_a_newline_stays_one_line(cli, tmp_path):
    line, _ = _run(cli, tmp_path, tmp_path / "two\nlines", needles=("input not found", "two\\nlines"))
    assert "\n" not in line


def test_symlink_loop_input(cli, tmp_path):
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    _run(cli, tmp_path, tmp_path / "a", needles=("not found",))


def test_missing_camera(cli, tmp_path):
    _run(cli, tmp_path, "97", needles=("camera",))


@pytest.mark.parametrize("url", ["rtsp://127.0.0.1:9/none", "http://127.0.0.1:9/clip.mp4"])
def test_unreachable_stream(cli, tmp_path, url):
    _run(cli, tmp_path, url, "--set", "source.open_timeout_ms=2000", "--set", "source.reconnect=false",
         needles=("stream",))


@pytest.mark.parametrize("flag,value", [("--max-frames", str(10**30)), ("--max-bad-frames", "0"),
                                        ("--threads", "-1")])
def test_out_of_range_options(cli, tmp_path, flag, value):
    d = frames(tmp_path / "clip", n=3)
    _run(cli, tmp_path, d, flag, value, code=2, needles=(flag,))


def test_undecodable_frames_are_skipped_with_one_warning_each(cli, tmp_path):
    d = frames(tmp_path / "clip", n=5)
    (d / "00002.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    out = tmp_path / "out"
    before = user_files(out)
    res = cli(["run", "-p", "surveillance-fast", "-i", d, "-o", out, "--no-progress"])
    check_ok(res, quiet_stderr=False)
    assert res.lines == [f"classicseg: WARNING: {d.name}: frame 00002 could not be decoded, skipped"]
    assert sorted(p.name for p in out.glob("0*.png")) == ["00000.png", "00001.png", "00003.png", "00004.png"]
    assert_untouched(before, out)


def test_16_bit_frames_are_read(cli, tmp_path):
    from PIL import Image

    d = tmp_path / "deep"
    d.mkdir()
    for i in range(4):
        Image.fromarray(np.full((40, 40), 1000 * i, np.uint16)).save(d / f"{i:05d}.png")
    out = tmp_path / "out"
    before = user_files(out)
    check_ok(cli(["-q", "run", "-p", "surveillance-fast", "-i", d, "-o", out, "--no-progress"]))
    assert len(list(out.glob("0*.png"))) == 4
    assert_untouched(before, out)


def test_native_library_messages_go_to_the_debug_log(cli, tmp_path):
    """FFmpeg and OpenCV print on the process's stderr; classicseg routes that to its log at
    debug level: one line of ours by default, theirs with -vv."""
    d = tmp_path / "bad"
    d.mkdir()
    for i in range(3):
        (d / f"{i:05d}.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    argv = ["run", "-p", "surveillance-fast", "-i", d, "-o", tmp_path / "out", "--no-progress"]
    check_error(cli(["-q", *argv]), EXIT["input"], "no frame could be read")
    res = cli(["-vv", *argv])
    assert res.rc == EXIT["input"] and any("DEBUG: native:" in ln for ln in res.lines), res.lines[-5:]


def test_warnings_about_a_path_with_a_newline_stay_one_line_each(cli, tmp_path):
    d = frames(tmp_path / "two\nlines", n=4)
    (d / "00001.png").write_bytes(b"broken")
    out = tmp_path / "out"
    res = cli(["run", "-p", "surveillance-fast", "-i", d, "-o", out, "--no-progress"])
    check_ok(res, quiet_stderr=False)
    assert res.lines == ["classicseg: WARNING: two\\nlines: frame 00001 could not be decoded, skipped"]
