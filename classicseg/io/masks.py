"""Mask files: DAVIS indexed PNGs and their palette, object-id maps, first-frame annotations.

An *id map* is ``uint8 (H, W)``: 0 is background, 1..254 are objects, and in DAVIS files
255 is "void" (:data:`VOID`, not scored). Indexed PNGs (mode ``P``) store the ids as
palette indices with the DAVIS (PASCAL VOC) colours, which is how DAVIS and YouTube-VOS
annotations and predictions are written.
"""
from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

import numpy as np

from classicseg.errors import ClassicsegError, SourceError

__all__ = ["VOID", "davis_palette", "read_indexed_mask", "encode_indexed_png", "read_init_mask",
           "check_init_mask"]

#: Annotation index of "void" pixels in indexed DAVIS PNGs (excluded from J and F).
VOID = 255


@lru_cache(maxsize=1)
def davis_palette() -> np.ndarray:
    """The 256-colour DAVIS (PASCAL VOC) palette, ``uint8 (256, 3)`` RGB (read-only)."""
    pal = np.zeros((256, 3), dtype=np.uint8)
    for i in range(256):
        c, r, g, b = i, 0, 0, 0
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        pal[i] = (r, g, b)
    pal.flags.writeable = False
    return pal


def _gray_ids(a: np.ndarray, path: Path, error: type[ClassicsegError]) -> np.ndarray:
    """A grey (8- or 16-bit) mask as ids.

    One non-zero value is one object (a 0/255 or 0/1 mask; a single value up to 127 is
    kept as that id). Several values are the ids themselves (255 is void, as in palette
    files), unless 255 holds nearly all the set pixels or there are more than 64 values
    (a 0/255 mask with soft edges: > 127 is the object). 16-bit files holding 8-bit values
    scaled by 257 are scaled back; any other value above 255 cannot be an id.
    """
    if a.dtype != np.uint8:
        if a.size and (a.dtype.kind == "f" and not np.array_equal(a, np.floor(a)) or a.min() < 0):
            raise error(f"mask {path.name}: {a.dtype} values are not object ids")
        hi = int(a.max()) if a.size else 0
        if hi > 255:
            if not (a % 257).any():  # 8-bit values stored as 16-bit
                a = a // 257
            elif np.isin(a, (0, hi)).all():  # a 0/65535 mask: one object
                a = (a > 0) * 255
            else:
                raise error(f"mask {path.name}: 16-bit value {hi}: object ids must lie in 1..254 "
                            f"(save ids as an indexed PNG, or one object as a 0/255 mask)")
        a = a.astype(np.uint8)
    counts = np.bincount(a.ravel(), minlength=256)
    values = np.flatnonzero(counts[1:]) + 1
    if values.size == 0:
        return a
    if values.size == 1:
        return (a > 0).astype(np.uint8) if values[0] > 127 else a
    set_pixels = counts[1:].sum()
    if values.size > 64 or counts[255] >= 0.9 * set_pixels:
        return (a > 127).astype(np.uint8)
    return a


