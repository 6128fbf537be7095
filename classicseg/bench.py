"""``classicseg bench``: the engine's speed as ratios to raw OpenCV, measured in one run.

The machines this runs on are shared and noisy, so absolute times mean little;
every row is timed next to its reference on the same pre-decoded frames, in
alternation, one OpenCV thread, and the best of ``repeats`` runs is kept.
"""
from __future__ import annotations

import time
from itertools import islice

import cv2
import numpy as np

from classicseg.config import resolve, validate
from classicseg.pipeline import Pipeline
from classicseg.types import Sample


def load_frames(input_: str | None, n: int) -> tuple[str, list[np.ndarray]]:
    """``n`` decoded frames from ``input_`` (any source), or from the demo scene."""
    if input_ is None:
        from classicseg.synth import make_scene

        scene = make_scene(n_frames=n)
        return "demo scene", [f for f, _ in scene.frames()]
    from classicseg.io.sources import open_source

    src = open_source(input_)
    frames = [s.image for s in islice(src, n)]
    src.close()
    return src.name, frames


def _time_bare(make, frames) -> float:
    model = make()
    t0 = time.perf_counter()
    for f in frames:
        model.apply(f)
    return time.perf_counter() - t0


def _time_pipeline(pipe: Pipeline, frames) -> float:
    samples = [Sample(i, str(i), f) for i, f in enumerate(frames)]
    t0 = time.perf_counter()
    pipe.run(samples)
    return time.perf_counter() - t0


def run_bench(input_: str | None = None, n_frames: int = 600, repeats: int = 3, threads: int = 1) -> list[dict]:
    """Rows of ``{what, reference, fps, reference fps, ratio}``; ratio = our fps / reference fps."""
    cv2.setNumThreads(threads)
    name, frames = load_frames(input_, n_frames)
    if not frames:
        from classicseg.errors import SourceError

        raise SourceError(f"no frames to time in {input_}")
    cases = [
        ("pipeline [bgsub.mog2]", Pipeline.from_spec(validate({"pipeline": [{"stage": "bgsub.mog2"}]})),
         "cv2 MOG2 loop", cv2.createBackgroundSubtractorMOG2),
        ("pipeline [bgsub.knn]", Pipeline.from_spec(validate({"pipeline": [{"stage": "bgsub.knn"}]})),
         "cv2 KNN loop", cv2.createBackgroundSubtractorKNN),
        ("preset surveillance", Pipeline.from_spec(resolve(preset="surveillance")),
         "cv2 MOG2 loop", cv2.createBackgroundSubtractorMOG2),
    ]
    rows = []
    for what, pipe, ref, make in cases:
        ours, base = [], []
        for _ in range(repeats):  # alternate so drift hits both alike
            base.append(_time_bare(make, frames))
            ours.append(_time_pipeline(pipe, frames))
        fps, ref_fps = len(frames) / min(ours), len(frames) / min(base)
        rows.append({"input": name, "frames": len(frames), "what": what, "fps": round(fps, 1),
                     "reference": ref, "reference fps": round(ref_fps, 1), "ratio": round(fps / ref_fps, 3)})
    return rows
