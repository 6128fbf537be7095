"""What a camera's process does with each finished frame: event rows, clips, snapshots,
hooks and retention (:class:`Recorder`), and the live picture (:class:`LiveSink`).

Both are :class:`~classicseg.io.sinks.Sink` objects handed to
:func:`classicseg.session.run`, so a camera runs its pipeline the way ``classicseg run`` does.
Files live under the storage folder as ``clips/<camera>/<date>/...mp4`` and
``snapshots/<camera>/<date>/...jpg``; rows name them relative to it.
"""
from __future__ import annotations

import logging
import shutil
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Callable

import cv2

from classicseg.errors import SinkError
from classicseg.io.clips import ClipRecorder, is_disk_full
from classicseg.io.events import EventRecord, EventTracker, iso_time
from classicseg.io.images import write_image
from classicseg.io.sinks import Sink, overlay, snapshot_image
from classicseg.io.storage import file_size, folder_bytes, remove_empty_dirs, remove_files
from classicseg.types import Sample

log = logging.getLogger("classicseg")

__all__ = ["Recorder", "LiveSink", "enforce_retention"]


def _day(wall: float) -> str:
    return datetime.fromtimestamp(wall).strftime("%Y-%m-%d")


def _clock(wall: float) -> str:
    d = datetime.fromtimestamp(wall)
    return d.strftime("%H%M%S") + f".{int(d.microsecond / 1000):03d}"


def enforce_retention(db, storage: Path, camera: str, max_bytes: float | None, max_age_s: float | None,
                      now: float | None = None) -> int:
    """Delete a camera's oldest events with their clips and snapshots: those older than
    ``max_age_s``, then the oldest until its files take at most ``max_bytes``. A clip that
    several events share goes with all of them. Returns the number of rows deleted."""
    now = time.time() if now is None else now
    deleted = 0

    def drop(rows: list[dict]) -> None:
        nonlocal deleted
        remove_files(storage / r[k] for r in rows for k in ("clip", "snapshot") if r.get(k))
        db.delete([r["id"] for r in rows])
        deleted += len(rows)

    if max_age_s is not None:
        while True:
            rows = db.files(camera, older_than=now - max_age_s)
            if not rows:
                break
            drop(rows)
    if max_bytes is not None:
        folders = (storage / "clips" / camera, storage / "snapshots" / camera)
        size = folder_bytes(*folders)
        while size > max_bytes:
            rows = db.files(camera, limit=50)
            rows = [r for r in rows if r.get("clip") or r.get("snapshot")]
            if not rows:
                break
            first_clip = next((r["clip"] for r in rows if r.get("clip")), None)
            batch = [r for r in rows if r.get("clip") == first_clip] if first_clip else rows[:1]
            if first_clip:  # every row sharing that clip, also beyond this page
                batch += [r for r in db.files(camera, limit=100_000) if r.get("clip") == first_clip
                          and r["id"] not in {b["id"] for b in batch}]
            freed = sum(file_size(storage / r[k]) for r in batch for k in ("clip", "snapshot") if r.get(k))
            drop(batch)
            size -= freed if freed else 1
            if not freed:
                size = folder_bytes(*folders)
    for folder in (storage / "clips" / camera, storage / "snapshots" / camera):
        # empty day folders of past days (today's is being written into)
        remove_empty_dirs(folder, older_than_name=_day(now))
    return deleted


