"""Run the ``tracking`` preset over MOT15 TUD-Campus and TUD-Stadtmitte at several sizes and score it.

Usage::

    python samples/eval_tracking.py [--data ../shared/data/mot15] [--scale 1 --scale 0.5 --scale 0.35]
        [--seq TUD-Campus ...] [--set detect.people.upscale=1.6 ...] [--config my.yaml] [--speed-frames 40]

Each clip is decoded, resized by ``scale`` (``INTER_AREA``) and its ground truth scaled with
it, in memory: nothing is written. Prints one row per (sequence, scale) with MOTA, IDF1, ID
switches, precision, recall and the pipeline's frames/s (stages only, one OpenCV thread),
then the mean, then the speed at 768x576 (TUD-Stadtmitte resized) beside OpenCV's
``HOGDescriptor.detectMultiScale`` alone with its default people model and parameters,
timed in the same run on the same frames. Scored by :func:`classicseg.metrics.mot.evaluate`,
which equals TrackEval.
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from classicseg.io.sources import open_source  # noqa: E402
from classicseg.metrics.mot import Track, evaluate, read_mot  # noqa: E402
from classicseg.pipeline import Pipeline  # noqa: E402
from classicseg.types import Sample  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SEQUENCES = ("TUD-Campus", "TUD-Stadtmitte")
SCALES = (1.0, 0.5, 0.35)


def load_clip(seq_dir, scale: float = 1.0, size: tuple[int, int] | None = None):
    """Frames of ``<seq_dir>/<seq>.mp4`` resized by ``scale`` (or to ``size = (w, h)``) and its
    ground truth scaled with them: ``(list of BGR frames, Track)``."""
    seq_dir = Path(seq_dir)
    frames = [s.image for s in open_source(str(seq_dir / f"{seq_dir.name}.mp4"), prefetch=0)]
    h0, w0 = frames[0].shape[:2]
    w, h = size if size is not None else (int(round(w0 * scale)), int(round(h0 * scale)))
    sx, sy = w / w0, h / h0
    if (w, h) != (w0, h0):
        interp = cv2.INTER_AREA if w < w0 else cv2.INTER_LINEAR
        frames = [cv2.resize(f, (w, h), interpolation=interp) for f in frames]
    gt = read_mot(seq_dir / "gt" / "gt.txt", "ground-truth", ignore_zero_flag=True)
    k = np.array([sx, sy, sx, sy])
    gt = Track({f: (ids, boxes * k) for f, (ids, boxes) in gt.frames.items()}, gt.n_rows)
    return frames, gt


def track(pipe: Pipeline, frames) -> tuple[Track, float]:
    """Run ``pipe`` over ``frames``: the tracks (1-based frames) and the seconds its stages took."""
    pipe.reset()
    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    n = 0
    for s in pipe.stream(Sample(i, f"{i:06d}", img) for i, img in enumerate(frames)):
        if s["tracks"]:
            ids = np.array([tid for tid, _ in s["tracks"]], np.int64)
            out[s.index + 1] = (ids, np.array([b for _, b in s["tracks"]], np.float64).reshape(-1, 4))
            n += len(ids)
    return Track(out, n), float(sum(pipe.timings))


def hog_seconds(frames) -> float:
    """Seconds OpenCV's default HOG people detector (``detectMultiScale`` defaults) takes on ``frames``."""
    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
    t0 = time.perf_counter()
    for f in frames:
        hog.detectMultiScale(f)
    return time.perf_counter() - t0


def evaluate_runs(data, seqs=SEQUENCES, scales=SCALES, preset: str | None = "tracking", config=None, sets=(),
                  hog_reference: bool = False) -> list[dict]:
    """One row per (sequence, scale): the scores of :class:`~classicseg.metrics.mot.MOTResult`
    plus ``fps`` (stages only) and, with ``hog_reference``, ``hog_fps`` on the same frames."""
    rows = []
    pipe = Pipeline.load(preset=None if config else preset, config=config, sets=list(sets))
    for seq in seqs:
        for scale in scales:
            frames, gt = load_clip(Path(data) / seq, scale)
            pred, secs = track(pipe, frames)
            row = {"sequence": seq, "scale": scale, "size": frames[0].shape[1::-1],
                   **evaluate(gt, pred).to_dict(), "fps": len(frames) / secs}
            if hog_reference:
                row["hog_fps"] = len(frames) / hog_seconds(frames)
            rows.append(row)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    shared = Path(os.environ.get("CLASSICSEG_SHARED_DATA", REPO.parent / "shared" / "data"))
    ap.add_argument("--data", default=str(shared / "mot15"))
    ap.add_argument("--preset", default="tracking")
    ap.add_argument("--config", help="a pipeline file instead of the preset")
    ap.add_argument("--set", dest="sets", action="append", default=[], help="STAGE.PARAM=VALUE override")
    ap.add_argument("--seq", action="append", help="only these sequences")
    ap.add_argument("--scale", type=float, action="append", help="only these scales (default 1, 0.5, 0.35)")
    ap.add_argument("--speed-frames", type=int, default=60,
                    help="frames of TUD-Stadtmitte at 768x576 for the speed figure (0: skip)")
    ap.add_argument("--hog", action="store_true", help="also time HOG alone on every run's frames")
    args = ap.parse_args()
    cv2.setNumThreads(1)
    rows = evaluate_runs(args.data, args.seq or SEQUENCES, args.scale or SCALES, args.preset, args.config,
                         args.sets, hog_reference=args.hog)
    print(f"{'sequence':16s} {'scale':>5s} {'size':>9s} {'MOTA':>6s} {'IDF1':>6s} {'IDSW':>4s} {'prec':>5s} "
          f"{'recall':>6s} {'fps':>5s}" + (" HOG fps  ratio" if args.hog else ""))
    for r in rows:
        line = (f"{r['sequence']:16s} {r['scale']:5.2f} {'%dx%d' % tuple(r['size']):>9s} {r['mota']:6.3f} "
                f"{r['idf1']:6.3f} {r['id_switches']:4d} {r['precision']:5.3f} {r['recall']:6.3f} {r['fps']:5.2f}")
        if args.hog:
            line += f" {r['hog_fps']:7.2f} {r['hog_fps'] / r['fps']:5.2f}x"
        print(line, flush=True)
    n = len(rows)
    print(f"{'mean':16s} {'':5s} {'':9s} {sum(r['mota'] for r in rows) / n:6.3f} "
          f"{sum(r['idf1'] for r in rows) / n:6.3f} {sum(r['id_switches'] for r in rows):4d}")
    if args.speed_frames:
        frames, _ = load_clip(Path(args.data) / "TUD-Stadtmitte", size=(768, 576))
        frames = frames[:args.speed_frames]
        pipe = Pipeline.load(preset=None if args.config else args.preset, config=args.config, sets=args.sets)
        _, secs = track(pipe, frames)
        hog = hog_seconds(frames)
        print(f"speed at 768x576 ({len(frames)} frames of TUD-Stadtmitte, one thread): {len(frames) / secs:.2f} "
              f"frames/s; HOG detectMultiScale alone {len(frames) / hog:.2f} frames/s; ratio {secs / hog:.2f}x")


if __name__ == "__main__":
    main()
