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


def overlay(sample: Sample, alpha: float = 0.5) -> np.ndarray:
    """The frame with foreground in red, shadow in blue and blob boxes in green."""
    img = sample.image.copy()
    for slot, colour in (("shadow", (255, 0, 0)), ("fg", (0, 0, 255))):
        m = sample.data.get(slot)
        if m is not None and m.any():
            img[m] = (img[m] * (1 - alpha) + np.array(colour) * alpha).astype(np.uint8)
    for b in sample.data.get("blobs", ()):
        cv2.rectangle(img, (b.x, b.y), (b.x + b.w - 1, b.y + b.h - 1), (0, 255, 0), 1)
    return img


class _Cv2Writer:
    """MPEG-4 Part 2 through OpenCV's writer: every opencv wheel has it."""

    codec = "mp4v (MPEG-4 Part 2, OpenCV)"

    def __init__(self, path: Path, fd: int, fps: float, size: tuple[int, int]) -> None:
        os.close(fd)  # OpenCV opens the (new, empty) file by its name
        self.w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
        if not self.w.isOpened():
            raise SinkError(f"cannot open an mp4v video writer for {path}")

    def write(self, frame: np.ndarray) -> None:
        self.w.write(frame)

    def close(self) -> None:
        self.w.release()


class _PyAVWriter:
    """H.264 (yuv420p, CRF 23) through PyAV, which most players and browsers show."""

    codec = "h264 (PyAV)"

    def __init__(self, path: Path, fd: int, fps: float, size: tuple[int, int]) -> None:
        import av
        from fractions import Fraction

        self.av = av
        os.close(fd)  # the file was created (O_EXCL, a random name); FFmpeg opens it by name
        self.container = av.open(str(path), mode="w", format="mp4")
        self.stream = self.container.add_stream("h264", rate=Fraction(fps).limit_denominator(1001))
        self.stream.width, self.stream.height = size[0] - size[0] % 2, size[1] - size[1] % 2
        self.stream.pix_fmt = "yuv420p"
        self.stream.options = {"crf": "23", "preset": "veryfast"}

    def write(self, frame: np.ndarray) -> None:
        h, w = self.stream.height, self.stream.width
        vf = self.av.VideoFrame.from_ndarray(np.ascontiguousarray(frame[:h, :w]), format="bgr24")
        for packet in self.stream.encode(vf):
            self.container.mux(packet)

    def close(self) -> None:
        try:
            for packet in self.stream.encode():
                self.container.mux(packet)
        finally:
            self.container.close()


def _have_pyav() -> bool:
    import importlib.util

    return importlib.util.find_spec("av") is not None


class VideoSink(Sink):
    """Overlay video written to a temporary file and renamed into place on close.

    ``codec="auto"`` encodes H.264 through PyAV when it is installed (``pip install
    av``, part of the ``video``/``all`` extras) and falls back, with one log line, to
    OpenCV's MPEG-4 Part 2 writer; ``"h264"`` insists on PyAV; ``"mp4v"`` always uses
    OpenCV.
    """

    def __init__(self, path, fps: float | None = None, codec: str = "auto", out=None) -> None:
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
        if codec == "h264" and not _have_pyav():
            raise SinkError("H.264 output needs PyAV: pip install av (or classicseg[video])")
        if codec == "auto":
            codec = "h264" if _have_pyav() else "mp4v"
            if codec == "mp4v":
                log.info("PyAV not installed: overlay video written as MPEG-4 Part 2 (pip install av for H.264)")
        self._cls = _PyAVWriter if codec == "h264" else _Cv2Writer
        self.writer = None

    @property
    def codec(self) -> str:
        return self._cls.codec

    def write(self, sample: Sample) -> None:
        frame = overlay(sample)
        try:
            if self.writer is None:
                h, w = frame.shape[:2]
                fd, self.tmp = create_temp(self.path, keep_suffix=True)
                self.writer = self._cls(self.tmp, fd, self.fps, (w, h))
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


class EventsSink(Sink):
    """Events as JSON lines, flushed one whole line at a time, so a log that runs for days
    can be followed (``tail -F``) and nothing written is lost.

    Each run starts a new file (created under a temporary name, then renamed over the
    previous run's: never appended to, never written through a link). With ``snapshots``,
    each event also saves the overlay of its frame as ``<snapshots>/<frame>_<event>.jpg``.
    """

    def __init__(self, path, snapshots=None, out=None) -> None:
        self.path = Path(path)
        ensure_writable_dir(self.path.parent)
        self.snapshots = ensure_writable_dir(snapshots) if snapshots else None
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

    def write(self, sample: Sample) -> None:
        events = sample.data.get("events")
        if not events:
            return
        for e in events:
            try:
                self.f.write(json.dumps(e, default=_jsonable) + "\n")
            except OSError as exc:
                raise SinkError(f"cannot write {self.path}: {exc.strerror or exc}") from None
            self.count += 1
            if self.snapshots is not None:
                from classicseg.io.images import write_image

                write_image(_claim_if_inside(self.out, self.snapshots / f"{e['frame']:06d}_{e['event']}.jpg"),
                            overlay(sample))

    def close(self) -> None:
        try:
            self.f.close()
        except OSError as exc:
            raise SinkError(f"cannot write {self.path}: {exc.strerror or exc}") from None

    def abort(self) -> None:
        try:
            self.f.close()
        except OSError:
            pass


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
