"""Build a pipeline in Python, run it on the generated demo scene and score it.

    python samples/custom_pipeline.py [OUTPUT_DIR]

Shows the three layers a user meets: plain functions (``fill_holes``), stages
(``MOG2``, ``Open``...) chained into a ``Pipeline``, and the CDnet accumulator.
"""
import sys
import tempfile
from pathlib import Path

import cv2

from classicseg.metrics.cdnet import CDnetAccumulator
from classicseg.pipeline import Pipeline
from classicseg.stages.bgsub.opencv import MOG2
from classicseg.stages.morph import Close, FillHoles, Open
from classicseg.stages.temporal import Majority
from classicseg.synth import make_scene
from classicseg.types import Sample


def main(out: Path) -> None:
    cv2.setNumThreads(1)
    scene = make_scene(n_frames=200, seed=3)
    frames, gts = zip(*scene.frames())

    pipe = Pipeline([
        MOG2(history=200, var_threshold=16, shadow_threshold=0.6),  # shadows -> their own mask
        Open(radius=1),
        Close(radius=2),
        FillHoles(),
        Majority(window=3),
    ])
    first, last = scene.temporal_roi
    acc = CDnetAccumulator()
    for sample in pipe.stream(Sample(i, f"{i + 1:06d}", f) for i, f in enumerate(frames)):
        number = sample.index + 1
        if first <= number <= last:
            acc.update(sample["fg"], gts[sample.index], frame=number)
        if number == last:  # keep a picture of the last frame
            vis = sample.image.copy()
            vis[sample["fg"]] = (0, 0, 255)
            vis[sample["shadow"]] = (255, 0, 0)
            cv2.imwrite(str(out / "last_frame.png"), vis)
    m = acc.compute()
    print(f"F={m['f_measure']:.3f}  precision={m['precision']:.3f}  recall={m['recall']:.3f}")
    print(f"picture: {out / 'last_frame.png'} (red: foreground, blue: shadow)")


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="classicseg-"))
    target.mkdir(parents=True, exist_ok=True)
    main(target)
