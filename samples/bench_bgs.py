"""F-measure and speed of classicseg presets against OpenCV MOG2/KNN and pybgs SuBSENSE/PAWCS.

Every CDnet-layout sequence (with ``groundtruth/``) under the given roots is decoded once
into memory; each method then segments the same frames on one thread (OpenCV's threads set
to 1, numba's kernels are single-threaded, and the process is pinned to one CPU so that
the system OpenCV inside pybgs cannot use a second core either). The masks of the first
round are written as CDnet ``bin%06d.png`` files and scored with
:func:`classicseg.metrics.cdnet.evaluate_sequence`. Timing excludes decoding and numba's
compilation (a warm-up run on a small frame comes first); each method runs ``--repeats``
times per sequence, the methods' order alternating between rounds, and the best time is
kept. Speeds are reported as ratios to SuBSENSE and PAWCS (or, without pybgs, to MOG2)
measured in the same run, since absolute speeds drift on a shared machine.

    python samples/bench_bgs.py ../shared/data/cdnet2014 ../shared/data/sbi2015 ../shared/data/ucsd_bgs
    python samples/bench_bgs.py ../shared/data --methods surveillance,mog2,subsense --repeats 1
    python samples/bench_bgs.py ../shared/data/cdnet2014/baseline/highway --methods surveillance,subsense
    python samples/bench_bgs.py ../shared/data/ucsd_bgs --methods surveillance --set bgsub.sense.shadow_chroma=0.05

pybgs is optional (``pip install pybgs``; never a runtime dependency of classicseg); without
it SuBSENSE and PAWCS are skipped with a note. PAWCS is slow (a few frames/s):
``--peer-repeats`` sets how often the pybgs methods are timed (default: ``--repeats``).
"""
from __future__ import annotations

import argparse
import dataclasses
import contextlib
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from classicseg.batch import find_sequences
from classicseg.io.sinks import MaskSink
from classicseg.io.sources import open_source
from classicseg.metrics.cdnet import evaluate_sequence
from classicseg.pipeline import Pipeline
from classicseg.types import Sample

