"""Run the ``vos`` preset over the DAVIS 2016 sequences in shared/data and score it.

Usage::

    python samples/eval_vos.py [--data ../shared/data/davis2016] [--out /tmp/vos_pred]
        [--set vos.propagate.bins=32 ...] [--seq blackswan ...] [--config my-vos.yaml]

Prints per-sequence J, F, J&F and seconds per frame (one OpenCV thread, one numba
thread; the time covers the pipeline's stages, not reading or writing files), then the
means. The first-frame mask of each sequence is ``Annotations/480p/<seq>/00000.png``.
Without the DAVIS data it runs on two generated one-object clips (:func:`classicseg.synth.object_clip`).
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

REPO = Path(__file__).resolve().parents[1]
SEQUENCES = ("blackswan", "car-shadow", "dog", "motocross-jump")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "davis2016"))
    ap.add_argument("--out", default="/tmp/classicseg_vos_pred")
    ap.add_argument("--preset", default="vos")
    ap.add_argument("--config", help="a pipeline file instead of the preset")
    ap.add_argument("--set", dest="sets", action="append", default=[], help="STAGE.PARAM=VALUE override")
    ap.add_argument("--seq", action="append", help="only these sequences")
    args = ap.parse_args()
    cv2.setNumThreads(1)
    try:
        import numba

        numba.set_num_threads(1)
    except Exception:  # noqa: BLE001 - numba is optional here
        pass
    data, out = Path(args.data), Path(args.out)
    data, seqs, note = davis_or_generated(data, out / "generated-davis", args.seq or SEQUENCES)
    if note:
        print(note)
    rows = []
    for seq in seqs:
        # the first-frame annotation comes from the dataset layout (Annotations/480p/<seq>/00000.png)
        t0 = time.perf_counter()
        run = session.run(session.Request(
            input=data / "JPEGImages" / "480p" / seq, preset=None if args.config else args.preset,
            config=args.config, sets=tuple(args.sets), output=out / seq,
            gt=data / "Annotations" / "480p" / seq))
        wall = time.perf_counter() - t0
        stats, res = run.stats, run.score
        compute = sum(stats.stage_seconds.values())
        rows.append((seq, res.J_mean, res.F_mean, res.JF, compute / stats.frames, wall / stats.frames))
        print(f"{seq:16s} J={res.J_mean:.3f} F={res.F_mean:.3f} J&F={res.JF:.3f} "
              f"{compute / stats.frames:.3f} s/frame (stages), {wall / stats.frames:.3f} s/frame (with I/O)",
              flush=True)
    # reference in the same run: Farneback (0.5, 3, 15, 3, 5, 1.2) at full resolution, measured
    # at 0.085 s/frame on 854x480 DAVIS frames on a 2-core machine (see the README)
    seq0 = data / "JPEGImages" / "480p" / seqs[0]
    grays = [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in sorted(seq0.glob("*.jpg"))[:11]]
    t0 = time.perf_counter()
    for a, b in zip(grays[1:], grays[:-1]):
        cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 15, 3, 5, 1.2, 0)
    ref = (time.perf_counter() - t0) / (len(grays) - 1)
    n = len(rows)
    j, f = sum(r[1] for r in rows) / n, sum(r[2] for r in rows) / n
    print(f"{'mean':16s} J={j:.3f} F={f:.3f} J&F={(j + f) / 2:.3f} "
          f"{sum(r[4] for r in rows) / n:.3f} s/frame (stages), {sum(r[5] for r in rows) / n:.3f} s/frame (with I/O)")
    ratio = sum(r[4] for r in rows) / n / ref
    print(f"reference Farneback full frame: {ref:.3f} s/frame in this run; stages = {ratio:.1f}x it "
          f"(= {ratio * 0.085:.3f} s/frame where Farneback takes 0.085 s on 854x480 frames)")


if __name__ == "__main__":
    main()