class Recorder(Sink):
    """Events of one camera into the database, with a clip and a snapshot each.

    Parameters
    ----------
    camera : str
    cam : CameraConfig
    storage : Path
    writer : classicseg.watch.db.Writer
        Rows are written through it (in order, retried, never blocking).
    hooks : classicseg.watch.hooks.Hooks
    fps : float
        The camera's frame rate (clips; dating frames without a clock).
    zones : list of (name, polygon)
        Drawn on snapshots (and clips with ``clip_overlay``).
    min_free_bytes : float
        Under this much free space recording pauses (a ``disk_full`` event) and resumes
        once there is room again; detection goes on.
    """

    def __init__(self, camera: str, cam, storage: Path, writer, hooks, fps: float, zones=(),
                 min_free_bytes: float = 1e9, disk_check_s: float = 5.0, retention_s: float = 60.0,
                 db=None) -> None:
        self.camera, self.cam, self.storage = camera, cam, Path(storage)
        self.writer, self.hooks = writer, hooks
        self.fps = fps or 10.0
        self.zones = list(zones)
        self.min_free = min_free_bytes
        self.disk_check_s = disk_check_s
        self.clip_dir = self.storage / "clips" / camera
        self.snap_dir = self.storage / "snapshots" / camera
        self.clips = ClipRecorder(self.clip_dir, self.fps, cam.pre_capture, cam.post_capture, on_done=self._clip_done)
        self.tracker = EventTracker(self._opened, self._closed, keep_peak=True, fps=self.fps)
        self.taken: set[str] = set()
        self.paused: EventRecord | None = None  # the disk_full event while recording is paused
        self._disk_error: BaseException | None = None
        self._next_disk_check = 0.0
        self._next_touch = 0.0
        self.last_wall: float | None = None
        self.source = None
        self._seen = (0, 0)  # the source's reconnects and dropped frames at the last frame
        self.gap_s = max(2.0, 10.0 / self.fps)
        self.events = 0
        self.clips_done = 0
        self.sample: Sample | None = None
        # retention in its own thread (it lists folders and deletes files)
        self._retention_wake = threading.Event()
        self._retention_stop = threading.Event()
        self._retention_s = retention_s
        self._db = db
        self._retention = None
        if db is not None and (cam.max_storage_gb or cam.max_age_days):
            self._retention = threading.Thread(target=self._retention_loop, name="retention", daemon=True)
            self._retention.start()

    def set_source(self, source) -> None:
        """The opened source (before the first frame): its frame rate, reconnects and drops."""
        self.source = source
        self.set_fps(source.fps)

    def set_fps(self, fps: float | None) -> None:
        """The source's frame rate, once it is open (before the first frame)."""
        if fps and fps > 0 and fps != self.fps:
            self.fps = fps
            self.gap_s = max(2.0, 10.0 / fps)
            self.tracker.fps = fps
            self.clips = ClipRecorder(self.clip_dir, fps, self.cam.pre_capture, self.cam.post_capture,
                                      on_done=self._clip_done)

    # -- rows ------------------------------------------------------------------
    def _rel(self, p: Path | None) -> str | None:
        return None if p is None else p.relative_to(self.storage).as_posix()

    def _payload(self, rec: EventRecord, what: str) -> dict:
        return {"event": what, "id": rec.id, "camera": self.camera, "kind": rec.kind, "zone": rec.zone,
                "start": iso_time(rec.start_wall), "end": iso_time(rec.end_wall), "stream_start": rec.start_time,
                "stream_end": rec.end_time, "peak_share": rec.peak_share, "track_ids": list(rec.ids),
                "snapshot": rec.snapshot, "clip": rec.clip, "box": rec.box}

    def _insert(self, rec: EventRecord, row: dict, hook: str | None) -> None:
        hooks, payload = self.hooks, self._payload

        def op(db) -> None:
            if rec.id is None:
                rec.id = db.insert(row)
            if hook:
                hooks.fire(hook, payload(rec, "start"))
                if rec.instant:
                    hooks.fire("on_event_end", payload(rec, "end"))

        self.writer.put(op)

    def _update(self, rec: EventRecord, values: dict, hook: str | None = None) -> None:
        hooks, payload = self.hooks, self._payload

        def op(db) -> None:
            if rec.id is not None:
                db.update(rec.id, values)
            if hook:
                hooks.fire(hook, payload(rec, "end"))

        self.writer.put(op)

    def _opened(self, rec: EventRecord, e: dict | None) -> None:
        self.events += 1
        wall = rec.start_wall or time.time()
        if self.paused is None:
            clip = self.clips.start(f"{_day(wall)}/{self.camera}-{_clock(wall)}-{rec.kind}")
            rec.clip = self._rel(clip)
        if rec.instant:
            return  # one row, written when it closes (at once)
        self._insert(rec, {"camera": self.camera, "kind": rec.kind, "zone": rec.zone, "start": wall,
                           "stream_start": rec.start_time, "start_frame": rec.start_frame, "status": "open",
                           "clip": rec.clip, "track_ids": list(rec.ids), "peak_share": rec.peak_share,
                           "updated": time.time(), "detail": _detail(e)}, "on_event_start")

    def _closed(self, rec: EventRecord, e: dict | None) -> None:
        if self.paused is None and rec.peak is not None:
            img = snapshot_image(rec, self.zones)
            name = self._snapshot_name(rec)
            try:
                write_image(name, img)
                rec.snapshot = self._rel(name)
            except SinkError as exc:
                if is_disk_full(exc):
                    self._disk_error = exc
                else:
                    log.warning("%s: snapshot not written: %s", self.camera, exc)
        rec.peak = None  # the copy of the frame is not needed any more
        end = rec.end_wall or rec.start_wall or time.time()
        values = {"end": end, "stream_end": rec.end_time, "end_frame": rec.end_frame, "peak_share": rec.peak_share,
                  "track_ids": list(rec.ids), "snapshot": rec.snapshot, "status": "closed",
                  "detail": _detail({**rec.data, **(e or {})})}
        if rec.instant:
            self._insert(rec, {"camera": self.camera, "kind": rec.kind, "zone": rec.zone, "start": end,
                               "stream_start": rec.start_time, "start_frame": rec.start_frame, "clip": rec.clip,
                               **values}, "on_event_start")
        else:
            self._update(rec, values, "on_event_end")

    def _snapshot_name(self, rec: EventRecord) -> Path:
        wall = rec.start_wall or time.time()
        parts = [f"{self.camera}-{_clock(wall)}", rec.kind] + ([str(rec.zone)] if rec.zone else []) + \
                ([str(rec.ids[0])] if rec.instant and rec.ids else [])
        stem = "-".join(parts).replace("/", "_").replace(" ", "_")
        folder = self.snap_dir / _day(wall)
        folder.mkdir(parents=True, exist_ok=True)
        name, n = f"{stem}.jpg", 1
        while name in self.taken or (folder / name).exists():
            n += 1
            name = f"{stem}-{n}.jpg"
        self.taken.add(name)
        if len(self.taken) > 10_000:
            self.taken.clear()
        return folder / name

    def _clip_done(self, path: Path, error) -> None:  # from the clip's thread
        if error is None:
            self.clips_done += 1
            self._retention_wake.set()
            return
        rel = self._rel(path)
        self.writer.put(lambda db: db.drop_clip(rel))
        if is_disk_full(error):
            self._disk_error = error

    # -- the frame loop --------------------------------------------------------
    def write(self, sample: Sample) -> None:
        self.sample = sample
        wall = sample.wall if sample.wall is not None else time.time()
        seen = (getattr(self.source, "reconnects", 0), getattr(self.source, "dropped", 0))
        live = getattr(self.source, "live", False)
        if self.last_wall is not None and (seen[0] > self._seen[0] or (
                live and wall - self.last_wall > self.gap_s and seen[1] == self._seen[1])):
            # the stream was reopened, or a live source delivered nothing for a while (frames it
            # dropped while the pipeline was busy are no gap in the stream)
            self._gap(self.last_wall, wall)
        self.last_wall, self._seen = wall, seen
        now = time.monotonic()
        if self._disk_error is not None or now >= self._next_disk_check:
            self._next_disk_check = now + self.disk_check_s
            self._check_disk(wall)
        t = sample.time if sample.time is not None else sample.index / self.fps
        started = self.clips.started_t
        if self.tracker.open and started is not None and t - started >= self.cam.max_clip:
            # an event that goes on and on: closed and reopened, so no clip (and no row) grows without end
            self.clips.stop()
            self.tracker.split(sample)
        if sample.data.get("events") or sample.data.get("active"):
            self.tracker.update(sample)
        frame = overlay(sample, zones=self.zones) if self.cam.clip_overlay else sample.image
        self.clips.feed(frame, t, bool(self.tracker.open) or bool(sample.data.get("events")))
        if self.tracker.open and now >= self._next_touch:
            self._next_touch = now + 2.0
            recs = list(self.tracker.open.values())
            self.writer.put(lambda db: db.touch([r.id for r in recs if r.id is not None], wall))

    def _gap(self, since: float, until: float) -> None:
        log.warning("%s: no frame for %.1f s (%s to %s): the stream stopped and came back", self.camera,
                    until - since, iso_time(since), iso_time(until))
        rec = EventRecord("gap", "gap", None, 0, None, since, end_wall=until, instant=True)
        rec.data = {"seconds": round(until - since, 3)}
        self._insert(rec, {"camera": self.camera, "kind": "gap", "start": since, "end": until, "status": "closed",
                           "detail": {"seconds": round(until - since, 3)}}, None)

    def _check_disk(self, wall: float) -> None:
        err, self._disk_error = self._disk_error, None
        try:
            free = shutil.disk_usage(self.storage).free
        except OSError:
            return
        if self.paused is None and (err is not None or free < self.min_free):
            why = f"{err}" if err is not None else f"{free / 1e9:.2f} GB free, under min_free_gb"
            log.error("%s: disk full (%s): recording paused, detection goes on", self.camera, why)
            self.clips.abort()
            self.clips.paused = True
            rec = EventRecord("disk_full", "disk_full", None, 0, None, wall)
            rec.data = {"reason": why}
            self.paused = rec
            self._insert(rec, {"camera": self.camera, "kind": "disk_full", "start": wall, "status": "open",
                               "updated": wall, "detail": {"reason": why}}, "on_event_start")
        elif self.paused is not None and err is None and free >= self.min_free + 100e6:
            rec, self.paused = self.paused, None
            rec.end_wall = wall
            self.clips.paused = False
            log.warning("%s: %.2f GB free again: recording resumed", self.camera, free / 1e9)
            self._update(rec, {"end": wall, "status": "closed"}, "on_event_end")

    def _retention_loop(self) -> None:
        cam = self.cam
        max_bytes = cam.max_storage_gb * 1e9 if cam.max_storage_gb else None
        max_age = cam.max_age_days * 86400 if cam.max_age_days else None
        while not self._retention_stop.is_set():
            try:
                n = enforce_retention(self._db, self.storage, self.camera, max_bytes, max_age)
                if n:
                    log.info("%s: retention removed %d events with their files", self.camera, n)
            except Exception as exc:  # noqa: BLE001 - retried on the next round
                log.warning("%s: retention failed: %s", self.camera, exc)
            self._retention_wake.wait(self._retention_s)
            self._retention_wake.clear()

    # -- the end ---------------------------------------------------------------
    def close(self) -> None:
        self.tracker.finish()
        self.clips.stop()
        self.clips.join()
        if self._disk_error is not None:  # the last clip did not fit
            self._check_disk(self.last_wall or time.time())
        if self.paused is not None:
            rec, self.paused = self.paused, None
            self._update(rec, {"end": self.last_wall or time.time(), "status": "closed"})
        self._retention_stop.set()
        self._retention_wake.set()

    def abort(self) -> None:
        try:
            self.close()
        except Exception:  # noqa: BLE001 - a sink never raises from abort
            log.exception("%s: closing the recorder failed", self.camera)


