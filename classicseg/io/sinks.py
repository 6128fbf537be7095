"""Output sinks: mask PNGs (CDnet 0/255 or DAVIS indexed), overlay video, tables.

Every file is written atomically (a temporary file in the same folder, then a
rename), so an interrupted run never leaves a half-written file behind. Sinks given an
:class:`~classicseg.io.outputs.OutputFolder` claim each name before writing it, so they
never overwrite a file that classicseg did not write. An interrupted run (Ctrl-C,
SIGTERM) closes its sinks like a finished one: the overlay video stays playable up to the
last frame, the tracks and events so far are kept.
"""
from __future__ import annotations

import json
import logging
import os
from abc import ABC, abstractmethod
from pathlib import Path

import cv2
import numpy as np

from classicseg.errors import SinkError
from classicseg.io.images import atomic_write_bytes, create_temp, encode_png, ensure_writable_dir
from classicseg.io.masks import encode_indexed_png
from classicseg.io.video import Cv2Writer, PyAVWriter, have_pyav
from classicseg.types import Sample

log = logging.getLogger("classicseg")


class Sink(ABC):
    """Where finished samples go: one method per moment of a run.

    ``write(sample)`` for each finished frame, in order; ``close()`` when the run ended
    well (commit what was written); ``abort()`` when it failed or was interrupted (discard
    what is half-written, keep what is complete). A sink never raises from ``abort``.
    """

    #: the sample slots this sink reads (a run adds the sink only when the pipeline writes them)
    reads: tuple[str, ...] = ()

    @abstractmethod
    def write(self, sample: Sample) -> None:
        """Take one finished sample."""

    def close(self) -> None:
        """The run ended well."""

    def abort(self) -> None:
        """The run failed: discard what is half-written."""


def _target(out, folder: Path, name: str) -> Path:
    """``folder / name``, claimed in ``out`` (an OutputFolder) when there is one."""
    return out.claim(name) if out is not None else folder / name


def _claim_if_inside(out, path: Path):
    """``path`` claimed in ``out`` when it lies in that output folder (an overlay may lie anywhere)."""
    if out is None:
        return path
    try:  # the folder resolved, the name as it is: a symlink by that name is the user's, not followed
        rel = (path.parent.resolve() / path.name).relative_to(out.path.resolve())
    except (ValueError, OSError):
        return path
    return out.claim(rel.as_posix())


class MaskSink(Sink):
    """Writes each sample's ``fg`` mask into ``folder`` under the source's naming (claimed in
    ``out``, an :class:`~classicseg.io.outputs.OutputFolder`, when given)."""

    reads = ("fg",)

    def __init__(self, folder, source, out=None) -> None:
        self.folder = ensure_writable_dir(folder)
        self.source = source
        self.out = out
        self.count = 0
        names = source.planned_names() if out is not None and hasattr(source, "planned_names") else None
        for stem in names or ():  # a mask that would replace a file of the user's stops the run now
            name = source.mask_name(stem)
            if not out.owns(name) and (self.folder / name).exists():
                out.claim(name)  # raises, naming it

    def write(self, sample: Sample) -> None:
        name = self.source.mask_name(sample.name)
        fg = sample["fg"]
        if self.source.mask_format == "davis":
            ids = sample.data.get("ids")
            data = encode_indexed_png(ids if ids is not None else fg.view(np.uint8))
        else:
            data = encode_png(fg.view(np.uint8) * np.uint8(255))
        atomic_write_bytes(_target(self.out, self.folder, name), data)
        self.count += 1


def _label(img: np.ndarray, text: str, x: int, y: int, colour) -> None:
    """``text`` on a dark box with its lower left at (x, y), kept inside the image."""
    font, scale = cv2.FONT_HERSHEY_SIMPLEX, 0.45
    (tw, th), base = cv2.getTextSize(text, font, scale, 1)
    x = min(max(x, 0), max(img.shape[1] - tw - 2, 0))
    y = min(max(y, th + 2), img.shape[0] - base)
    cv2.rectangle(img, (x, y - th - 2), (x + tw + 2, y + base), (0, 0, 0), -1)
    cv2.putText(img, text, (x + 1, y - 1), font, scale, colour, 1, cv2.LINE_AA)


