"""Limits on what classicseg decodes and allocates.

* A pixel limit on every image it reads (frames, first-frame masks, priors, keyframes,
  ground truth, ROI images) and on frames handed over as arrays, checked from the file's
  header before anything is decoded: :data:`DEFAULT_MAX_PIXELS` (50 megapixels, e.g.
  8K video is 33), raised or lowered with the environment variable
  ``CLASSICSEG_MAX_PIXELS``. A PNG whose header claims 100000x100000 is refused in
  microseconds instead of asking for 30 GB.
* The memory a pipeline's per-pixel state will need (:func:`check_memory`), compared
  before the first frame with what the machine (``MemAvailable``) and the process
  (``RLIMIT_AS``) can still give.
* Regular files only (:func:`check_regular_file`): a FIFO, socket or device given as an
  input would block for ever or never end.
"""
from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

from classicseg.errors import ClassicsegError, SourceError

__all__ = ["DEFAULT_MAX_PIXELS", "MAX_PIXELS_ENV", "max_pixels", "check_pixels", "image_size", "open_image",
           "check_regular_file", "available_memory", "check_memory"]

#: Largest image, in pixels, read or accepted as a frame unless ``CLASSICSEG_MAX_PIXELS`` says otherwise.
DEFAULT_MAX_PIXELS = 50_000_000
MAX_PIXELS_ENV = "CLASSICSEG_MAX_PIXELS"


def max_pixels() -> int:
    """The pixel limit: ``CLASSICSEG_MAX_PIXELS`` when set (a positive integer), else the default."""
    raw = os.environ.get(MAX_PIXELS_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_PIXELS
    try:
        value = int(raw)
    except ValueError:
        try:
            value = int(float(raw))  # 5e7
        except (ValueError, OverflowError):
            value = 0
    if value < 1:
        raise ClassicsegError(f"{MAX_PIXELS_ENV} must be a positive number of pixels, got {raw!r}")
    return value


def check_pixels(width: int, height: int, what: str, error: type[ClassicsegError] = SourceError) -> None:
    """Raise ``error`` when a ``width`` x ``height`` image is above the pixel limit."""
    limit = max_pixels()
    if width * height > limit:
        raise error(f"{what} is {width}x{height} ({width * height / 1e6:.0f} megapixels), above the limit of "
                    f"{limit / 1e6:g} megapixels (set {MAX_PIXELS_ENV} to raise it)")


_PIL_LOCK = threading.Lock()


def _open_pil(path):
    """``PIL.Image.open`` without Pillow's own size guard (its warning, and its error at 179
    megapixels): callers check the size against :func:`max_pixels` instead, before decoding."""
    from PIL import Image

    with _PIL_LOCK:
        old = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            return Image.open(path)
        finally:
            Image.MAX_IMAGE_PIXELS = old


def open_image(path, what: str, error: type[ClassicsegError] = SourceError):
    """The image file opened with Pillow (header read, nothing decoded) after checking its
    size against the pixel limit; use it as a context manager. Pillow's own errors
    (``OSError`` for an unknown format) pass through."""
    im = _open_pil(path)
    try:
        check_pixels(im.size[0], im.size[1], what, error)
    except BaseException:
        im.close()
        raise
    return im


def image_size(path) -> tuple[int, int] | None:
    """``(width, height)`` from an image file's header (nothing is decoded), or None when
    the header cannot be read (the decoder then reports the file)."""
    try:
        with _open_pil(path) as im:
            return im.size
    except Exception:  # noqa: BLE001 - unknown format or a damaged header: not ours to report here
        return None


def check_regular_file(path, what: str, error: type[ClassicsegError] = SourceError) -> Path:
    """``path`` if it is a regular file (after symlinks); else ``error`` naming what it is."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except OSError:
        raise error(f"{what} not found: {path}") from None
    if not stat.S_ISREG(mode):
        kind = ("a folder" if stat.S_ISDIR(mode) else "a FIFO (named pipe)" if stat.S_ISFIFO(mode)
                else "a socket" if stat.S_ISSOCK(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
                else "not a regular file")
        raise error(f"{what} {path} is {kind}, not a file")
    return path


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _address_space_left() -> int | None:
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    except (ImportError, OSError, ValueError):
        return None
    if soft == resource.RLIM_INFINITY:
        return None
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            used = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None
    return max(0, soft - used)


def available_memory() -> int | None:
    """Bytes this process can still allocate: the smaller of the machine's available memory
    and what the address-space limit leaves (None when neither is known)."""
    known = [v for v in (_meminfo_available(), _address_space_left()) if v is not None]
    return min(known) if known else None


def check_memory(needed: int, what: str, error: type[ClassicsegError] = SourceError) -> None:
    """Raise ``error`` when ``needed`` bytes are more than :func:`available_memory`."""
    avail = available_memory()
    if avail is not None and needed > avail:
        raise error(f"{what} need about {needed / 2**30:.1f} GiB, but only {avail / 2**30:.1f} GiB of memory "
                    f"is available")