def _detail(e: dict | None) -> dict:
    if not e:
        return {}
    return {k: v for k, v in e.items() if k not in ("frame", "name", "event", "key", "kind", "zone")}


class LiveSink(Sink):
    """The live picture: the overlay as JPEG, ``live_fps`` times a second while someone
    watches (``viewers.value > 0``), once a second otherwise (the page's snapshot), handed
    to ``send(jpeg_bytes, wall)``."""

    def __init__(self, send: Callable, viewers, live_fps: float = 10.0, zones=(), quality: int = 75) -> None:
        self.send, self.viewers = send, viewers
        self.interval = 1.0 / live_fps
        self.zones = list(zones)
        self.params = [cv2.IMWRITE_JPEG_QUALITY, quality]
        self.last = 0.0
        self.frames = 0
        self.encode_seconds = 0.0

    def write(self, sample: Sample) -> None:
        self.frames += 1
        now = time.monotonic()
        watching = self.viewers is not None and self.viewers.value > 0
        if now - self.last < (self.interval if watching else 1.0):
            return
        self.last = now
        t0 = time.perf_counter()
        ok, buf = cv2.imencode(".jpg", overlay(sample, zones=self.zones), self.params)
        self.encode_seconds += time.perf_counter() - t0
        if ok:
            self.send(buf.tobytes(), sample.wall)