def overlay(sample: Sample, alpha: float = 0.5, zones=(), highlight=(), image: np.ndarray | None = None
            ) -> np.ndarray:
    """The frame with foreground in red, shadow in blue, blob boxes in green, tracked objects
    in yellow with their ids, ``zones`` (``(name, polygon)`` pairs) outlined in cyan with their
    names, and the ``highlight`` boxes (``[x, y, w, h]``, the object an event is about) drawn
    thick in magenta. ``image`` replaces the sample's frame (a copy kept for later)."""
    img = (sample.image if image is None else image).copy()
    for slot, colour in (("shadow", (255, 0, 0)), ("fg", (0, 0, 255))):
        m = sample.data.get(slot)
        if m is not None and m.any():
            img[m] = (img[m] * (1 - alpha) + np.array(colour) * alpha).astype(np.uint8)
    for name, polygon in zones:
        pts = np.round(np.asarray(polygon, np.float64)).astype(np.int32)
        cv2.polylines(img, [pts], True, (255, 255, 0), 1, cv2.LINE_AA)
        _label(img, str(name), int(pts[:, 0].min()) + 2, int(pts[:, 1].min()) + 14, (255, 255, 0))
    for b in sample.data.get("blobs", ()):
        cv2.rectangle(img, (b.x, b.y), (b.x + b.w - 1, b.y + b.h - 1), (0, 255, 0), 1)
    for tid, (x, y, w, h) in sample.data.get("tracks", ()):
        x0, y0 = int(round(x)), int(round(y))
        cv2.rectangle(img, (x0, y0), (int(round(x + w)) - 1, int(round(y + h)) - 1), (0, 255, 255), 1)
        _label(img, str(tid), x0, y0 - 1, (0, 255, 255))
    for x, y, w, h in highlight:
        cv2.rectangle(img, (int(x), int(y)), (int(x + w) - 1, int(y + h) - 1), (255, 0, 255), 3)
    return img


class VideoSink(Sink):
    """Overlay video written to a temporary file and renamed into place on close.

    ``codec="auto"`` encodes H.264 through PyAV when it is installed (``pip install
    av``, part of the ``video``/``all`` extras) and falls back, with one log line, to
    OpenCV's MPEG-4 Part 2 writer; ``"h264"`` insists on PyAV; ``"mp4v"`` always uses
    OpenCV.
    """

    def __init__(self, path, fps: float | None = None, codec: str = "auto", out=None, zones=()) -> None:
        self.zones = list(zones)
        self.path = Path(path)
        ensure_writable_dir(self.path.parent)
        if self.path.is_dir():
            raise SinkError(f"overlay {self.path} is a folder: give a video file name (.mp4)")
        self.out = out
        _claim_if_inside(out, self.path)
        self.partial = self.path.with_name(f"{self.path.stem}.partial{self.path.suffix or '.mp4'}")
        self.tmp: Path | None = None
        self.fps = fps if fps and 0 < fps < 1000 else 25.0
        if codec not in ("auto", "h264", "mp4v"):
            raise SinkError(f"unknown video codec {codec!r}: use auto, h264 or mp4v")
        if codec == "h264" and not have_pyav():
            raise SinkError("H.264 output needs PyAV: pip install av (or classicseg[video])")
        if codec == "auto":
            codec = "h264" if have_pyav() else "mp4v"
            if codec == "mp4v":
                log.info("PyAV not installed: overlay video written as MPEG-4 Part 2 (pip install av for H.264)")
        self._cls = PyAVWriter if codec == "h264" else Cv2Writer
        self.writer = None

    @property
    def codec(self) -> str:
        return self._cls.codec

    def write(self, sample: Sample) -> None:
        frame = overlay(sample, zones=self.zones)
        try:
            if self.writer is None:
                h, w = frame.shape[:2]
                fd, self.tmp = create_temp(self.path, keep_suffix=True)
                self.writer = self._cls(self.tmp, self.fps, (w, h), fd=fd)
            self.writer.write(frame)
        except SinkError:
            raise
        except Exception as exc:  # noqa: BLE001 - the encoder's errors (a full disk) are output errors
            raise SinkError(f"cannot write overlay {self.path}: {_why(exc)}") from None

    def close(self) -> None:
        if self.writer is None:
            return
        try:
            self.writer.close()
        except Exception as exc:  # noqa: BLE001
            self.writer = None
            self._discard()
            raise SinkError(f"cannot finish overlay {self.path}: {_why(exc)}") from None
        self.writer = None
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        """The run failed: the video so far is finished and kept as ``<stem>.partial<ext>`` when
        it can be (not on a full disk)."""
        if self.writer is None:
            return
        try:
            self.writer.close()
            target = _claim_if_inside(self.out, self.partial)
            os.replace(self.tmp, target)
            log.warning("run failed: the overlay video so far is in %s", target)
        except Exception:  # noqa: BLE001 - never raise from abort
            self._discard()
        self.writer = None

    def _discard(self) -> None:
        if self.tmp is not None:
            try:
                os.unlink(self.tmp)
            except OSError:
                pass


