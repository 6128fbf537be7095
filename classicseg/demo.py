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

import importlib.util
import io
import logging
from pathlib import Path

from classicseg import session
from classicseg.config import resolve, validate
from classicseg.io.datasets import write_cdnet_sequence, write_davis_sequence
from classicseg.io.images import atomic_write_bytes, ensure_writable_dir
from classicseg.io.sinks import write_csv
from classicseg.synth import make_scene, object_clip

log = logging.getLogger("classicseg")

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
        run = session.run(session.Request(input=seq, spec=sp, output=mask_dir, overlay=overlay, gt=seq, metric="cdnet",
                                          progress=(lambda total, _name, lab=label: progress(total, lab))
                                          if progress else None))
        stats, res = run.stats, run.score
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
    files = {"masks": str(out / "masks"), "overlay": str(out / "overlay.mp4"), "scores": str(out / "scores.csv"),
             "per-frame": str(out / "per_frame.csv")}
    if importlib.util.find_spec("matplotlib") is not None:
        atomic_write_bytes(out / "scores.png", plot_per_frame(per_frame, f"per-frame F on the demo scene (seed {seed})"))
        files["plot"] = str(out / "scores.png")
    else:
        log.info("matplotlib not installed: no scores.png (pip install 'classicseg[plot]')")
    return {"scene": str(seq), "frames": n_frames, "table": rows, "files": files}


def make_davis_root(folder, seeds=(0, 1), n_frames: int = 40) -> Path:
    """A DAVIS-layout root of generated one-object clips (:func:`classicseg.synth.object_clip`),
    ``synth-<seed>`` each, for trying video object segmentation without the DAVIS data."""
    folder = Path(folder)
    for seed in seeds:
        frames, masks = object_clip(n_frames, seed=seed)
        write_davis_sequence(folder, f"synth-{seed}", frames, masks)
    return folder


def davis_or_generated(data, work, sequences) -> tuple[Path, tuple, str | None]:
    """``(data, sequences, None)`` when ``data`` is a DAVIS root; otherwise a root of two
    generated clips written under ``work`` (:func:`make_davis_root`), their names (or the
    ``sequences`` asked for, when they are among them) and a line saying so."""
    data = Path(data)
    if (data / "JPEGImages").is_dir() and (data / "Annotations").is_dir():
        return data, tuple(sequences), None
    root = make_davis_root(work)
    names = ("synth-0", "synth-1")
    asked = tuple(s for s in sequences if s in names)
    return root, asked or names, (f"no DAVIS data at {data}: running on two generated one-object clips instead "
                                  "(--data DAVIS_ROOT for the real sequences)")
