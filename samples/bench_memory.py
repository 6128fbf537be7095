"""Resident memory over a long run: the surveillance preset on 100,000 frames.

    python samples/bench_memory.py [--frames 100000] [--preset surveillance]

Frames come from the generated demo scene, cycled, so nothing is read from disk;
masks are computed but not written. Prints RSS after a warm-up of 1,000 frames
and at the end, and the growth (target: < 20 MB over 100,000 frames).
"""
import argparse
import itertools
import json
import time

import cv2

from classicseg.io.sources import ArraySource
from classicseg.pipeline import Pipeline
from classicseg.synth import make_scene


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=100_000)
    ap.add_argument("--preset", default="surveillance")
    ap.add_argument("--warmup", type=int, default=1000)
    args = ap.parse_args()
    cv2.setNumThreads(1)
    frames = [f for f, _ in make_scene(n_frames=300).frames()]
    stream = itertools.islice(itertools.cycle(frames), args.frames)
    pipe = Pipeline.load(preset=args.preset)
    marks = {}

    def on_sample(s):
        n = s.index + 1
        if n == args.warmup or n == args.frames or n % 20000 == 0:
            marks[n] = rss_mb()

    t0 = time.perf_counter()
    stats = pipe.run(ArraySource(kind="array", name="cycle", items=stream), on_sample=on_sample)
    secs = time.perf_counter() - t0
    start, end = marks[args.warmup], marks[args.frames]
    print(json.dumps({"frames": stats.frames, "seconds": round(secs, 1), "rss_mb": marks,
                      "growth_mb": round(end - start, 2)}, indent=1))


if __name__ == "__main__":
    main()
