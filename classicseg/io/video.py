"""Video files written frame by frame: H.264 through PyAV, or MPEG-4 Part 2 through OpenCV.

Both writers take the path of a file already created for them (``fd``: created with
``O_EXCL`` under an unguessable name by :func:`classicseg.io.images.create_temp`, then
renamed into place by their caller) and ``write(frame, t=None)`` BGR frames.
"""
from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from classicseg.errors import SinkError

__all__ = ["Cv2Writer", "PyAVWriter", "have_pyav"]


class Cv2Writer:
    """MPEG-4 Part 2 through OpenCV's writer: every opencv wheel has it."""

    codec = "mp4v (MPEG-4 Part 2, OpenCV)"

    def __init__(self, path: Path, fps: float, size: tuple[int, int], fd: int | None = None) -> None:
        if fd is not None:
            os.close(fd)  # OpenCV opens the (new, empty) file by its name
        self.w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
        if not self.w.isOpened():
            raise SinkError(f"cannot open an mp4v video writer for {path}")

    def write(self, frame: np.ndarray, t: float | None = None) -> None:
        self.w.write(frame)

    def close(self) -> None:
        self.w.release()


class PyAVWriter:
    """H.264 (yuv420p, CRF 23) through PyAV, which most players and browsers show.

    ``write(frame, t)`` with stream times (seconds) stamps each frame with its own time
    (millisecond ticks), so a clip from a camera that dropped frames still plays at the
    speed it happened; without ``t`` frames are ``1 / fps`` apart. The index goes at the
    front of the file (``faststart``), so a browser starts playing before it has it all.
    """

    codec = "h264 (PyAV)"

    def __init__(self, path: Path, fps: float, size: tuple[int, int], fd: int | None = None,
                 threads: int = 0) -> None:
        import av
        from fractions import Fraction

        self.av = av
        if fd is not None:
            os.close(fd)  # the file was created (O_EXCL, a random name); FFmpeg opens it by name
        self.tb = Fraction(1, 1000)
        self.container = av.open(str(path), mode="w", format="mp4", options={"movflags": "+faststart"})
        self.stream = self.container.add_stream("h264", rate=Fraction(fps).limit_denominator(1001))
        self.stream.width, self.stream.height = size[0] - size[0] % 2, size[1] - size[1] % 2
        self.stream.pix_fmt = "yuv420p"
        self.stream.options = {"crf": "23", "preset": "veryfast"}
        self.stream.codec_context.thread_count = threads  # 0: x264 decides
        self.stream.time_base = self.tb
        self.stream.codec_context.time_base = self.tb
        self.step = max(1, round(1000 / fps))
        self.t0 = None
        self.last = -self.step

    def write(self, frame: np.ndarray, t: float | None = None) -> None:
        h, w = self.stream.height, self.stream.width
        vf = self.av.VideoFrame.from_ndarray(np.ascontiguousarray(frame[:h, :w]), format="bgr24")
        if t is None:
            pts = self.last + self.step
        else:
            self.t0 = t if self.t0 is None else self.t0
            pts = max(int(round((t - self.t0) * 1000)), self.last + 1)
        vf.pts, vf.time_base, self.last = pts, self.tb, pts
        for packet in self.stream.encode(vf):
            self.container.mux(packet)

    def close(self) -> None:
        try:
            for packet in self.stream.encode():
                self.container.mux(packet)
        finally:
            self.container.close()


def have_pyav() -> bool:
    import importlib.util

    return importlib.util.find_spec("av") is not None
