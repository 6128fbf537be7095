"""Frame sources: image folders (CDnet, DAVIS, SBI, UCSD, numbered images), video
files, cameras, RTSP/HTTP streams and in-memory arrays.

Every source is an iterable of :class:`~classicseg.types.Sample` and knows how the
masks of its frames are named so that each benchmark's evaluator reads them as they
are: CDnet ``in000123.jpg`` -> ``bin000123.png`` (0/255), DAVIS ``00012.jpg`` ->
``00012.png`` (indexed, DAVIS palette), anything else keeps its stem; video frames
are numbered ``000001.png`` (1-based, like MOT frame numbers).
"""
from __future__ import annotations

import atexit
import logging
import queue
import re
import threading
import weakref
from collections import deque
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

import cv2
import numpy as np

from classicseg.errors import SourceError
from classicseg.io.images import IMAGE_EXTS
from classicseg.io.limits import MAX_PIXELS_ENV, check_pixels, check_regular_file, image_size, max_pixels
from classicseg.types import Sample

log = logging.getLogger("classicseg")

_TRAILING_INT = re.compile(r"(\d+)$")
_CAPTURE_ONLY = ("open_timeout_ms", "read_timeout_ms", "reconnect", "reconnect_delay_s", "give_up_after_s",
                 "realtime", "loop")
_STREAM_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://", "rtmp://", "udp://", "tcp://")


def trailing_number(stem: str) -> int | None:
    """The digits that end a file stem (``in000123`` -> 123, ``frame_7`` -> 7), or None."""
    m = _TRAILING_INT.search(stem)
    return int(m.group(1)) if m else None


def natural_key(path: Path):
    n = trailing_number(path.stem)
    return (n is None, n if n is not None else 0, path.name)


