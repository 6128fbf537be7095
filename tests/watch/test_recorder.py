"""A camera's recorder in this process: rows, clips, snapshots, hooks, disk full, retention."""
import json
import socket
import sys
import threading
import time
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import av
import pytest

pytest.importorskip("sqlalchemy", reason="classicseg[watch] is not installed")
pytest.importorskip("tornado", reason="classicseg[watch] is not installed")

from classicseg import session
from classicseg.config import zones_of
from classicseg.io.storage import folder_bytes
from classicseg.watch.config import CameraConfig, camera_spec
from classicseg.watch.db import Database, Writer
from classicseg.watch.hooks import Hooks, run_hook
from classicseg.watch.recorder import Recorder, enforce_retention


def _record(tmp_path, video, min_free=0.0, hooks=None, **cam_kw):
    cam = CameraConfig(input=str(video), preset="surveillance-fast", warmup=0.3, event_gap=0.5, pre_capture=0.5,
                       post_capture=0.5, zones={"left": [[0, 120], [160, 120], [160, 240], [0, 240]]}, **cam_kw)
    spec = camera_spec(cam)
    spec = replace(spec, source=spec.source.model_copy(update={"realtime": False, "live": False}))
    tmp_path.mkdir(parents=True, exist_ok=True)
    db = Database(f"sqlite:///{tmp_path / 'events.db'}")
    db.migrate()
    writer = Writer(db)
    hooks = hooks or Hooks({})
    rec = Recorder("road", cam, tmp_path, writer, hooks, 10.0, zones_of(spec), min_free_bytes=min_free)
    frames = []
    t0 = time.perf_counter()
    res = session.run(session.Request(input=str(video), spec=spec, sinks=(rec,), on_sample=lambda s: frames.append(
        time.perf_counter()), on_source=lambda src: rec.set_fps(src.fps)))
    writer.close()
    return db, rec, res, frames, time.perf_counter() - t0


def test_events_become_rows_with_a_clip_and_a_snapshot(tmp_path, scene_video):
    db, rec, res, _, _ = _record(tmp_path, scene_video)
    rows = db.query(oldest_first=True)
    kinds = {r["kind"] for r in rows}
    assert {"motion", "zone"} <= kinds
    motion = [r for r in rows if r["kind"] == "motion"]
    assert all(r["status"] == "closed" and r["end"] >= r["start"] for r in rows)
    first = motion[0]
    assert 0.3 <= first["stream_start"] < 6 and first["peak_share"] > 0.005
    snap = tmp_path / first["snapshot"]
    assert snap.suffix == ".jpg" and snap.stat().st_size > 1000
    clip = tmp_path / first["clip"]
    assert clip.parent.parent == tmp_path / "clips" / "road"
    with av.open(str(clip)) as c:
        v = c.streams.video[0]
        assert v.codec_context.name == "h264"
        frames = list(c.decode(video=0))
    # pre_capture 0.5 s before the start, post_capture 0.5 s after the end was known (event_gap 0.5 s)
    span = (first["stream_end"] or 0) - first["stream_start"]
    assert len(frames) >= round(10 * (span + 0.5)) - 2
    assert float(frames[-1].time) == pytest.approx(len(frames) / 10 - 0.1, abs=0.15)  # its own frame rate
    assert not list((tmp_path / "clips").rglob(".*part*"))  # nothing half-written
    zone = [r for r in rows if r["kind"] == "zone"][0]
    assert zone["zone"] == "left"
    assert len({r["snapshot"] for r in rows if r["snapshot"]}) == len([r for r in rows if r["snapshot"]])


class _Catcher(BaseHTTPRequestHandler):
    got: list = []

    def log_message(self, *a):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Catcher.got.append(json.loads(body))
        self.send_response(204)
        self.end_headers()


def test_hooks_never_hold_up_detection(tmp_path, scene_video):
    with socket.socket() as s:  # a port nothing listens on: the webhook is refused
        s.bind(("127.0.0.1", 0))
        refused = f"http://127.0.0.1:{s.getsockname()[1]}/hook"
    hooks = Hooks({"on_event_start": "sleep 30", "on_event_end": refused}, timeout=1.0)
    baseline = _record(tmp_path / "a", scene_video)
    db, rec, res, frames, seconds = _record(tmp_path / "b", scene_video, hooks=hooks)
    assert len(db.query()) == len(baseline[0].query())  # every event recorded
    gaps = [b - a for a, b in zip(frames, frames[1:])]
    assert max(gaps) < 0.5, "a hook held up the frames"  # a hanging hook would stop them for 30 s
    deadline = time.time() + 10
    while len(hooks.results) < 2 and time.time() < deadline:
        time.sleep(0.1)
    outcomes = dict(hooks.results)
    assert outcomes["on_event_start"] == "timeout after 1 s (killed)"
    assert outcomes["on_event_end"].startswith("failed:") and "refused" in outcomes["on_event_end"].lower()
    hooks.close()


def test_command_hook_gets_the_event_on_stdin_and_webhook_posts_it(tmp_path):
    out = tmp_path / "got.json"
    assert run_hook(f"cat > {out}", {"id": 3, "kind": "motion"}, 5) == "ok"
    assert json.loads(out.read_text()) == {"id": 3, "kind": "motion"}
    assert run_hook([sys.executable, "-c", "import sys; sys.exit(4)"], {}, 5).startswith("exit 4")
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Catcher)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        assert run_hook(f"http://127.0.0.1:{srv.server_address[1]}/", {"id": 5}, 5) == "ok"
        assert _Catcher.got[-1] == {"id": 5}
    finally:
        srv.shutdown()
        srv.server_close()


