"""Reading and atomically writing single images and small files.

Temporary files are created beside their target under a new random name, opened with
``O_EXCL | O_NOFOLLOW`` (a name planted in advance, or a symlink, is never written
through), and carry this process's :data:`TEMP_TAG` so that a later run can tell the
leftovers of a killed run from anything else (see :mod:`classicseg.io.outputs`).
"""
from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path

import cv2
import numpy as np

from classicseg.errors import ClassicsegError, SinkError, SourceError
from classicseg.io.limits import check_pixels, check_regular_file, image_size

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".ppm", ".pgm", ".pbm", ".webp")


#: In the name of every temporary file this process creates: ``.<name>.<TEMP_TAG>-<random>.part``.
TEMP_TAG = secrets.token_hex(4)


def check_image_header(path, what: str = "image", error: type[ClassicsegError] = SourceError) -> None:
    """Refuse an image whose header claims more pixels than the limit (nothing is decoded)."""
    size = image_size(path)
    if size is not None:
        check_pixels(size[0], size[1], f"{what} {Path(path).name}", error)


def read_image(path, flags: int = cv2.IMREAD_COLOR, what: str = "image",
               error: type[ClassicsegError] = SourceError) -> np.ndarray:
    """Read an image or raise ``error`` naming the file (a regular file within the pixel limit)."""
    path = check_regular_file(path, what, error)
    check_image_header(path, what, error)
    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    img = cv2.imdecode(data, flags) if data.size else None
    if img is None:
        raise error(f"cannot decode {what}: {path}")
    return img


def read_mask(path) -> np.ndarray:
    """A mask image as bool: non-zero grey levels are set (palette images by their colours)."""
    img = read_image(path, cv2.IMREAD_GRAYSCALE)
    return img > 0


def atomic_write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder.

    A reader never sees a half-written file, and an interrupted write leaves the
    previous content (or nothing) in place.
    """
    path = Path(path)
    fd, tmp = create_temp(path)
    try:
        with open(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            err = SinkError(f"cannot write {path}: {exc.strerror or exc}")
            err.errno = exc.errno  # ENOSPC: the disk is full
            raise err from None
        raise


def temp_name(path, keep_suffix: bool = False) -> Path:
    """A new temporary name beside ``path`` (see the module docstring); ``keep_suffix`` ends
    it with ``path``'s extension too (a video writer picks its container by it)."""
    path = Path(path)
    return path.with_name(f".{path.name}.{TEMP_TAG}-{secrets.token_hex(6)}.part{path.suffix if keep_suffix else ''}")


def create_temp(path, keep_suffix: bool = False) -> tuple[int, Path]:
    """Create a new temporary file beside ``path``: ``(fd, name)``, opened for writing with
    ``O_EXCL | O_NOFOLLOW`` and the usual permissions (umask)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    for _ in range(16):
        tmp = temp_name(path, keep_suffix)
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
        except OSError as exc:
            raise SinkError(f"cannot write {path}: {exc.strerror or exc}") from None
    raise SinkError(f"cannot create a temporary file beside {path}")  # pragma: no cover


def atomic_write_text(path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def encode_png(img: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", img)
    if not ok:  # pragma: no cover - cv2 fails only on invalid arrays
        raise SinkError(f"cannot encode a {img.dtype} {img.shape} array as PNG")
    return buf.tobytes()


def write_image(path, img: np.ndarray) -> None:
    """Encode by the file extension and write atomically."""
    path = Path(path)
    ok, buf = cv2.imencode(path.suffix or ".png", img)
    if not ok:  # pragma: no cover
        raise SinkError(f"cannot encode {path.name}")
    atomic_write_bytes(path, buf.tobytes())


def ensure_writable_dir(path) -> Path:
    """Create ``path`` if needed and check a file can be written there."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".probe.", dir=path)
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        raise SinkError(f"output folder {path} cannot be written: {exc.strerror or exc}") from None
    return path
