"""``classicseg bench``: the engine's speed as ratios to raw OpenCV, measured in one run.

The machines this runs on are shared and noisy, so absolute times mean little;
every row is timed next to its reference on the same pre-decoded frames, in
alternation, one OpenCV thread, and the best of ``repeats`` runs is kept.

Rows come in three kinds:

* ``pipeline``: one-stage pipelines against the bare OpenCV loop they wrap;
* ``preset``: each shipped preset against the bare OpenCV subtractor of its first
  stage (same parameters), i.e. what the rest of the chain and the engine cost;
* ``kernel``: each numba kernel of :mod:`classicseg.kernels` against its best library
  twin (OpenCV, scikit-image or numpy) on inputs made from the same frames; every
  kernel is called once before timing so that numba's compile (or cache load) is not
  counted. Without numba the kernel rows are left out;
* ``cuda`` (``--cuda``): the CUDA backend against the CPU backend running the same
  pipeline, and against a bare ``cv2.cuda`` loop; left out without a CUDA OpenCV.

``ratio`` is reference time / our time: above 1 we are faster.
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
    # samples are made lazily and dropped once processed, as in a real run (a list of
    # them would keep every mask alive and time page faults instead of the pipeline)
    t0 = time.perf_counter()
    pipe.run(Sample(i, str(i), f) for i, f in enumerate(frames))
    return time.perf_counter() - t0


def _row(kind: str, name: str, n: int, what: str, ours: float, ref: str, base: float) -> dict:
    """One result row from the best times (seconds for ``n`` frames) of ours and the reference."""
    return {"kind": kind, "input": name, "frames": n, "what": what, "fps": round(n / ours, 1),
            "ms": round(1e3 * ours / n, 4), "reference": ref, "reference fps": round(n / base, 1),
            "reference ms": round(1e3 * base / n, 4), "ratio": round(base / ours, 3)}


def _time_calls(fn, args: list) -> float:
    t0 = time.perf_counter()
    for a in args:
        fn(*a)
    return time.perf_counter() - t0


def best_of(ours, ref, repeats: int) -> tuple[float, float]:
    """Best of ``repeats`` timings of two zero-argument timers, in A-B-B-A order so that a
    drift in the machine's speed hits both alike."""
    t_ours, t_ref = [], []
    for r in range(repeats):
        for fn, out in ((ref, t_ref), (ours, t_ours))[:: 1 if r % 2 == 0 else -1]:
            out.append(fn())
    return min(t_ours), min(t_ref)


def _versus(ours, ref, args: list, repeats: int) -> tuple[float, float]:
    """Best times of ``ours(*a)`` and ``ref(*a)`` over ``args``, alternated, after a warm-up call."""
    ours(*args[0])  # numba compiles (or loads its cache) here, outside the timing
    ref(*args[0])
    return best_of(lambda: _time_calls(ours, args), lambda: _time_calls(ref, args), repeats)


def _masks(frames: list[np.ndarray]) -> list[np.ndarray]:
    """Foreground masks of ``frames`` as the surveillance-fast chain makes them before hole filling."""
    spec = validate({"pipeline": [
        {"stage": "bgsub.knn", "input": "gray", "history": 100, "dist2_threshold": 100.0, "n_samples": 3,
         "knn_samples": 1, "shadow_threshold": 0.9},
        {"stage": "morph.median", "ksize": 5}, {"stage": "morph.close", "radius": 2}]})
    samples = [Sample(i, str(i), f) for i, f in enumerate(frames)]
    return [s["fg"] for s in Pipeline.from_spec(spec).stream(samples)]