DEFAULT_METHODS = "surveillance,surveillance-fast,mog2,knn,subsense,pawcs"
SHARED = Path(os.environ.get("CLASSICSEG_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def default_roots() -> list[str]:
    """The CDnet-layout sets of shared/data when present, else a generated demo scene."""
    found = [str(SHARED / n) for n in ("cdnet2014", "sbi2015", "ucsd_bgs") if (SHARED / n).is_dir()]
    if found:
        return found
    from classicseg.io.datasets import write_cdnet_sequence
    from classicseg.synth import make_scene

    root = Path(tempfile.mkdtemp(prefix="bench_bgs_scene_")) / "synth"
    scene = make_scene(n_frames=300, seed=0)
    write_cdnet_sequence(root / "scene0", scene.frames(), scene.temporal_roi)
    print(f"no dataset given and none at {SHARED}: timing on the generated demo scene ({root})")
    return [str(root)]
PYBGS = {"subsense": "SuBSENSE", "pawcs": "PAWCS", "lobster": "LOBSTER", "vibe": "ViBe"}


@contextlib.contextmanager
def _quiet_fds():
    """Silence C/C++ writes to stdout/stderr (pybgs prints on construction/destruction)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, 1)
    os.dup2(null, 2)
    try:
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, null):
            os.close(fd)


def make_runner(method: str, sets=()):
    """A function ``frames -> list of bool masks`` for ``method`` (fresh model each call), or None."""
    if method == "mog2":
        def run(frames):
            m = cv2.createBackgroundSubtractorMOG2()
            return [m.apply(f) == 255 for f in frames]
        return run
    if method == "knn":
        def run(frames):
            m = cv2.createBackgroundSubtractorKNN()
            return [m.apply(f) == 255 for f in frames]
        return run
    if method in PYBGS:
        try:
            with _quiet_fds():
                import pybgs
        except ImportError:
            return None
        cls = PYBGS[method]

        def run(frames):
            with _quiet_fds():
                m = getattr(pybgs, cls)()
                out = [m.apply(f) > 127 for f in frames]
                del m
            return out
        return run
    ids = _stage_ids(method)
    pipe = Pipeline.load(preset=method, sets=[s for s in sets if s.split("=")[0].rsplit(".", 1)[0] in ids])

    def run(frames):
        pipe.reset()
        out = []
        for i, f in enumerate(frames):
            out.extend(s["fg"] for s in pipe.push(Sample(i, str(i), f)))
        out.extend(s["fg"] for s in pipe.flush())
        return out
    return run


def _stage_ids(preset: str) -> set:
    """Stage ids of ``preset``: ``--set`` values reach only the presets that have that stage."""
    from classicseg.config import resolve

    return {step.id for step in resolve(preset=preset).steps}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("roots", nargs="*", help="dataset roots, categories or sequence folders (default: the "
                    "CDnet-layout sets of shared/data, else a generated scene)")
    ap.add_argument("--methods", default=DEFAULT_METHODS,
                    help=f"comma-separated presets and mog2, knn, subsense, pawcs, lobster, vibe "
                         f"(default {DEFAULT_METHODS})")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per method and sequence (best kept)")
    ap.add_argument("--peer-repeats", type=int, default=None,
                    help="timed runs of the pybgs methods (SuBSENSE, PAWCS: slow); default --repeats")
    ap.add_argument("--no-pin", action="store_true", help="do not pin the process to one CPU")
    ap.add_argument("--set", dest="sets", action="append", default=[], metavar="STAGE.PARAM=VALUE",
                    help="override a parameter of the presets that have that stage (repeatable)")
    args = ap.parse_args()

    cv2.setNumThreads(1)
    if not args.no_pin and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    methods, runners = [], {}
    for m in args.methods.split(","):
        r = make_runner(m.strip(), args.sets)
        if r is None:
            print(f"note: {m} skipped (pybgs is not importable)")
            continue
        methods.append(m.strip())
        runners[m.strip()] = r
    refs = [m for m in ("subsense", "pawcs") if m in methods] or ["mog2" if "mog2" in methods else methods[0]]
    peer_repeats = args.repeats if args.peer_repeats is None else max(1, args.peer_repeats)

    seqs = []
    for root in args.roots or default_roots():
        for s in find_sequences(root):
            if s.metric == "cdnet":
                label = f"{Path(root).name}/{s.rel}" if s.rel else s.name  # a label for the table
                seqs.append(dataclasses.replace(s, rel=label))
    if not seqs:
        sys.exit("no CDnet-layout sequences with ground truth under the given roots")

    # warm-up: numba compilation and first-call costs are not timed
    warm = [np.random.default_rng(0).integers(0, 255, (32, 32, 3), np.uint8) for _ in range(3)]
    for m in methods:
        runners[m](warm)

    scores = {m: {} for m in methods}
    times = {m: {} for m in methods}
    nframes = {}
    workdir = Path(tempfile.mkdtemp(prefix="bench_bgs_"))
    old_cwd = os.getcwd()
    os.chdir(workdir)  # pybgs reads/writes ./config/*.xml
    (workdir / "config").mkdir(exist_ok=True)
    try:
        for seq in seqs:
            src = open_source(str(seq.path))
            samples = list(src)
            frames = [s.image for s in samples]
            nframes[seq.rel] = len(frames)
            for r in range(args.repeats):
                order = methods if r % 2 == 0 else methods[::-1]
                for m in order:
                    if m in PYBGS and r >= peer_repeats:
                        continue
                    t0 = time.perf_counter()
                    masks = runners[m](frames)
                    dt = time.perf_counter() - t0
                    times[m][seq.rel] = min(dt, times[m].get(seq.rel, float("inf")))
                    if m not in scores or seq.rel not in scores[m]:
                        out = workdir / m / seq.rel
                        sink = MaskSink(out, src)
                        for s, mask in zip(samples, masks):
                            sink.write(Sample(s.index, s.name, s.image, {"fg": mask}))
                        scores[m][seq.rel] = evaluate_sequence(out, seq.gt).metrics["f_measure"]
            print(f"{seq.rel}: " + ", ".join(f"{m} F={scores[m][seq.rel]:.3f} "
                                             f"{nframes[seq.rel] / times[m][seq.rel]:.0f} fps" for m in methods),
                  flush=True)
    finally:
        os.chdir(old_cwd)

    w = max(max(len(s.rel) for s in seqs), len("mean F / overall fps")) + 2
    cols = "".join(f"{m[:18]:>20s}" for m in methods)
    reps = f"best of {args.repeats}" + (f" ({peer_repeats} for pybgs)" if peer_repeats != args.repeats else "")
    print(f"\nF-measure (CDnet rules) and frames/s, one thread, {reps}\n")
    print(f"{'sequence':{w}s}{cols}")
    for s in seqs:
        print(f"{s.rel:{w}s}" + "".join(
            f"{scores[m][s.rel]:>9.3f} {nframes[s.rel] / times[m][s.rel]:>6.0f} fps" for m in methods))
    total = sum(nframes.values())
    print(f"{'mean F / overall fps':{w}s}" + "".join(
        f"{np.mean(list(scores[m].values())):>9.3f} {total / sum(times[m].values()):>6.0f} fps" for m in methods))
    hw = [s.rel for s in seqs if s.rel.endswith("highway")]
    print("\nspeed ratios (same frames, same run; total time over all sequences" +
          (", then highway alone)" if hw else ")"))
    for m in methods:
        parts = []
        for ref in refs:
            part = f"{sum(times[ref].values()) / sum(times[m].values()):7.2f}x {ref}"
            if hw:
                part += f" ({times[ref][hw[0]] / times[m][hw[0]]:.2f}x)"
            parts.append(part)
        print(f"  {m:20s}" + "   ".join(parts))
    print(f"\nmasks written under {workdir}")


if __name__ == "__main__":
    main()
