"""Event clips: H.264 MP4 files that start ``pre_capture`` seconds before an event and end
``post_capture`` seconds after it, written atomically by a thread that never holds up the
frames.

:class:`ClipRecorder` keeps the last ``pre_capture`` seconds of frames in a ring buffer;
when an event opens it starts a :class:`ClipWriter` with them, hands it each frame while an
event is open and for ``post_capture`` seconds after the last one closed, then finishes the
clip. Overlapping events share one clip (as the motion daemon's movies do). The writer
encodes into ``.<name>.part.mp4`` beside the clip and renames it into place when the clip
is complete; a clip that fails (a full disk) is removed, never left half-written.
"""
from __future__ import annotations

import errno
import logging
import os
import queue
import threading
from collections import deque
from pathlib import Path
from typing import Callable

import numpy as np

from classicseg.io.images import ensure_writable_dir

log = logging.getLogger("classicseg")

__all__ = ["ClipRecorder", "ClipWriter", "is_disk_full"]


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` says the disk (or the user's quota) is full."""
    return getattr(exc, "errno", None) in (errno.ENOSPC, errno.EDQUOT)


class ClipWriter:
    """One clip: frames queued by the caller, encoded by a thread, renamed into place at the end.

    ``on_done(path, error)`` is called from the thread when the clip is in place (``error``
    None) or was given up (``error`` the exception; the partial file is removed). ``put``
    never blocks: when the encoder falls more than ``max_queue`` frames behind, frames are
    dropped from the clip (counted in ``dropped``) rather than from detection.
    """

    def __init__(self, path, fps: float, on_done: Callable | None = None, max_queue: int = 256) -> None:
        self.path = Path(path)
        self.tmp: Path | None = None  # a new, unguessable name beside the clip (create_temp)
        self.fps = fps
        self.on_done = on_done
        self.q: queue.Queue = queue.Queue(maxsize=max_queue)
        self.dropped = 0
        self.frames = 0
        self.error: BaseException | None = None
        self._abort = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"clip-{self.path.stem}", daemon=True)
        self.thread.start()

    def put(self, frame: np.ndarray, t: float) -> bool:
        if self.error is not None:
            return False
        try:
            self.q.put_nowait((frame, t))
            return True
        except queue.Full:
            self.dropped += 1
            return False

    def finish(self) -> None:
        """No more frames: complete the clip (in the thread)."""
        self.q.put(None)

    def abort(self) -> None:
        """Give the clip up (the partial file is removed)."""
        self._abort.set()
        try:
            self.q.put_nowait(None)
        except queue.Full:
            pass

    def join(self, timeout: float | None = None) -> bool:
        self.thread.join(timeout)
        return not self.thread.is_alive()

    def _run(self) -> None:
        from classicseg.io.images import create_temp
        from classicseg.io.video import PyAVWriter

        writer = None
        try:
            while True:
                item = self.q.get()
                if item is None or self._abort.is_set():
                    break
                frame, t = item
                if writer is None:
                    h, w = frame.shape[:2]
                    # one encoder thread: cameras run side by side, and x264's own threads
                    # cost 20 % more CPU per frame (640x480, veryfast: 7.3 -> 5.9 ms)
                    fd, self.tmp = create_temp(self.path, keep_suffix=True)
                    writer = PyAVWriter(self.tmp, self.fps, (w, h), fd=fd, threads=1)
                writer.write(frame, t)
                self.frames += 1
            if self._abort.is_set():
                raise InterruptedError("clip aborted")
            if writer is None:
                return
            writer.close()
            writer = None
            os.replace(self.tmp, self.path)
        except BaseException as exc:  # noqa: BLE001 - reported through on_done
            self.error = exc
            if writer is not None:
                try:
                    writer.container.close()
                except Exception:  # noqa: BLE001
                    pass
            try:
                if self.tmp is not None:
                    os.unlink(self.tmp)
            except OSError:
                pass
            if not isinstance(exc, InterruptedError):
                log.warning("clip %s given up: %s", self.path.name, exc)
        finally:
            while True:  # release what is still queued
                try:
                    self.q.get_nowait()
                except queue.Empty:
                    break
            if self.on_done is not None:
                try:
                    self.on_done(self.path, self.error)
                except Exception:  # noqa: BLE001
                    log.exception("clip callback failed")


class ClipRecorder:
    """Clips around events from a stream of frames (see the module docstring).

    Call :meth:`feed` with every frame, its stream time and whether an event is open;
    :attr:`current` is the clip being recorded (its final path). ``paused``: no new clip
    starts (a full disk); ``on_done(path, error)`` as for :class:`ClipWriter`.
    """

    def __init__(self, folder, fps: float, pre_capture: float, post_capture: float,
                 on_done: Callable | None = None) -> None:
        self.folder = Path(folder)
        self.fps = fps
        self.pre, self.post = pre_capture, post_capture
        self.ring: deque = deque(maxlen=max(1, int(round(pre_capture * fps))) if pre_capture > 0 else 1)
        self.on_done = on_done
        self.writer: ClipWriter | None = None
        self.current: Path | None = None
        self.until = -np.inf
        #: stream time of the first frame of the clip being recorded
        self.started_t: float | None = None
        self.paused = False
        self.pending: list[ClipWriter] = []

    def start(self, stem: str) -> Path | None:
        """Start a clip named ``stem`` now (with the buffered frames), unless one is being
        recorded (its path is returned) or recording is paused (None)."""
        if self.writer is not None:
            return self.current
        if self.paused:
            return None
        self.current = self.folder / f"{stem}.mp4"
        ensure_writable_dir(self.current.parent)
        self.writer = ClipWriter(self.current, self.fps, self.on_done)
        self.pending = [w for w in self.pending if w.thread.is_alive()] + [self.writer]
        self.started_t = self.ring[0][1] if self.ring else None
        for frame, t in self.ring:
            self.writer.put(frame, t)
        self.ring.clear()
        return self.current

    def feed(self, frame: np.ndarray, t: float, wanted: bool) -> None:
        """One frame at stream time ``t``; ``wanted``: an event is open on it."""
        if wanted:
            self.until = t + self.post
        if self.writer is not None:
            if self.started_t is None:
                self.started_t = t
            self.writer.put(frame, t)
            if not wanted and t >= self.until:
                self.stop()
        else:
            self.ring.append((frame, t))

    def stop(self) -> None:
        """Finish the clip being recorded (the post-capture may be cut short)."""
        if self.writer is not None:
            self.writer.finish()
            self.writer, self.current, self.started_t = None, None, None

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.abort()
            self.writer, self.current, self.started_t = None, None, None

    def join(self, timeout: float = 30.0) -> None:
        """Wait for the clips still being encoded."""
        for w in self.pending:
            w.join(timeout)
        self.pending = []