def read_indexed_mask(path, error: type[ClassicsegError] = SourceError) -> np.ndarray:
    """Read a DAVIS annotation or prediction PNG as object ids.

    Parameters
    ----------
    path : path-like
        Indexed PNG (mode 'P': the palette indices are the ids, 255 = void), grayscale
        (see below), or RGB drawn with the DAVIS palette. A grey mask with one non-zero
        value is one object (a 0/255 DAVIS 2016 mask: > 127 -> 1; a single value up to
        127 is kept as that id); with several values the values are the ids (255 = void),
        unless 255 holds 90 % of the set pixels or there are more than 64 values (a soft
        0/255 mask: > 127 -> 1). 16-bit ids above 255 are an error.
    error : ClassicsegError subclass
        Raised for an unreadable file, an image above the pixel limit, a colour outside the
        palette or an id above 255 (scoring passes :class:`~classicseg.errors.EvalError`).

    Returns
    -------
    numpy.ndarray
        ``uint8 (H, W)`` ids, 0 = background.

    References
    ----------
    J. Pont-Tuset et al., "The 2017 DAVIS Challenge on Video Object Segmentation",
    arXiv:1704.00675 (indexed annotation format).
    """
    from classicseg.io.limits import check_regular_file, open_image

    path = check_regular_file(path, "mask", error)
    try:
        with open_image(path, f"mask {path.name}", error) as im:
            mode = im.mode
            if mode == "P":
                return np.array(im, dtype=np.uint8)
            if mode == "1":
                return np.array(im, dtype=np.uint8)
            if mode in ("L", "I", "I;16", "I;16B", "I;16L", "F"):
                return _gray_ids(np.asarray(im), path, error)
            if mode == "LA":
                return _gray_ids(np.asarray(im)[:, :, 0], path, error)
            rgb = np.asarray(im.convert("RGB"))
    except (OSError, ValueError, SyntaxError) as exc:
        raise error(f"cannot read mask {path}: {exc}") from None
    if np.array_equal(rgb[:, :, 0], rgb[:, :, 1]) and np.array_equal(rgb[:, :, 0], rgb[:, :, 2]):
        return _gray_ids(rgb[:, :, 0], path, error)
    code = (rgb[:, :, 0].astype(np.int32) << 16) | (rgb[:, :, 1].astype(np.int32) << 8) | rgb[:, :, 2]
    pal = davis_palette().astype(np.int32)
    pal_code = (pal[:, 0] << 16) | (pal[:, 1] << 8) | pal[:, 2]
    order = np.argsort(pal_code)
    pos = np.clip(np.searchsorted(pal_code[order], code), 0, 255)
    ok = pal_code[order][pos] == code
    if not ok.all():
        y, x = np.argwhere(~ok)[0]
        raise error(f"mask {path.name} has colour {tuple(int(v) for v in rgb[y, x])} at "
                    f"x={x}, y={y}, which is not in the DAVIS palette")
    return order[pos].astype(np.uint8)


def encode_indexed_png(ids: np.ndarray) -> bytes:
    """An object-id map (uint8) as a palette PNG with the DAVIS colours."""
    from PIL import Image

    ids = np.ascontiguousarray(ids, dtype=np.uint8)
    im = Image.frombytes("P", (ids.shape[1], ids.shape[0]), ids.tobytes())
    im.putpalette(davis_palette().ravel().tolist())
    buf = io.BytesIO()
    im.save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def check_init_mask(ids: np.ndarray, shape: tuple[int, int] | None, what: str = "init mask") -> None:
    """Raise :class:`~classicseg.errors.ClassicsegError` for an empty mask or one of the wrong size."""
    if ids.ndim != 2:
        raise ClassicsegError(f"{what}: expected a 2-D mask, got shape {ids.shape}")
    if shape is not None and ids.shape != tuple(shape):
        raise ClassicsegError(f"{what} is {ids.shape[1]}x{ids.shape[0]} but the frames are {shape[1]}x{shape[0]}")
    if not ids.any():
        raise ClassicsegError(f"{what} contains no object (all pixels are background)")


def read_init_mask(path, shape: tuple[int, int] | None = None) -> np.ndarray:
    """A first-frame annotation as object ids ``uint8 (H, W)`` (0 = background).

    Reads DAVIS indexed PNGs (palette indices are the ids; 255 = void -> 0), 0/255
    masks (one object) and id images. Raises :class:`~classicseg.errors.SourceError` when
    the file cannot be read, and :class:`~classicseg.errors.ClassicsegError` when it holds
    no object or (given ``shape``) has another size.
    """
    from classicseg.io.limits import check_regular_file

    path = check_regular_file(path, "init mask")
    ids = read_indexed_mask(path).copy()
    ids[ids == VOID] = 0
    check_init_mask(ids, shape, str(path))
    return ids