def test_disk_full_pauses_recording_and_detection_goes_on(tmp_path, scene_video):
    baseline = _record(tmp_path / "a", scene_video)[0].query()
    db, rec, res, _, _ = _record(tmp_path / "b", scene_video, min_free=1e18)  # never this much free space
    rows = db.query()
    full = [r for r in rows if r["kind"] == "disk_full"]
    assert len(full) == 1 and "under min_free_gb" in full[0]["detail"]["reason"] and full[0]["status"] == "closed"
    events = [r for r in rows if r["kind"] != "disk_full"]
    assert len(events) == len(baseline)  # detection went on
    assert all(r["clip"] is None and r["snapshot"] is None for r in events)
    assert not list((tmp_path / "b" / "clips").rglob("*.mp4")) and res.frames == 80


def test_a_real_write_error_of_a_full_disk_pauses_too(tmp_path, scene_video):
    import errno

    from classicseg.errors import SinkError

    db = Database(f"sqlite:///{tmp_path / 'events.db'}")
    db.migrate()
    w = Writer(db)
    cam = CameraConfig(input=str(scene_video))
    rec = Recorder("road", cam, tmp_path, w, Hooks({}), 10.0, min_free_bytes=0)
    err = SinkError("cannot write x: No space left on device")
    err.errno = errno.ENOSPC
    rec._disk_error = err
    rec._check_disk(1000.0)
    assert rec.paused is not None and rec.clips.paused
    rec.close()
    w.close()
    assert db.query()[0]["kind"] == "disk_full"


def test_retention_drops_the_oldest_clips_and_their_rows(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'events.db'}")
    db.migrate()
    now = 1_000_000.0
    for i in range(6):
        clip = Path("clips/road/d") / f"c{i}.mp4"
        snap = Path("snapshots/road/d") / f"s{i}.jpg"
        for p, n in ((clip, 1000), (snap, 100)):
            (tmp_path / p).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / p).write_bytes(b"x" * n)
        db.insert({"camera": "road", "kind": "motion", "start": now - 86400 * (10 - i), "status": "closed",
                   "clip": clip.as_posix(), "snapshot": snap.as_posix()})
    # an instant event sharing the oldest clip goes with it
    db.insert({"camera": "road", "kind": "enter", "start": now - 86400 * 10 + 1, "status": "closed",
               "clip": "clips/road/d/c0.mp4"})
    db.insert({"camera": "yard", "kind": "motion", "start": now - 86400 * 20, "status": "closed"})
    assert enforce_retention(db, tmp_path, "road", None, 8.5 * 86400, now) == 3  # c0 (+enter), c1
    assert enforce_retention(db, tmp_path, "road", 2500, None, now) == 2  # c2, c3: 2 x 1100 bytes left
    left = sorted(r["clip"] for r in db.query(camera="road"))
    assert left == ["clips/road/d/c4.mp4", "clips/road/d/c5.mp4"]
    assert folder_bytes(tmp_path / "clips" / "road", tmp_path / "snapshots" / "road") == 2200
    assert db.query(camera="yard")  # other cameras untouched


@pytest.fixture
def tiny_disk(tmp_path):
    """A 160 kB tmpfs (needs root and mount; skipped otherwise)."""
    import os
    import subprocess

    where = tmp_path / "tiny"
    where.mkdir()
    if os.geteuid() != 0:
        pytest.skip("a real full disk needs root to mount a small tmpfs")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=160k", "tmpfs", str(where)], capture_output=True, text=True)
    if r.returncode:
        pytest.skip(f"cannot mount a small tmpfs here: {r.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def test_a_real_full_disk(tmp_path, tiny_disk, scene_video):
    cam = CameraConfig(input=str(scene_video), preset="surveillance-fast", warmup=0.3, event_gap=0.5,
                       pre_capture=0.5, post_capture=0.5)
    spec = camera_spec(cam)
    spec = replace(spec, source=spec.source.model_copy(update={"realtime": False, "live": False}))
    db = Database(f"sqlite:///{tmp_path / 'events.db'}")  # the rows on another disk: they must all arrive
    db.migrate()
    writer = Writer(db)
    rec = Recorder("road", cam, tiny_disk, writer, Hooks({}), 10.0, min_free_bytes=0, disk_check_s=0.2)
    res = session.run(session.Request(input=str(scene_video), spec=spec, sinks=(rec,), on_source=rec.set_source))
    writer.close()
    rows = db.query()
    full = [r for r in rows if r["kind"] == "disk_full"]
    assert res.frames == 80 and len(full) == 1 and "No space left" in full[0]["detail"]["reason"]
    assert [r for r in rows if r["kind"] == "motion"]  # detection went on
    assert not list(tiny_disk.rglob(".*part*"))  # the clip that did not fit is gone, not half-written
    for r in rows:
        if r["clip"]:
            assert (tiny_disk / r["clip"]).is_file()


def test_a_long_event_is_kept_in_parts(tmp_path, scene_video):
    db, rec, res, _, _ = _record(tmp_path, scene_video, max_clip=2.0)
    motion = db.query(kind="motion", oldest_first=True)
    split = [r for r in motion if r["detail"].get("closed") == "split"]
    assert split, "an event longer than max_clip was not split"
    clips = [r["clip"] for r in motion if r["clip"]]
    assert len(set(clips)) >= len(split) + 1  # each part has its own clip
    for r in motion:
        assert r["end"] >= r["start"] and r["status"] == "closed"
    for c in set(clips):
        with av.open(str(tmp_path / c)) as f:
            assert f.duration / 1e6 <= 2.0 + 0.5 + 0.3  # max_clip (+ pre-capture, a frame)
