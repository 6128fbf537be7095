"""One input frame by its number, as the mask files name it (for reports and pictures).

A mask written for a folder of frames carries the frame file's number (CDnet
``in000123.jpg`` -> ``bin000123.png``, UCSD ``frame_12.jpg`` -> ``frame_12.png``, DAVIS
``00012.jpg`` -> ``00012.png``); one written for a video is named by the 1-based frame
index (``000001.png``).
"""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from classicseg.io.images import IMAGE_EXTS, read_image
from classicseg.io.sources import trailing_number

__all__ = ["numbered_images", "frame_files", "read_frame"]


def numbered_images(folder) -> dict[int, str]:
    """The paths of the image files of ``folder`` by the number that ends their stem (the first
    by name wins).

    One directory scan and no ``stat`` per file, so a folder of thousands of masks is
    indexed in milliseconds. An absent folder gives an empty dict.
    """
    try:
        with os.scandir(folder) as it:
            names = sorted(e.name for e in it if e.is_file() and os.path.splitext(e.name)[1].lower() in IMAGE_EXTS)
    except OSError:
        return {}
    out: dict[int, str] = {}
    base = os.fspath(folder)
    for name in names:
        n = trailing_number(os.path.splitext(name)[0])
        if n is not None and n not in out:
            out[n] = os.path.join(base, name)
    return out


def frame_files(path) -> dict[int, str]:
    """The frame files of a sequence folder by number (``input/`` or ``in/`` when present)."""
    folder = Path(path)
    for sub in ("input", "in"):
        if (folder / sub).is_dir():
            folder = folder / sub
            break
    return numbered_images(folder)


def read_frame(path, number: int, files: dict[int, str] | None = None) -> np.ndarray | None:
    """Frame ``number`` of a sequence folder or video (BGR), or None when it is not there.

    ``files`` is :func:`frame_files` of the folder, when the caller already has it.
    """
    path = Path(path)
    if path.is_dir():
        files = files if files is not None else frame_files(path)
        return read_image(files[number]) if number in files else None
    if not path.is_file():
        return None
    cap = cv2.VideoCapture(str(path))
    try:
        if number > 1:
            cap.set(cv2.CAP_PROP_POS_FRAMES, number - 1)
        ok, frame = cap.read()
        return frame if ok else None
    finally:
        cap.release()
