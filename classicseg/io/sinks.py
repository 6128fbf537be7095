"""Output sinks: mask PNGs (CDnet 0/255 or DAVIS indexed), overlay video, tables.

Every file is written atomically (a temporary file in the same folder, then a
rename), so an interrupted run never leaves a half-written file behind.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import cv2
import numpy as np

from classicseg.errors import SinkError
from classicseg.io.images import atomic_write_bytes, encode_png, ensure_writable_dir
from classicseg.metrics.davis import davis_palette
from classicseg.types import Sample

log = logging.getLogger("classicseg")


def encode_indexed_png(ids: np.ndarray) -> bytes:
    """An object-id map (uint8) as a palette PNG with the DAVIS colours."""
    import io

    from PIL import Image

    ids = np.ascontiguousarray(ids, dtype=np.uint8)
    im = Image.frombytes("P", (ids.shape[1], ids.shape[0]), ids.tobytes())
    im.putpalette(davis_palette().ravel().tolist())
    buf = io.BytesIO()
    im.save(buf, format="PNG", optimize=False)
    return buf.getvalue()


class MaskSink:
    """Writes each sample's ``fg`` mask into ``folder`` under the source's naming."""

    def __init__(self, folder, source) -> None:
        self.folder = ensure_writable_dir(folder)
        self.source = source
        self.count = 0

    def write(self, sample: Sample) -> None:
        name = self.source.mask_name(sample.name)
        fg = sample["fg"]
        if self.source.mask_format == "davis":
            ids = sample.data.get("ids")
            data = encode_indexed_png(ids if ids is not None else fg.view(np.uint8))
        else:
            data = encode_png(fg.view(np.uint8) * np.uint8(255))
        atomic_write_bytes(self.folder / name, data)
        self.count += 1

    def close(self) -> None:
        pass

    def abort(self) -> None:
        pass


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


class VideoSink:
    """Overlay video written to a temporary file and renamed into place on close.

    Uses OpenCV's ``mp4v`` (MPEG-4 Part 2) writer, which every opencv wheel has.
    """

    def __init__(self, path, fps: float | None = None, fourcc: str = "mp4v") -> None:
        self.path = Path(path)
        ensure_writable_dir(self.path.parent)
        self.tmp = self.path.with_name(f".{self.path.stem}.{os.getpid()}.part{self.path.suffix}")
        self.fps = fps or 25.0
        self.fourcc = fourcc
        self.writer = None

    def write(self, sample: Sample) -> None:
        frame = overlay(sample)
        if self.writer is None:
            h, w = frame.shape[:2]
            self.writer = cv2.VideoWriter(str(self.tmp), cv2.VideoWriter_fourcc(*self.fourcc), self.fps, (w, h))
            if not self.writer.isOpened():
                raise SinkError(f"cannot open a {self.fourcc} video writer for {self.path}")
        self.writer.write(frame)

    def close(self) -> None:
        if self.writer is None:
            return
        self.writer.release()
        self.writer = None
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.release()
            self.writer = None
        try:
            os.unlink(self.tmp)
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
