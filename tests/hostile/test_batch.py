"""Batches: a user's files in the output root survive, two batches never share a folder, an
output overlapping the input is refused, and a killed batch leaves no orphan workers."""
from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.hostile.util import (EXIT, assert_untouched, check_error, check_ok, frames, png_bytes, snapshot,
                                user_files)

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="flock, /proc, signals: Linux")

BATCH = ["-q", "batch", "-p", "surveillance-fast", "-j", "0", "--no-progress"]


def _root(tmp_path, n_seq=2, n=4) -> Path:
    root = tmp_path / "data"
    for i in range(n_seq):
        frames(root / "baseline" / f"seq{i}" / "input", n=n, names="in{:06d}.jpg", seed=i)
    return root


def test_users_images_in_the_output_root_survive(cli, tmp_path):
    root = _root(tmp_path)
    out = tmp_path / "out"
    before = user_files(out)
    for i in range(3):
        (out / f"bin00000{i}.png").write_bytes(png_bytes(np.full((4, 4), 9 * i, np.uint8)))
    before = snapshot(out)
    check_ok(cli([*BATCH, "-i", root, "-o", out]))
    assert len(list((out / "baseline" / "seq0").glob("bin*.png"))) == 4
    check_ok(cli([*BATCH, "-i", root, "-o", out, "--force"]))  # a forced rerun clears only its own files
    assert_untouched(before, out)


def test_single_sequence_root_writes_beside_the_users_images(cli, tmp_path):
    seq = tmp_path / "seq"
    frames(seq / "input", n=4, names="in{:06d}.jpg")
    out = tmp_path / "out"
    before = user_files(out)
    check_ok(cli([*BATCH, "-i", seq, "-o", out]))
    check_ok(cli([*BATCH, "-i", seq, "-o", out, "--force"]))
    assert len(list(out.glob("bin*.png"))) == 4 and (out / "scores.json").is_file()
    assert_untouched(before, out)


def test_a_users_file_named_like_a_mask_fails_that_sequence_alone(cli, tmp_path):
    root = _root(tmp_path)
    out = tmp_path / "out"
    (out / "baseline" / "seq1").mkdir(parents=True)
    (out / "baseline" / "seq1" / "bin000002.png").write_bytes(b"mine")
    before = user_files(out)
    line = check_error(cli([*BATCH, "-i", root, "-o", out]), 7, "1 of 2 sequences failed", "bin000002.png")
    assert "internal" not in line
    assert len(list((out / "baseline" / "seq0").glob("bin*.png"))) == 4
    assert_untouched(before, out)


def test_output_overlapping_the_input(cli, tmp_path):
    root = _root(tmp_path)
    before = snapshot(root)
    check_error(cli([*BATCH, "-i", root, "-o", root / "out"]), 2, "overlap")
    assert snapshot(root) == before


def test_two_batches_into_one_folder(cli, tmp_path):
    from classicseg.io.outputs import FolderLock

    root = _root(tmp_path)
    out = tmp_path / "out"
    before = user_files(out)
    lock = FolderLock(out, "batch.lock", "another classicseg batch").acquire()  # a batch running there
    try:
        check_error(cli([*BATCH, "-i", root, "-o", out]), EXIT["output"], "in use by another classicseg batch")
    finally:
        lock.release()
    assert_untouched(before, out)
    assert not (out / "baseline").exists()


def test_one_run_inside_a_running_batchs_sequence_folder(cli, tmp_path):
    from classicseg.io.outputs import FolderLock

    root = _root(tmp_path, n_seq=1)
    out = tmp_path / "out"
    lock = FolderLock(out / "baseline" / "seq0").acquire()  # `classicseg run` writing there
    try:
        check_error(cli([*BATCH, "-i", root, "-o", out]), 7, "in use by another classicseg run")
    finally:
        lock.release()


def _children(pid: int) -> list[int]:
    kids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                fields = (d / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                kids.append(int(d.name))
    return kids


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_killing_the_batch_kills_its_workers(server, tmp_path):
    root = tmp_path / "data"
    frames(root / "baseline" / "long" / "input", n=400, h=64, w=96, names="in{:06d}.jpg")
    out = tmp_path / "out"
    run = server.start(["-q", "batch", "-p", "surveillance-fast", "-i", root, "-o", out, "-j", "1",
                        "--no-progress"], timeout=90)
    seq_out = out / "baseline" / "long"
    t0 = time.monotonic()
    while len(list(seq_out.glob("bin*.png"))) < 5:  # the worker is in the middle of the sequence
        assert time.monotonic() - t0 < 60, "the batch worker did not start"
        time.sleep(0.05)
    workers = [p for p in _children(run.pid) if "python" in Path(f"/proc/{p}/cmdline").read_text(errors="replace")]
    assert workers
    os.kill(run.pid, signal.SIGKILL)
    run.wait()
    t0 = time.monotonic()
    while any(_alive(p) for p in workers):
        assert time.monotonic() - t0 < 5, "orphaned batch workers are still running"
        time.sleep(0.05)
    time.sleep(0.5)
    assert not (seq_out / ".done.json").exists(), "a worker marked a sequence done for a batch that is gone"
