"""Reading and atomically writing single images and small files."""
from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path

import cv2
import numpy as np

from classicseg.errors import SinkError, SourceError

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".ppm", ".pgm", ".pbm", ".webp")


def read_image(path, flags: int = cv2.IMREAD_COLOR) -> np.ndarray:
    """Read an image or raise :class:`SourceError` naming the file."""
    path = Path(path)
    if not path.is_file():
        raise SourceError(f"image not found: {path}")
    data = np.fromfile(str(path), dtype=np.uint8)
    img = cv2.imdecode(data, flags) if data.size else None
    if img is None:
        raise SourceError(f"cannot decode image: {path}")
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
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.part")  # one per writer thread
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise SinkError(f"cannot write {path}: {exc.strerror or exc}") from None
        raise


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