def _why(exc: Exception) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return " ".join(str(exc).split()) or type(exc).__name__


class TracksSink(Sink):
    """Tracks in MOTChallenge format (``frame, id, left, top, width, height, 1, -1, -1, -1``,
    1-based frames) from each sample's ``tracks`` slot.

    Rows go to a temporary file as they come (a run of days keeps no rows in memory)
    and the file is renamed to ``path`` at the end; if the run fails, what was written
    is kept as ``<stem>.partial.txt`` rather than lost.
    """

    def __init__(self, path, out=None) -> None:
        self.path = Path(path)
        ensure_writable_dir(self.path.parent)
        self.partial = self.path.with_name(f"{self.path.stem}.partial{self.path.suffix}")
        self.out = out
        _claim_if_inside(out, self.path)
        fd, self.tmp = create_temp(self.path)
        self.f = open(fd, "w", encoding="utf-8")
        self.rows = 0

    def write(self, sample: Sample) -> None:
        frame = sample.index + 1
        try:
            for tid, (x, y, w, h) in sample.data.get("tracks", ()):
                self.f.write(f"{frame},{tid},{x:.2f},{y:.2f},{w:.2f},{h:.2f},1,-1,-1,-1\n")
                self.rows += 1
        except OSError as exc:
            raise SinkError(f"cannot write {self.path}: {exc.strerror or exc}") from None

    def close(self) -> None:
        try:
            self.f.close()
        except OSError as exc:
            raise SinkError(f"cannot write {self.path}: {exc.strerror or exc}") from None
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        try:
            self.f.close()
            target = _claim_if_inside(self.out, self.partial)
            os.replace(self.tmp, target)
            log.warning("run failed: the tracks so far are in %s", target)
        except (OSError, SinkError):  # a full disk, or a file of the user's by that name
            try:
                os.unlink(self.tmp)
            except OSError:
                pass


def snapshot_name(rec, taken: set[str] | None = None) -> str:
    """``<frame>_<kind>[_<zone>][_<id>].jpg`` for an event record, with ``_2``, ``_3``... when
    ``taken`` already holds the name (two events of one frame and kind keep both pictures)."""
    parts = [f"{rec.start_frame:06d}", rec.kind]
    if rec.zone:
        parts.append(str(rec.zone))
    if rec.instant and rec.ids:
        parts.append(str(rec.ids[0]))
    stem = "_".join(parts).replace("/", "_").replace(" ", "_")
    name, n = f"{stem}.jpg", 1
    while taken is not None and name in taken:
        n += 1
        name = f"{stem}_{n}.jpg"
    if taken is not None:
        taken.add(name)
    return name


def snapshot_image(rec, zones=()) -> np.ndarray | None:
    """The overlay of an event's peak frame with the object it is about highlighted."""
    if rec.peak is None:
        return None
    sample, boxes = rec.peak
    return overlay(sample, zones=zones, highlight=boxes)