@dataclass
class Source:
    """Base class. Subclasses implement :meth:`_frames`."""

    kind: str
    name: str
    path: Path | None = None
    fps: float | None = None
    length: int | None = None
    max_bad_frames: int = 10
    prefetch: int = 8
    #: live mode: keep only the newest frame when processing falls behind
    live: bool = False
    #: live mode: frames that may wait before the oldest is dropped
    live_buffer: int = 1
    #: the latest warnings (bounded: a source may run for days)
    warnings: deque = field(default_factory=lambda: deque(maxlen=100))
    #: frames skipped because they could not be decoded
    skipped: int = 0
    #: frames discarded in live mode because processing was slower than the source
    dropped: int = 0
    #: times a camera or stream was reopened after a failure or a stall
    reconnects: int = 0
    #: set from another thread to end the iteration at the next frame (or while waiting for one)
    stop: threading.Event | None = None
    #: reader threads started by iteration, stopped by :meth:`close`
    _readers: list = field(default_factory=list, init=False, repr=False, compare=False)
    #: set when the current iteration ends (its iterator closed or dropped), by :meth:`close` and
    #: at interpreter exit: the reader thread stops, and so does a wait between reconnects
    _closing: threading.Event = field(default_factory=threading.Event, init=False, repr=False, compare=False)

    # -- naming -----------------------------------------------------------
    @property
    def mask_format(self) -> str:
        """``davis`` (indexed palette PNG) or ``binary`` (0/255 PNG)."""
        return "davis" if self.kind == "davis" else "binary"

    def mask_name(self, stem: str) -> str:
        if self.kind == "cdnet" and stem.startswith("in"):
            return f"b{stem}.png"
        return f"{stem}.png"

    def planned_names(self) -> list[str] | None:
        """The frame names this source will give, when known before reading (None: not known)."""
        return None

    # -- iteration ----------------------------------------------------------
    def _frames(self) -> Iterator[tuple[str, np.ndarray | None]]:  # pragma: no cover - abstract
        """Yield ``(stem, frame)``; ``frame`` is None for an undecodable frame."""
        raise NotImplementedError

    def _warn(self, msg: str) -> None:
        self.warnings.append(msg)
        log.warning(msg)

    def _clock(self) -> Callable[[int], float | None]:
        """``stream_time(index)``: frame / fps for files, seconds since the first frame for
        cameras and streams (their frame rate is a promise, not a clock), None without either."""
        if self.kind in ("camera", "stream"):
            t0 = []

            def since_open(_index: int) -> float:
                now = time.monotonic()
                if not t0:
                    t0.append(now)
                return now - t0[0]

            return since_open
        fps = self.fps
        return (lambda index: index / fps) if fps else (lambda index: None)

    def _samples(self) -> Iterator[Sample]:
        bad_run = 0
        shape = None
        index = 0
        clock = None
        for stem, frame in self._frames():
            if clock is None:
                clock = self._clock()
            if frame is None:
                bad_run += 1
                self.skipped += 1
                self._warn(f"{self.name}: frame {stem} could not be decoded, skipped")
                if bad_run >= self.max_bad_frames:
                    raise SourceError(
                        f"{self.name}: {bad_run} unreadable frames in a row (up to {stem}); giving up "
                        f"(raise --max-bad-frames to tolerate more)"
                    )
                continue
            bad_run = 0
            problem = _frame_problem(frame)
            if problem:
                raise SourceError(f"{self.name}: frame {stem}: {problem}")
            if frame.ndim == 3 and frame.shape[2] == 1:
                frame = frame[:, :, 0]
            if frame.ndim == 2:
                frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
            elif frame.shape[2] == 4:
                frame = cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
            if shape is None:
                shape = frame.shape
            elif frame.shape != shape:
                raise SourceError(
                    f"{self.name}: frame {stem} is {frame.shape[1]}x{frame.shape[0]} but earlier frames are "
                    f"{shape[1]}x{shape[0]}"
                )
            yield Sample(index, stem, frame, time=clock(index), wall=time.time())
            index += 1
        if index == 0:
            raise SourceError(f"{self.name}: no frame could be read from {self.path or self.name}")

    def __iter__(self) -> Iterator[Sample]:
        self._closing = stop = threading.Event()
        _STOPS.add(stop)
        it = self._samples()
        if self.live:
            reader = _prefetched(it, self.live_buffer, on_drop=self._dropped, stop=stop, until=self.stop)
        elif self.prefetch > 0 or self.stop is not None:
            reader = _prefetched(it, max(self.prefetch, 1), stop=stop, until=self.stop)
        else:
            return it
        # held weakly: an iterator its consumer drops is collected, which stops its reader thread
        # (the thread itself keeps the source alive, so a strong reference here would never go)
        self._readers = [r for r in self._readers if r() is not None] + [weakref.ref(reader)]
        return reader

    def _dropped(self) -> None:
        self.dropped += 1

    def close(self) -> None:
        """Stop reader threads, release the device or file (sources are also context managers).

        A run that ends on an error elsewhere (a stage, a prior, a sink) leaves the reader
        generator suspended; closing it here stops its thread before the interpreter exits,
        so the thread is never torn down inside a native decoder call.
        """
        self._closing.set()
        readers, self._readers = self._readers, []
        for ref in readers:
            r = ref()
            if r is not None:
                r.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _frame_problem(frame) -> str | None:
    """Why ``frame`` cannot be a frame (None when it can): uint8, (H, W) or (H, W, 1|3|4)."""
    if not isinstance(frame, np.ndarray):
        return f"expected a numpy array, got {type(frame).__name__}"
    if frame.dtype != np.uint8:
        return (f"expected uint8 pixels, got {frame.dtype} (scale floats to 0..255 and convert: "
                f"frame.astype(np.uint8))")
    if frame.ndim not in (2, 3) or (frame.ndim == 3 and frame.shape[2] not in (1, 3, 4)):
        return f"expected an (H, W) or (H, W, 3) image, got shape {frame.shape}"
    if frame.shape[0] < 1 or frame.shape[1] < 1:
        return f"empty image of shape {frame.shape}"
    limit = max_pixels()
    if frame.shape[0] * frame.shape[1] > limit:
        return (f"{frame.shape[1]}x{frame.shape[0]} is above the limit of {limit / 1e6:g} megapixels "
                f"(set {MAX_PIXELS_ENV} to raise it)")
    return None


def as_samples(frames: Iterable) -> Iterable[Sample]:
    """``frames`` as samples: a source or samples as they are; bare arrays (or
    ``(name, array)`` pairs) checked and wrapped like a source's frames (grey and BGRA
    become BGR; one size throughout; names ``000001``... from 1)."""
    if isinstance(frames, Source):
        return frames
    it = iter(frames)
    try:
        first = next(it)
    except StopIteration:
        return iter(())
    if isinstance(first, Sample):
        return _checked_samples(_chain_first(first, it))
    return ArraySource(kind="arrays", name="frames", items=_chain_first(first, it), prefetch=0)


def _chain_first(first, rest: Iterator) -> Iterator:
    yield first
    yield from rest


