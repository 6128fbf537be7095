"""Wall time of ``classicseg batch`` with one worker process and with two.

Runs the same multi-sequence batch (masks written and scored, ``--force`` so nothing is
skipped) with ``workers=1`` and ``workers=2``, alternating the order in each round so
that drift in a shared machine's load hits both, and prints every wall time, the best
and the median of each, and their ratios. The scores of the two must be identical.

Default data: the 6 UCSD sequences, the 3 SBI sequences and the cameraJitter/traffic slice
of ``shared/data``, each linked ``--copies`` times (default 2: 20 short sequences) into
one temporary root. Without them, or with ``--synthetic N``, it generates ``N`` CDnet
sequences with :mod:`classicseg.synth`. The masks of the two runs must be identical too.

    python samples/bench_batch.py                      # UCSD + SBI, 3 rounds
    python samples/bench_batch.py --repeats 5 --preset surveillance-fast
    python samples/bench_batch.py --synthetic 6 --frames 200
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from classicseg.batch import run_batch

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CLASSICSEG_SHARED_DATA", REPO.parent / "shared" / "data"))


def real_root(tmp: Path, names: list[str], copies: int = 1) -> Path | None:
    """A root whose sub-folders link to the named data sets under ``shared/data``, ``copies`` times."""
    if not all((SHARED / n).is_dir() for n in names):
        return None
    root = tmp / "data"
    root.mkdir()
    for c in range(copies):
        for n in names:
            (root / f"{Path(n).name}{'' if c == 0 else f'_{c + 1}'}").symlink_to(SHARED / n, target_is_directory=True)
    return root


def mask_bytes(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*.png"))}


def synthetic_root(tmp: Path, n: int, frames: int) -> Path:
    from classicseg.io.datasets import write_cdnet_sequence
    from classicseg.synth import make_scene

    root = tmp / "synthetic"
    for i in range(n):
        scene = make_scene(n_frames=frames, seed=i)
        write_cdnet_sequence(root / "synth" / f"scene{i}", scene.frames(), scene.temporal_roi)
    return root


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", nargs="+", default=["ucsd_bgs", "sbi2015", "cdnet2014/cameraJitter"],
                    help="data sets under shared/data")
    ap.add_argument("--copies", type=int, default=2, help="link each data set this many times")
    ap.add_argument("--synthetic", type=int, default=0, help="generate this many sequences instead")
    ap.add_argument("--frames", type=int, default=200, help="frames per generated sequence")
    ap.add_argument("--preset", default="surveillance")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1, help="OpenCV threads per worker")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench_batch_") as tmp:
        tmp = Path(tmp)
        root = None if args.synthetic else real_root(tmp, args.data, args.copies)
        if root is None:
            root = synthetic_root(tmp, args.synthetic or 6, args.frames)
        times: dict[int, list[float]] = {1: [], 2: []}
        scores: dict[int, dict] = {}
        frames = 0
        print(f"root: {root} ({', '.join(args.data) if not args.synthetic else 'synthetic'}), preset "
              f"{args.preset}, {len(os.sched_getaffinity(0))} CPUs usable, load average {os.getloadavg()[0]:.2f} "
              "at start")
        for r in range(args.repeats):
            for w in ((1, 2) if r % 2 == 0 else (2, 1)):
                t0 = time.perf_counter()
                res = run_batch(root, tmp / f"out{w}", preset=args.preset, workers=w, threads=args.threads,
                                force=True)
                times[w].append(time.perf_counter() - t0)
                scores[w] = res.scores()
                frames = sum(o.frames or 0 for o in res.outcomes)
                assert not res.failed, [o.error for o in res.failed]
                print(f"round {r + 1}: {w} worker{'s' if w > 1 else ' '} {times[w][-1]:7.2f} s "
                      f"({len(res.outcomes)} sequences, {frames} frames)")
        assert scores[1] == scores[2], "scores differ between 1 and 2 workers"
        assert mask_bytes(tmp / "out1") == mask_bytes(tmp / "out2"), "masks differ between 1 and 2 workers"
        best = {w: min(t) for w, t in times.items()}
        med = {w: statistics.median(t) for w, t in times.items()}
        print(f"1 worker : best {best[1]:.2f} s, median {med[1]:.2f} s")
        print(f"2 workers: best {best[2]:.2f} s, median {med[2]:.2f} s")
        print(f"speed-up (1 worker / 2 workers): best {best[1] / best[2]:.2f}x, median {med[1] / med[2]:.2f}x; "
              f"scores identical; load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
