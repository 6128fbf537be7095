"""Writing sequences in a benchmark's own layout (used by the demo and tests)."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np

from classicseg.io.images import atomic_write_text, ensure_writable_dir, write_image


def write_cdnet_sequence(
    folder, frames: Iterable[tuple[np.ndarray, np.ndarray]], temporal_roi: tuple[int, int],
    roi: np.ndarray | None = None, frame_ext: str = ".jpg",
) -> int:
    """Write ``(frame, gt)`` pairs as a CDnet 2014 sequence folder.

    Layout: ``input/in%06d.jpg``, ``groundtruth/gt%06d.png`` (1-based numbers),
    ``ROI.bmp`` (255 inside) and ``temporalROI.txt``. Returns the frame count.
    """
    folder = Path(folder)
    inp = ensure_writable_dir(folder / "input")
    gtd = ensure_writable_dir(folder / "groundtruth")
    n = 0
    shape = None
    for n, (frame, gt) in enumerate(frames, start=1):
        write_image(inp / f"in{n:06d}{frame_ext}", frame)
        write_image(gtd / f"gt{n:06d}.png", gt)
        shape = gt.shape
    if shape is not None:
        mask = np.full(shape, 255, np.uint8) if roi is None else roi.astype(np.uint8) * 255
        write_image(folder / "ROI.bmp", mask)
    atomic_write_text(folder / "temporalROI.txt", f"{temporal_roi[0]} {temporal_roi[1]}\n")
    return n


def write_davis_sequence(root, name: str, frames: Iterable[np.ndarray], masks: Iterable[np.ndarray]) -> int:
    """Write frames and one object's masks as a DAVIS 2016 sequence of ``root``.

    Layout: ``JPEGImages/480p/<name>/%05d.jpg`` and ``Annotations/480p/<name>/%05d.png``
    (0-based numbers, 0/255 masks). Returns the frame count.
    """
    root = Path(root)
    img = ensure_writable_dir(root / "JPEGImages" / "480p" / name)
    ann = ensure_writable_dir(root / "Annotations" / "480p" / name)
    n = 0
    for n, (frame, mask) in enumerate(zip(frames, masks), start=1):
        write_image(img / f"{n - 1:05d}.jpg", frame)
        write_image(ann / f"{n - 1:05d}.png", np.asarray(mask, bool).view(np.uint8) * np.uint8(255))
    return n