class EventsSink(Sink):
    """Events as JSON lines, flushed one whole line at a time, so a log that runs for days
    can be followed (``tail -F``) and nothing written is lost. Each run starts a new file
    (created under a temporary name, then renamed over the previous run's: never appended
    to, never written through a link).

    Each line is the event as the stage wrote it with the frame's stream ``time`` and
    ``wall`` clock (:func:`classicseg.io.events.stamp`). A motion event has a ``start`` line
    and an ``end`` line (span, peak, track ids); one left open when the run ends gets its
    ``end`` line at the close. With ``snapshots``, every event gets one picture of its peak
    frame (an instant event: its frame) with the object highlighted, zones and track ids
    drawn, under its own name (:func:`snapshot_name`), named in its last line. With ``clips``
    (a folder), every event is also recorded as an H.264 clip from ``pre_capture`` seconds
    before it to ``post_capture`` after (:class:`classicseg.io.clips.ClipRecorder`), named in
    its lines: the events-only output of a long run.
    """

    def __init__(self, path, snapshots=None, zones=(), clips=None, pre_capture: float = 2.0,
                 post_capture: float = 3.0, fps: float = 25.0, out=None) -> None:
        from classicseg.io.clips import ClipRecorder
        from classicseg.io.events import EventTracker

        self.path = Path(path)
        ensure_writable_dir(self.path.parent)
        self.snapshots = ensure_writable_dir(snapshots) if snapshots else None
        self.zones = list(zones)
        self.out = out
        _claim_if_inside(out, self.path)
        fd, tmp = create_temp(self.path)
        try:
            os.replace(tmp, self.path)
        except OSError as exc:
            os.close(fd)
            os.unlink(tmp)
            raise SinkError(f"cannot write {self.path}: {exc.strerror or exc}") from None
        self.f = open(fd, "w", encoding="utf-8", buffering=1)
        self.count = 0
        self.taken: set[str] = set()
        self.sample = None
        self.tracker = EventTracker(self._opened, self._closed, keep_peak=self.snapshots is not None, fps=fps)
        self.fps = fps
        if clips is not None and out is not None:
            _claim_if_inside(out, Path(clips))
        self.clips = ClipRecorder(ensure_writable_dir(clips), fps, pre_capture, post_capture) if clips else None

    def _line(self, e: dict) -> None:
        from classicseg.io.events import stamp

        try:
            self.f.write(json.dumps(stamp(e, self.sample), default=_jsonable) + "\n")
        except OSError as exc:
            raise SinkError(f"cannot write {self.path}: {exc.strerror or exc}") from None
        self.count += 1

    def _opened(self, rec, e) -> None:
        if self.clips is not None:
            clip = self.clips.start(f"{rec.start_frame:06d}_{rec.kind}")
            rec.clip = f"clips/{clip.name}" if clip is not None else None
        if not rec.instant:
            self._line({**e, "clip": rec.clip} if rec.clip else e)

    def _closed(self, rec, e) -> None:
        if self.snapshots is not None:
            img = snapshot_image(rec, self.zones)
            if img is not None:
                from classicseg.io.images import write_image

                name = snapshot_name(rec, self.taken)
                write_image(_claim_if_inside(self.out, self.snapshots / name), img)
                rec.snapshot = f"snapshots/{name}"
        if e is None:  # the run ended with the event open
            from classicseg.io.events import iso_time

            e = {"frame": rec.end_frame, "event": "end", "kind": rec.kind, "key": rec.key, "start_frame":
                 rec.start_frame, "start_time": rec.start_time, "end_frame": rec.end_frame, "end_time": rec.end_time,
                 "peak_share": rec.peak_share, "ids": rec.ids, "closed": "end of input",
                 "end_wall": iso_time(rec.end_wall)}
            if rec.zone:
                e["zone"] = rec.zone
        e = dict(e)
        for k in ("snapshot", "clip"):
            if getattr(rec, k):
                e[k] = getattr(rec, k)
        self._line(e)

    def write(self, sample: Sample) -> None:
        self.sample = sample
        if sample.data.get("events") or sample.data.get("active"):
            self.tracker.update(sample)
        if self.clips is not None:
            t = sample.time if sample.time is not None else sample.index / self.fps
            self.clips.feed(sample.image, t, bool(self.tracker.open or sample.data.get("events")))

    def close(self) -> None:
        if self.sample is not None:
            self.tracker.finish()
        try:
            self.f.close()
        except OSError as exc:
            raise SinkError(f"cannot write {self.path}: {exc.strerror or exc}") from None
        if self.clips is not None:
            self.clips.stop()
            self.clips.join()

    def abort(self) -> None:
        try:
            if self.sample is not None:
                self.tracker.finish()
        except Exception:  # noqa: BLE001 - a sink never raises from abort
            pass
        try:
            self.f.close()
        except OSError:
            pass
        if self.clips is not None:
            self.clips.stop()  # what was recorded is complete footage: keep it
            self.clips.join()


def write_json(path, obj) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, default=_jsonable) + "\n").encode())


def _jsonable(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def write_csv(path, rows: list[dict]) -> None:
    import csv
    import io

    buf = io.StringIO()
    if rows:
        w = csv.DictWriter(buf, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    atomic_write_bytes(path, buf.getvalue().encode())


def read_json_object(path) -> dict | None:
    """The JSON object in ``path``, or None when it is missing, unreadable or not an object
    (a marker file that a killed run left half-written counts as missing)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def clear_outputs(folder, marker: str | None = None) -> None:
    """Before a sequence is redone: remove its completion ``marker`` if classicseg wrote it.

    Nothing else is deleted here: the run that follows replaces what the previous run
    wrote, by its manifest (:class:`~classicseg.io.outputs.OutputFolder`), and leaves every
    other file alone.
    """
    from classicseg.io.outputs import OutputFolder

    folder = Path(folder)
    if marker is None or not (folder / marker).exists():
        return
    with OutputFolder(folder, role="batch", replace=False) as out:
        out.remove(marker)


def write_owned_json(folder, name: str, obj, role: str = "batch") -> Path:
    """Write ``folder/name`` as JSON, recorded in the folder's manifest under ``role`` (a
    batch's completion markers and ``scores.json``); refuses to overwrite a file that is not
    classicseg's."""
    from classicseg.io.outputs import OutputFolder

    with OutputFolder(folder, role=role, replace=False) as out:
        path = out.claim(name)
        write_json(path, obj)
    return path
