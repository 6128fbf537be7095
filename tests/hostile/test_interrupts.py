"""Interrupts and faults: Ctrl-C and SIGTERM keep what a run wrote (masks, a playable overlay,
tracks, a run.json that says it was interrupted) with one line on stderr; a run killed outright
is cleaned up by the next one; abandoned sources never abort the interpreter at exit."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import cv2
import pytest

from tests.hostile.conftest import child_env
from tests.hostile.util import EXIT, assert_untouched, check_bounded, check_ok, frames, user_files

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="signals, rlimits: Linux")


def _wait_for(pred, timeout: float = 20.0) -> None:
    t0 = time.monotonic()
    while not pred():
        if time.monotonic() - t0 > timeout:
            raise AssertionError("the run did not get going in time")
        time.sleep(0.02)


def _masks(out):
    return sorted(p for p in out.glob("0*.png"))


N_LONG = 300


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory):
    return frames(tmp_path_factory.mktemp("long") / "clip", n=N_LONG, h=64, w=96)


def _interrupt(server, tmp_path, clip, sig, preset="surveillance-fast", extra=()):
    out = tmp_path / "out"
    before = user_files(out)
    overlay = tmp_path / "o.mp4"
    run = server.start(["run", "-p", preset, "-i", clip, "-o", out, "--overlay", overlay, "--no-progress",
                        *extra], timeout=60)
    _wait_for(lambda: len(_masks(out)) >= 5)
    os.kill(run.pid, sig)
    res = run.wait()
    assert "Traceback" not in res.stderr, res.stderr
    assert res.rc == 128 + sig, res.stderr
    assert res.lines == [res.lines[0]] and res.lines[0].startswith(
        f"classicseg: interrupted ({signal.Signals(sig).name}): stopped after"), res.lines
    summary = json.loads((out / "run.json").read_text())
    assert summary["interrupted"] == signal.Signals(sig).name
    n = summary["frames"]  # every output has the same frames: the stop waits for a frame boundary
    assert 5 <= n < N_LONG and len(_masks(out)) == n
    cap = cv2.VideoCapture(str(overlay))  # finished, so playable up to its last frame
    assert cap.isOpened() and int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == n
    assert not [p for p in tmp_path.rglob("*.part*")], "temporary files left behind"
    assert_untouched(before, out)
    check_bounded(res)
    return out, summary


def test_ctrl_c_keeps_masks_overlay_and_summary(server, tmp_path, long_clip):
    _interrupt(server, tmp_path, long_clip, signal.SIGINT)


def test_sigterm_stops_like_ctrl_c_and_keeps_the_tracks(server, tmp_path, long_clip):
    out, summary = _interrupt(server, tmp_path, long_clip, signal.SIGTERM, preset="tracking")
    assert (out / "tracks.txt").is_file() and not (out / "tracks.partial.txt").exists()


def test_a_killed_run_is_cleaned_up_by_the_next(server, cli, tmp_path, long_clip):
    out = tmp_path / "out"
    before = user_files(out)
    run = server.start(["run", "-p", "surveillance-fast", "-i", long_clip, "-o", out, "--overlay", out / "o.mp4",
                        "--no-progress"], timeout=60)
    _wait_for(lambda: len(_masks(out)) >= 20)
    os.kill(run.pid, signal.SIGKILL)
    assert run.wait().rc == -signal.SIGKILL
    assert len(_masks(out)) >= 20 and list(out.glob(".o.mp4.*.part*")), "expected a killed run's leftovers"
    check_ok(cli(["-q", "run", "-p", "surveillance-fast", "-i", frames(tmp_path / "short", n=3), "-o", out,
                  "--no-progress"]))
    assert [p.name for p in _masks(out)] == ["00000.png", "00001.png", "00002.png"]
    assert not [p for p in out.rglob("*.part*")], "the killed run's temporary files are still there"
    assert not list((out / ".classicseg").glob("journal-*")), "the killed run's journal is still there"
    assert_untouched(before, out)


_ABANDON = textwrap.dedent("""
    import sys
    from classicseg.io.priors import attach_prior
    from classicseg.io.sources import open_source
    from classicseg.pipeline import Pipeline

    src = open_source(sys.argv[1])            # read one frame, never closed
    next(iter(src))
    def prior(sample):
        raise RuntimeError("a prior callable that fails")
    try:
        Pipeline.load(preset="refine").run(attach_prior(open_source(sys.argv[1]), prior))
    except RuntimeError:
        pass
    print("done")
""")


def test_abandoned_sources_do_not_abort_the_interpreter(tmp_path):
    av = pytest.importorskip("av")  # the video is written with PyAV (H.264, decoded with threads by OpenCV)
    import numpy as np

    path = tmp_path / "clip.mp4"
    c = av.open(str(path), "w")
    s = c.add_stream("h264", rate=25)
    s.width, s.height, s.pix_fmt = 160, 120, "yuv420p"
    rng = np.random.default_rng(0)
    for _ in range(60):  # the old code aborted on this one 4 times in 4
        for p in s.encode(av.VideoFrame.from_ndarray(rng.integers(0, 255, (120, 160, 3), np.uint8),
                                                     format="bgr24")):
            c.mux(p)
    for p in s.encode():
        c.mux(p)
    c.close()
    script = tmp_path / "abandon.py"
    script.write_text(_ABANDON)
    # the old code aborted (SIGABRT, 'terminate called without an active exception') on exit every time
    res = subprocess.run([sys.executable, str(script), str(path)], env=child_env(), capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, (res.returncode, res.stderr[-2000:])
    assert res.stdout.strip() == "done"


def test_second_signal_during_shutdown_is_ignored(server, tmp_path, long_clip):
    out = tmp_path / "out"
    run = server.start(["run", "-p", "surveillance-fast", "-i", long_clip, "-o", out, "--no-progress"], timeout=60)
    _wait_for(lambda: len(_masks(out)) >= 5)
    os.kill(run.pid, signal.SIGTERM)
    os.kill(run.pid, signal.SIGTERM)
    res = run.wait()
    assert res.rc == 128 + signal.SIGTERM and len(res.lines) == 1, res.stderr
    assert json.loads((out / "run.json").read_text())["interrupted"] == "SIGTERM"
    assert EXIT["output"] != res.rc