def kernel_rows(frames: list[np.ndarray], name: str = "", repeats: int = 3) -> list[dict]:
    """Each numba kernel against its best library equivalent (empty without numba)."""
    from classicseg import kernels

    if not kernels.HAVE_NUMBA:
        return []
    from classicseg.kernels import fill, graphcut, labels, lbp, temporal
    from classicseg.stages.temporal import votes_needed

    masks = _masks(frames)
    masks = masks[len(masks) // 4:] or masks  # past the subtractor's warm-up
    grays = [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in frames]
    few = max(1, min(len(frames) // 10, 30))  # the slow references get fewer frames
    rows = []

    def add(what, ours, ref_name, ref, args, reps=repeats):
        t_ours, t_ref = _versus(ours, ref, args, reps)
        rows.append(_row("kernel", name, len(args), what, t_ours, ref_name, t_ref))

    m_args = [(m,) for m in masks]
    add("fill_holes numba", fill.fill_holes_numba, "cv2.floodFill (best library)", fill.fill_holes_floodfill, m_args)
    add("fill_holes numba", fill.fill_holes_numba, "cv2.connectedComponentsWithStats", fill.fill_holes_cv2, m_args)
    add("fill_holes numba max_hole_area=50", lambda m: fill.fill_holes_numba(m, 50),
        "cv2.connectedComponentsWithStats", lambda m: fill.fill_holes_cv2(m, 50), m_args)
    add("fill_holes numba", fill.fill_holes_numba, "scipy binary_fill_holes", fill.fill_holes_scipy,
        m_args[:few], 1)

    def majority(step):
        def go(seq):
            count = np.zeros(seq[0].shape, np.uint8)
            window = []
            for m in seq:
                window.append(m)
                old = window.pop(0) if len(window) > 3 else None
                step(count, m, old, votes_needed(0.5, len(window)))
        return go

    t_ours, t_ref = _versus(majority(temporal.majority_step_numba), majority(temporal.majority_step_numpy),
                            [(masks,)], repeats)
    rows.append(_row("kernel", name, len(masks), "majority window step numba", t_ours, "numpy (integer bound)",
                     t_ref))
    raws = [np.where(m, np.uint8(255), np.uint8(0)) for m in masks]
    for r, m in zip(raws, masks):
        r[np.roll(m, 3, axis=1) & ~m] = 127  # a shadow fringe
    add("split_labels numba", labels.split_labels_numba, "numpy ==", labels.split_labels_numpy, [(r,) for r in raws])
    for method in lbp.METHODS:
        add(f"LBP P=8 R=1 {method} numba", lambda g, m=method: lbp.lbp_numba(g, m),
            "skimage local_binary_pattern", lambda g, m=method: lbp.lbp_skimage(g, m), [(g,) for g in grays[:few]])
    add("graphcut edge weights numba", lambda f: graphcut.pairwise_weights_numba(f, 50.0),
        "numpy (refine._pairwise)", lambda f: graphcut.pairwise_weights_numpy(f, 50.0), [(f,) for f in frames[:few]])
    return rows


def preset_rows(frames: list[np.ndarray], name: str = "", repeats: int = 3) -> list[dict]:
    """Each shipped preset whose first stage wraps an OpenCV subtractor, against that bare
    subtractor with the same parameters (presets that need more, e.g. a first-frame mask,
    are left out)."""
    from classicseg.config import preset_names

    rows = []
    for preset in preset_names():
        try:
            pipe = Pipeline.from_spec(resolve(preset=preset))
        except Exception:  # noqa: BLE001 - a preset this benchmark cannot build
            continue
        first = pipe.stages[0]
        if not hasattr(first, "make"):
            continue
        ref = f"cv2 {type(first.make()).__name__} loop (same params)"
        inp = getattr(first.params, "input", "bgr")
        feed = [cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in frames] if inp == "gray" else frames
        # the preset converts to grey itself; the bare loop gets grey frames for free
        _time_pipeline(pipe, frames[:5])  # warm-up (numba kernels)
        ours, base = best_of(lambda: _time_pipeline(pipe, frames), lambda: _time_bare(first.make, feed), repeats)
        rows.append(_row("preset", name, len(frames), f"preset {preset}", ours, ref, base))
    return rows


def cuda_rows(frames: list[np.ndarray], name: str = "", repeats: int = 3) -> list[dict]:
    """The CUDA backend against the CPU backend (same pipeline, same frames) and against a bare
    ``cv2.cuda`` loop (upload, apply, download), for the stages it runs on the GPU. Empty
    without a CUDA OpenCV. The GPU is warmed up (context, kernels) before timing."""
    from classicseg.backends import cuda_available

    if not cuda_available():
        return []

    def bare_cuda_mog2():
        model = cv2.cuda.createBackgroundSubtractorMOG2()
        stream = cv2.cuda.Stream_Null()
        gpu = cv2.cuda_GpuMat()
        t0 = time.perf_counter()
        for f in frames:
            gpu.upload(f)
            model.apply(gpu, -1.0, stream).download()
        return time.perf_counter() - t0

    chain = [{"stage": "bgsub.mog2"}, {"stage": "morph.open"}, {"stage": "morph.close"}]
    cases = [("[bgsub.mog2, morph.open, morph.close]", chain), ("[flow.farneback scale=1]",
             [{"stage": "flow.farneback", "scale": 1.0}]), ("[flow.farneback scale=0.5]", [{"stage": "flow.farneback"}])]
    rows = []
    for what, steps in cases:
        spec = validate({"pipeline": steps})
        gpu, cpu = Pipeline.from_spec(spec, "cuda"), Pipeline.from_spec(spec, "cpu")
        _time_pipeline(gpu, frames[:5])
        ours, base = best_of(lambda g=gpu: _time_pipeline(g, frames), lambda c=cpu: _time_pipeline(c, frames), repeats)
        rows.append(_row("cuda", name, len(frames), f"cuda pipeline {what}", ours, "same pipeline, cpu backend", base))
    gpu = Pipeline.from_spec(validate({"pipeline": [{"stage": "bgsub.mog2"}]}), "cuda")
    bare_cuda_mog2()
    ours, base = best_of(lambda: _time_pipeline(gpu, frames), bare_cuda_mog2, repeats)
    rows.append(_row("cuda", name, len(frames), "cuda pipeline [bgsub.mog2]", ours,
                     "cv2.cuda MOG2 loop (upload, apply, download)", base))
    return rows


def run_bench(input_: str | None = None, n_frames: int = 600, repeats: int = 3, threads: int = 1,
              kernels: bool = True, cuda: bool = False) -> list[dict]:
    """Rows of ``{kind, what, ms, reference, reference ms, ratio, ...}``; ratio = reference
    time / our time (see the module docstring)."""
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
        ("preset surveillance-fast", Pipeline.from_spec(resolve(preset="surveillance-fast")),
         "cv2 MOG2 loop", cv2.createBackgroundSubtractorMOG2),
    ]
    rows = []
    _time_pipeline(cases[-1][1], frames[:5])  # warm-up (numba kernels)
    for what, pipe, ref, make in cases:
        ours, base = best_of(lambda: _time_pipeline(pipe, frames), lambda: _time_bare(make, frames), repeats)
        rows.append(_row("pipeline", name, len(frames), what, ours, ref, base))
    rows += preset_rows(frames, name, repeats)
    if kernels:
        rows += kernel_rows(frames, name, repeats)
    if cuda:
        rows += cuda_rows(frames, name, repeats)
    return rows
