"""``classicseg demo``: the main job on a built-in scene, with nothing downloaded.

1. Generate a fixed-camera scene with exact ground truth (:mod:`classicseg.synth`)
   and write it as a CDnet sequence (``scene/``), so every later step is the same
   as on real CDnet data: ``classicseg run --input OUT/scene`` reproduces it.
2. Run the chosen preset (``masks/``, ``overlay.mp4``) and, for comparison,
   OpenCV's MOG2 with its defaults (``baseline_mog2/``).
3. Score both by the CDnet rules (``scores.csv``, ``per_frame.csv``) and plot the
   per-frame F-measure (``scores.png``).
"""
from __future__ import annotations

import io
from pathlib import Path

from classicseg.config import resolve, validate
from classicseg.io.datasets import write_cdnet_sequence
from classicseg.io.images import atomic_write_bytes, ensure_writable_dir
from classicseg.io.sinks import MaskSink, VideoSink, write_csv
from classicseg.io.sources import open_source
from classicseg.metrics.cdnet import evaluate_sequence
from classicseg.pipeline import Pipeline
from classicseg.synth import make_scene

BASELINE = {"name": "opencv-mog2-defaults", "pipeline": [{"stage": "bgsub.mog2"}]}


def plot_per_frame(series: dict[str, list[tuple[int, float]]], title: str) -> bytes:
    """PNG bytes of per-frame F-measure curves (matplotlib, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 3.2), dpi=100)
    ax = fig.add_subplot()
    for label, pts in series.items():
        ax.plot([p[0] for p in pts], [p[1] for p in pts], label=label, linewidth=1)
    ax.set_xlabel("frame")
    ax.set_ylabel("F-measure")
    ax.set_ylim(0, 1.02)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


#: What the demo writes in its folder (claimed first: a file or folder of the user's by one of
#: these names stops the demo before anything is written; a previous demo's are replaced).
DEMO_OUTPUTS = ("scene", "masks", "baseline_mog2", "overlay.mp4", "scores.csv", "per_frame.csv", "scores.png")


def run_demo(out: Path, n_frames: int = 300, seed: int = 0, preset: str = "surveillance", progress=None) -> dict:
    from classicseg.io.outputs import OutputFolder

    out = ensure_writable_dir(out)
    spec = resolve(preset=preset)
    with OutputFolder(out, role="demo", replace=False) as folder:
        for name in DEMO_OUTPUTS:
            folder.claim(name)
    return _run_demo(out, n_frames, seed, spec, progress)


def _run_demo(out: Path, n_frames: int, seed: int, spec, progress) -> dict:
    scene = make_scene(n_frames=n_frames, seed=seed)
    seq = out / "scene"
    write_cdnet_sequence(seq, scene.frames(), scene.temporal_roi)

    rows, per_frame = [], {}
    runs = [(spec.name, spec, out / "masks", out / "overlay.mp4"),
            ("MOG2 (OpenCV defaults)", validate(BASELINE), out / "baseline_mog2", None)]
    for label, sp, mask_dir, overlay in runs:
        source = open_source(str(seq), **sp.source.model_dump())
        sinks = [MaskSink(mask_dir, source)]
        if overlay is not None:
            sinks.append(VideoSink(overlay, fps=25))
        bar = progress(source.length, label) if progress else None
        try:
            stats = Pipeline.from_spec(sp).run(source, sinks, progress=bar)
        finally:
            if bar is not None:
                bar.close()
        res = evaluate_sequence(mask_dir, seq)
        m = res.metrics
        rows.append({"method": label, "F": m["f_measure"], "precision": m["precision"], "recall": m["recall"],
                     "specificity": m["specificity"], "PWC": m["pwc"], "frames/s": round(stats.fps, 1)})
        per_frame[label] = res.per_frame

    write_csv(out / "scores.csv", rows)
    frames_rows = []
    labels = list(per_frame)
    for i, (num, f0) in enumerate(per_frame[labels[0]]):
        r = {"frame": num, labels[0]: round(f0, 6)}
        for lab in labels[1:]:
            r[lab] = round(per_frame[lab][i][1], 6)
        frames_rows.append(r)
    write_csv(out / "per_frame.csv", frames_rows)
    atomic_write_bytes(out / "scores.png", plot_per_frame(per_frame, f"per-frame F on the demo scene (seed {seed})"))
    return {
        "scene": str(seq),
        "frames": n_frames,
        "table": rows,
        "files": {
            "masks": str(out / "masks"),
            "overlay": str(out / "overlay.mp4"),
            "scores": str(out / "scores.csv"),
            "per-frame": str(out / "per_frame.csv"),
            "plot": str(out / "scores.png"),
        },
    }