def _checked_samples(samples: Iterator[Sample]) -> Iterator[Sample]:
    """Samples made elsewhere, each image checked like a source's frame."""
    for s in samples:
        if not isinstance(s, Sample):
            raise SourceError(f"frames: expected Sample objects throughout, got {type(s).__name__}")
        problem = _frame_problem(s.image)
        if problem is None and (s.image.ndim != 3 or s.image.shape[2] != 3):
            problem = f"a sample's image must be BGR (H, W, 3), got shape {s.image.shape}"
        if problem:
            raise SourceError(f"frame {s.name}: {problem}")
        yield s


#: (stop event, thread) of every reader thread still running
_READERS: set = set()
#: the stop events of iterations not yet collected (set at exit: readers and reconnect waits end)
_STOPS: weakref.WeakSet = weakref.WeakSet()


@atexit.register
def _stop_readers() -> None:
    """At interpreter exit, stop the reader threads of sources nobody closed.

    A daemon thread still inside a native decoder when the interpreter finalises is torn
    down there, which aborts the process ("terminate called without an active exception").
    This runs before that: each reader finishes the frame it is decoding and returns.
    """
    for stop in list(_STOPS):
        stop.set()  # a stream waiting to reconnect stops waiting
    readers = list(_READERS)
    for stop, _ in readers:
        stop.set()
    for _, t in readers:
        if t is not None:
            t.join(timeout=5.0)


def _prefetched(it: Iterator, depth: int, on_drop: Callable[[], None] | None = None,
                stop: threading.Event | None = None, until: threading.Event | None = None) -> Iterator:
    """Run ``it`` in a reader thread, ``depth`` items ahead (decoding releases the GIL).

    With ``on_drop`` the queue keeps only the newest items: when the consumer falls
    behind, the oldest waiting item is discarded and ``on_drop()`` is called (live
    work on a camera or stream, where the latest frame matters most). ``stop`` ends the
    reader (set when the iteration ends, by ``close`` and at interpreter exit); with ``until``
    (a caller's stop request) the iteration ends once that is set, also while waiting for a
    frame that does not come.
    """
    q: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event() if stop is None else stop
    entry = (stop, None)

    def put(item, droppable: bool) -> None:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return
            except queue.Full:
                if droppable and on_drop is not None:
                    try:
                        q.get_nowait()
                        on_drop()
                    except queue.Empty:
                        pass

    def reader():
        try:
            for item in it:
                put(item, droppable=True)
                if stop.is_set():
                    return
            put(done, droppable=False)
        except BaseException as exc:  # handed to the consumer, raised there
            put(exc, droppable=False)
        finally:
            _READERS.discard(entry)

    t = threading.Thread(target=reader, name="classicseg-reader", daemon=True)
    entry = (stop, t)
    _READERS.add(entry)
    t.start()
    try:
        while True:
            if until is None:
                item = q.get()
            else:
                try:
                    item = q.get(timeout=0.2)
                except queue.Empty:
                    if until.is_set():
                        return
                    continue
                if until.is_set():
                    return
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        # the reader notices within one queue timeout, after the frame it is decoding; a
        # source stalled inside a read has its own timeouts (streams) or is a file
        if t is not threading.current_thread():  # (collected in its own thread once the source is gone)
            t.join(timeout=2.0)


# -- image folders ---------------------------------------------------------------
@dataclass
class ImageFolderSource(Source):
    files: list[Path] = field(default_factory=list)

    def planned_names(self) -> list[str]:
        return [f.stem for f in self.files]

    def _frames(self):
        for f in self.files:
            yield f.stem, cv2.imread(str(f), cv2.IMREAD_COLOR)


def _list_images(folder: Path) -> list[Path]:
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTS]
    return sorted(files, key=natural_key)


def _check_sizes(files: list[Path], name: str) -> None:
    """All images in a folder must have one size within the pixel limit (read from headers,
    no decoding)."""
    first = None
    for f in files:
        size = image_size(f)
        if size is None:  # undecodable header: reported (and skipped) when read
            continue
        if first is None:
            check_pixels(size[0], size[1], f"{name}: frame {f.name}")
            first = (f, size)
        elif size != first[1]:
            raise SourceError(
                f"{name}: mixed image sizes: {f.name} is {size[0]}x{size[1]} but "
                f"{first[0].name} is {first[1][0]}x{first[1][1]}"
            )


