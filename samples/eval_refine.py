"""Degrade the DAVIS 2016 ground truth like a weak model, run the ``refine`` preset on it, score both.

Usage::

    python samples/eval_refine.py [--data ../shared/data/davis2016] [--out /tmp/refine_pred]
        [--seed 0] [--set temporal.flow_smooth.alpha=0.5 ...] [--seq blackswan ...]

For each sequence the annotations are degraded by :func:`classicseg.degrade.weak_model_masks`
(random erosion/dilation, boundary noise, flicker, dropped frames; fixed seed) and written
to ``OUT/degraded/<seq>`` as DAVIS PNGs; the ``refine`` preset reads them as its prior
(like ``classicseg run -p refine --prior OUT/degraded/<seq>``) and writes
``OUT/refined/<seq>``. Prints J, F, J&F before and after (DAVIS rules: first and last
frames left out) and the pipeline's seconds per frame (one OpenCV thread).
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402

from classicseg import session  # noqa: E402
from classicseg.demo import davis_or_generated  # noqa: E402
from classicseg.degrade import weak_model_masks  # noqa: E402
from classicseg.io.images import atomic_write_bytes, ensure_writable_dir  # noqa: E402
from classicseg.io.masks import encode_indexed_png  # noqa: E402
from classicseg.metrics.davis import evaluate_sequence, read_indexed_mask  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SEQUENCES = ("blackswan", "car-shadow", "dog", "motocross-jump")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "davis2016"))
    ap.add_argument("--out", default="/tmp/classicseg_refine_pred")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--set", dest="sets", action="append", default=[], help="STAGE.PARAM=VALUE override")
    ap.add_argument("--seq", action="append", help="only these sequences")
    args = ap.parse_args()
    cv2.setNumThreads(1)
    root, out = Path(args.data), Path(args.out)
    root, seqs, note = davis_or_generated(root, out / "generated-davis", args.seq or SEQUENCES)
    if note:
        print(note)
    rows = []
    for seq in seqs:
        ann = root / "Annotations" / "480p" / seq
        files = sorted(ann.glob("*.png"))
        weak = weak_model_masks([read_indexed_mask(f) for f in files], seed=args.seed)
        deg = ensure_writable_dir(out / "degraded" / seq)
        for f, m in zip(files, weak):
            atomic_write_bytes(deg / f.name, encode_indexed_png(m))
        t0 = time.perf_counter()
        run = session.run(session.Request(input=root / "JPEGImages" / "480p" / seq, preset="refine",
                                          sets=tuple(args.sets), prior=deg, output=out / "refined" / seq, gt=ann))
        stats, after = run.stats, run.score
        spf = sum(stats.stage_seconds.values()) / max(stats.frames, 1)
        before = evaluate_sequence(deg, ann)
        rows.append((seq, before, after, spf))
        print(f"{seq:<16} degraded J {before.J_mean:.3f} F {before.F_mean:.3f} J&F {before.JF:.3f} | refined "
              f"J {after.J_mean:.3f} F {after.F_mean:.3f} J&F {after.JF:.3f} | {spf:.2f} s/frame "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)
    n = len(rows)

    def mean(key: str, i: int) -> float:
        return sum(getattr(r[i], key) for r in rows) / n

    print(f"{'mean':<16} degraded J {mean('J_mean', 1):.3f} F {mean('F_mean', 1):.3f} J&F {mean('JF', 1):.3f} | "
          f"refined J {mean('J_mean', 2):.3f} F {mean('F_mean', 2):.3f} J&F {mean('JF', 2):.3f} | "
          f"{sum(r[3] for r in rows) / n:.2f} s/frame")


if __name__ == "__main__":
    main()
