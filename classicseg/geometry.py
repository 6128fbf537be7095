"""Boxes: overlap, regions of interest and the conventions users combine us with.

classicseg writes boxes as ``(x, y, w, h)`` in pixels (MOTChallenge's ``left, top, width,
height``): :class:`~classicseg.types.Blob` boxes, the ``tracks`` slot and ``tracks.txt``.
Work boxes around an object (:func:`roi_box`) are ``(y0, y1, x0, x1)`` slices. Other
libraries use corners, ``(x0, y0, x1, y1)`` (``xyxy``: torchvision, supervision, COCO's
``bbox`` is ``xywh``); :func:`xywh_to_xyxy` / :func:`xyxy_to_xywh` convert, and
:func:`to_detections` gives a frame's tracks as ``supervision.Detections`` when that
package is installed.

Nothing here imports another classicseg module: stages, metrics and front ends all use it.
"""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np

__all__ = ["box_iou", "roi_box", "xywh_to_xyxy", "xyxy_to_xywh", "clip_xywh", "tracks_to_arrays",
           "to_detections"]

_EPS = np.finfo(float).eps


def box_iou(a, b) -> np.ndarray:
    """IoU of every pair of ``(x, y, w, h)`` boxes.

    Parameters
    ----------
    a, b : array_like
        ``(N, 4)`` and ``(M, 4)`` boxes (a single box may be given as 4 numbers).

    Returns
    -------
    ndarray
        float64 ``(N, M)``; 0 where the union is empty.

    Examples
    --------
    >>> box_iou([[0, 0, 10, 10]], [[5, 0, 10, 10], [0, 0, 10, 10]]).round(3).tolist()
    [[0.333, 1.0]]
    """
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    ax1, ay1 = a[:, 0] + a[:, 2], a[:, 1] + a[:, 3]
    bx1, by1 = b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    iw = np.minimum(ax1[:, None], bx1[None]) - np.maximum(a[:, 0, None], b[None, :, 0])
    ih = np.minimum(ay1[:, None], by1[None]) - np.maximum(a[:, 1, None], b[None, :, 1])
    inter = np.clip(iw, 0, None) * np.clip(ih, 0, None)
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None] - inter
    out = np.zeros_like(inter)
    np.divide(inter, union, out=out, where=union > _EPS)
    return out


def roi_box(mask: np.ndarray, margin: float = 0.25, min_margin: int = 16) -> tuple[int, int, int, int] | None:
    """The bounding box of ``mask`` grown by ``margin`` × its size (at least ``min_margin``
    px), clipped to the frame.

    Returns
    -------
    (y0, y1, x0, x1) or None
        Slices of the work region; ``None`` for an empty mask.

    Examples
    --------
    >>> m = np.zeros((50, 50), bool); m[20:30, 10:20] = True
    >>> roi_box(m, 0.5, 2)
    (15, 35, 5, 25)
    """
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    h, w = mask.shape
    my = max(int(margin * (rows[-1] - rows[0] + 1)), min_margin)
    mx = max(int(margin * (cols[-1] - cols[0] + 1)), min_margin)
    return (max(rows[0] - my, 0), min(rows[-1] + 1 + my, h), max(cols[0] - mx, 0), min(cols[-1] + 1 + mx, w))


def xywh_to_xyxy(boxes) -> np.ndarray:
    """``(x, y, w, h)`` boxes as corners ``(x0, y0, x1, y1)`` (float64 ``(N, 4)``)."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4).copy()
    b[:, 2:] += b[:, :2]
    return b


def xyxy_to_xywh(boxes) -> np.ndarray:
    """Corner boxes ``(x0, y0, x1, y1)`` as ``(x, y, w, h)`` (float64 ``(N, 4)``)."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4).copy()
    b[:, 2:] -= b[:, :2]
    if (b[:, 2:] < 0).any():
        raise ValueError("xyxy boxes must have x1 >= x0 and y1 >= y0")
    return b


def clip_xywh(boxes, shape: tuple[int, int]) -> np.ndarray:
    """``(x, y, w, h)`` boxes clipped to a frame of ``shape = (H, W)`` (empty boxes keep w/h 0)."""
    xyxy = xywh_to_xyxy(boxes)
    h, w = shape
    xyxy[:, [0, 2]] = xyxy[:, [0, 2]].clip(0, w)
    xyxy[:, [1, 3]] = xyxy[:, [1, 3]].clip(0, h)
    return xyxy_to_xywh(xyxy)


def tracks_to_arrays(tracks: Iterable[tuple[int, tuple[float, float, float, float]]]) -> tuple[np.ndarray, np.ndarray]:
    """A ``tracks`` slot (``[(id, (x, y, w, h)), ...]``) as ``(ids int64 (N,), xyxy float64 (N, 4))``."""
    items = list(tracks)
    ids = np.array([int(t) for t, _ in items], dtype=np.int64)
    boxes = xywh_to_xyxy([b for _, b in items]) if items else np.zeros((0, 4))
    return ids, boxes


def to_detections(sample) -> Any:
    """A frame's tracks (or, without tracks, its blobs) as ``supervision.Detections``.

    ``tracker_id`` carries the track ids. Needs the ``supervision`` package, which is not
    a dependency of classicseg (it installs a second OpenCV wheel next to ours: install it
    with ``pip install --no-deps supervision`` in an environment that has our OpenCV).

    Raises
    ------
    ImportError
        supervision is not installed.
    """
    import supervision as sv  # noqa: PLC0415 - optional

    tracks = sample.data.get("tracks")
    if tracks is not None:
        ids, xyxy = tracks_to_arrays(tracks)
        return sv.Detections(xyxy=xyxy.astype(np.float32), tracker_id=ids)
    blobs = sample.data.get("blobs") or []
    xyxy = xywh_to_xyxy([b.box for b in blobs]) if blobs else np.zeros((0, 4))
    return sv.Detections(xyxy=xyxy.astype(np.float32))