def open_folder(path: Path, **kw) -> ImageFolderSource:
    """Recognise the folder layout and return its source."""
    for key in _CAPTURE_ONLY:
        kw.pop(key, None)
    folder, kind = path, "folder"
    if (path / "input").is_dir():  # CDnet / SBI sequence folder
        folder, kind = path / "input", "cdnet"
    elif (path / "in").is_dir():  # UCSD sequence folder
        folder = path / "in"
    files = _list_images(folder)
    if not files:
        raise SourceError(f"no images in {folder}")
    stems = [f.stem for f in files]
    if kind == "folder":
        if folder.name == "input" and all(re.fullmatch(r"in\d+", s) for s in stems):
            kind = "cdnet"
        elif all(re.fullmatch(r"\d{5}", s) for s in stems) and (
            "JPEGImages" in folder.parts or (folder.parent.parent.name == "JPEGImages")
        ):
            kind = "davis"
    seq = path.name
    src = ImageFolderSource(kind=kind, name=seq, path=path, files=files, length=len(files), **kw)
    seen: dict[str, Path] = {}
    for f in files:
        mask = src.mask_name(f.stem)
        if mask in seen:
            raise SourceError(f"{seq}: frames {seen[mask].name} and {f.name} would both write mask {mask}: "
                              f"keep one of them")
        seen[mask] = f
    _check_sizes(files, seq)
    return src


# -- videos, cameras, streams ----------------------------------------------------
@dataclass
class CaptureSource(Source):
    target: str | int = 0
    open_timeout_ms: int = 10000
    read_timeout_ms: int = 10000
    #: cameras and streams: reopen after a failed read or a stall (videos never)
    reconnect: bool = True
    reconnect_delay_s: float = 1.0
    #: give up when no frame came for this long (None: keep trying for ever)
    give_up_after_s: float | None = None
    #: video files: hand out frames no faster than the file's frame rate (as a camera would)
    realtime: bool = False
    #: video files: start again from the first frame at the end (frame numbers go on)
    loop: bool = False
    _cap: object = None
    _file_frames: int | None = None

    def _open(self):
        if isinstance(self.target, int):
            cap = cv2.VideoCapture(self.target)
        elif self.kind == "stream":
            params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, self.open_timeout_ms,
                      cv2.CAP_PROP_READ_TIMEOUT_MSEC, self.read_timeout_ms]
            cap = cv2.VideoCapture(self.target, cv2.CAP_FFMPEG, params)
        else:
            cap = cv2.VideoCapture(self.target)
        if not cap.isOpened():
            what = {"camera": "camera", "stream": "stream"}.get(self.kind, "video")
            raise SourceError(f"cannot open {what} {self.target}")
        w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        if w > 0 and h > 0:
            try:
                check_pixels(w, h, f"{self.name}: frames")
            except SourceError:
                cap.release()
                raise
        fps = cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if fps and fps > 0 else None
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        self._file_frames = n if self.kind == "video" and n > 0 else None
        self.length = None if self.loop else self._file_frames
        return cap

    def _reopen(self, last_frame_at: float):
        """Reopen a camera or stream after a failure, with doubling delays (watchdog)."""
        delay = self.reconnect_delay_s
        while True:
            if self._closing.is_set():  # nobody reads any more
                raise SourceError(f"{self.name}: closed while reconnecting")
            waited = time.monotonic() - last_frame_at
            if self.give_up_after_s is not None and waited >= self.give_up_after_s:
                raise SourceError(f"{self.name}: no frame for {waited:.0f} s and it cannot be reopened; giving up")
            self._warn(f"{self.name}: {self.kind} stalled or lost; reconnecting in {delay:g} s")
            deadline = time.monotonic() + delay
            while time.monotonic() < deadline:  # closed, exiting or asked to stop: no more reconnecting
                if self._closing.wait(min(0.2, max(deadline - time.monotonic(), 0.0))) or (
                        self.stop is not None and self.stop.is_set()):
                    raise SourceError(f"{self.name}: closed while reconnecting")
            try:
                cap = self._open()
            except SourceError:
                delay = min(2 * delay, 30.0)
                continue
            self.reconnects += 1
            log.warning("%s: reconnected (%d so far)", self.name, self.reconnects)
            return cap

    def _frames(self):
        cap = self._cap if self._cap is not None else self._open()
        self._cap = None  # a second iteration opens the target again
        live_device = self.kind in ("camera", "stream") and self.reconnect
        pace = 1.0 / self.fps if self.realtime and self.kind == "video" and self.fps else None
        try:
            number = 0
            in_pass = 0  # frames read since the file was (re)opened
            last_frame_at = time.monotonic()
            while True:
                ok, frame = cap.read()
                if ok:
                    number += 1
                    in_pass += 1
                    if pace is not None:
                        wait = last_frame_at + pace - time.monotonic()
                        if wait > 0:
                            time.sleep(wait)
                        last_frame_at = max(last_frame_at + pace, time.monotonic() - pace)
                    else:
                        last_frame_at = time.monotonic()
                    yield f"{number:06d}", frame
                    continue
                if live_device:  # the model lives on in the pipeline; only the device is reopened
                    cap.release()
                    cap = self._reopen(last_frame_at)
                    continue
                # a failed read inside the known length is a corrupt frame, past it the end
                if self._file_frames is not None and in_pass + 1 < self._file_frames:
                    number += 1
                    in_pass += 1
                    yield f"{number:06d}", None
                    continue
                if number == 0 and self.skipped == 0:
                    raise SourceError(f"{self.name}: video has no frames: {self.target}")
                if self.loop and self.kind == "video" and in_pass > 0:
                    cap.release()
                    cap = self._open()
                    in_pass = 0
                    continue
                return
        finally:
            cap.release()

    def planned_names(self) -> list[str] | None:
        if self.kind == "video" and self.length:
            return [f"{i:06d}" for i in range(1, self.length + 1)]
        return None

    def close(self) -> None:
        super().close()  # the reader thread first: it may be inside cap.read()
        if self._cap is not None:
            self._cap.release()
            self._cap = None


@dataclass
class ArraySource(Source):
    """Frames already in memory: ``(stem, frame)`` pairs or bare frames."""

    items: Iterable = ()

    def _frames(self):
        for i, item in enumerate(self.items):
            if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
                yield item
            else:
                yield f"{i + 1:06d}", item


def open_source(spec, **kw) -> Source:
    """Open a source from a CLI-style spec.

    ``spec`` is a folder of images (CDnet/SBI/UCSD sequence folders and DAVIS
    ``JPEGImages/480p/<seq>`` are recognised), a video file, a camera index (``0``)
    or a stream URL (``rtsp://``, ``http://``...).
    """
    if isinstance(spec, int) or (isinstance(spec, str) and spec.isdigit()):
        src = CaptureSource(kind="camera", name=f"camera{int(spec)}", target=int(spec), **kw)
        src._cap = src._open()
        return src
    s = str(spec)
    if s.startswith(_STREAM_SCHEMES):
        src = CaptureSource(kind="stream", name=s.rstrip("/").split("/")[-1] or "stream", target=s, **kw)
        src._cap = src._open()
        return src
    path = Path(s)
    if not path.exists():
        raise SourceError(f"input not found: {path}")
    if path.is_dir():
        return open_folder(path, **kw)
    check_regular_file(path, "input")  # a FIFO or a device would block or never end
    if path.suffix.lower() in IMAGE_EXTS:
        raise SourceError(f"input is a single image, expected a video or a folder of frames: {path}")
    try:
        with open(path, "rb") as f:
            if not f.read(1):
                raise SourceError(f"cannot open video {path}: the file is empty (0 bytes)")
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror}") from None
    src = CaptureSource(kind="video", name=path.stem, path=path, target=str(path), **kw)
    src._cap = src._open()
    try:
        _check_one_size(path, src.name)
    except SourceError:
        src.close()
        raise
    return src


def _check_one_size(path: Path, name: str) -> None:
    """Refuse a video whose frame size changes part-way (OpenCV would rescale the later frames
    to the first size without a word). Sizes change only at key frames, so only those are
    decoded (PyAV, when installed; without it the check is skipped)."""
    try:
        import av
    except ImportError:
        log.debug("PyAV not installed: %s not checked for a frame size that changes", path)
        return
    first = None
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                return
            stream = container.streams.video[0]
            stream.codec_context.skip_frame = "NONKEY"
            for frame in container.decode(stream):
                size = (frame.width, frame.height)
                if first is None:
                    first = size
                elif size != first:
                    at = f" at {float(frame.time):.2f} s" if frame.time is not None else ""
                    raise SourceError(f"{name}: the frame size changes{at} from {first[0]}x{first[1]} to "
                                      f"{size[0]}x{size[1]}; split the video or re-encode it at one size")
    except SourceError:
        raise
    except Exception as exc:  # noqa: BLE001 - a damaged file: OpenCV reads what it can and reports it
        log.debug("%s: frame sizes not checked (%s)", path, exc)
