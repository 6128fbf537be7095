"""Annotation assist measured on the DAVIS 2016 sequences in shared/data (issue 14).

Usage::

    nice -n 10 python samples/eval_annotate.py seeds     [--seq blackswan ...] [--json OUT]
    nice -n 10 python samples/eval_annotate.py annotator [--seq ...] [--seeds 3] [--json OUT]
    nice -n 10 python samples/eval_annotate.py even      [--budget 9] [--seq ...] [--json OUT]
    nice -n 10 python samples/eval_annotate.py timing    [--frames 100]
    python samples/eval_annotate.py plot --json OUT [--json OUT2 ...] --png docs/annotate_budget.png

``seeds``: J&F of the ``vos`` preset started from the exact first-frame mask, from the
first frame's tight ground-truth box alone (GrabCut, :func:`classicseg.stages.vos.seeds.seed_ids`,
with the box's pixels that move with the camera between frames 0 and 3 started as
background, an option measured and not kept; ``box_colour_only``: GrabCut with the
tightness prior, what ``run --init-box`` does; ``box_loose``: GrabCut without it,
``box_tight=False``) and from simulated scribbles (foreground: the skeleton of the object eroded by 5 px;
background: the skeleton of the background inside the box grown by 30 %, 15 px away from
the object; drawn 3 px wide), by GrabCut and by the random walker.

``annotator``: a simulated annotator. Start from the first-frame mask; ``suggest`` picks one
frame, the ground truth there becomes a keyframe, the affected span is recomputed
(:class:`classicseg.keyframes.Keyframed`), and so on up to 4 extra frames; against it, the
same number of evenly spaced frames (``round(i * n / (k + 1))``, i = 1..k) and random
frames (mean over ``--seeds`` seeds; each seed draws one random order of frames 1..n-1
and a budget of k takes its first k), each scored at 1, 2 and 4 extra frames. A run from a
keyframe is causal, so a run computed once from a keyframe serves every set that holds
it (the runner below caches runs by keyframe and direction; a set that needs a longer run
than the cached one recomputes it).

``even``: J&F with ``--budget`` evenly spaced ground-truth keyframes besides the first
(nearest and vote merges): how far more keyframes can take ``vos`` at all.

``timing``: one correction on a 100-frame 854x480 clip (soapbox, 99 frames, with its last
frames repeated backwards to reach ``--frames``): the time of ``Keyframed.propagate`` after
adding a keyframe, against propagating all keyframes from scratch; with keyframes only at
both ends (a correction in the middle recomputes nearly everything) and with keyframes
every 25 frames.

Scores follow the DAVIS rules (first and last frames excluded; J&F = (J + F) / 2).
One OpenCV thread.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from classicseg.annotate.suggest import Video, embed, suggest, transition_costs  # noqa: E402
from classicseg.io.masks import read_init_mask  # noqa: E402
from classicseg.io.seeds import BACKGROUND, Seeds  # noqa: E402
from classicseg.keyframes import FrameResult, Keyframed  # noqa: E402
from classicseg.metrics.davis import boundary_f, jaccard  # noqa: E402
from classicseg.pipeline import Pipeline  # noqa: E402
from classicseg.stages.vos.seeds import MOTION_GAP, seed_ids  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("CLASSICSEG_SHARED_DATA", REPO.parent / "shared" / "data")) / "davis2016"
SEQUENCES = ("blackswan", "car-shadow", "dog", "motocross-jump", "dance-twirl", "goat", "kite-surf", "soapbox")
BUDGETS = (1, 2, 4)


def load(seq: str):
    imgs = sorted((DATA / "JPEGImages" / "480p" / seq).glob("*.jpg"))
    frames = [(p.stem, cv2.imread(str(p))) for p in imgs]
    gts = [read_init_mask(DATA / "Annotations" / "480p" / seq / f"{p.stem}.png") > 0
           if (DATA / "Annotations" / "480p" / seq / f"{p.stem}.png").is_file() else None for p in imgs]
    return frames, gts


class Scorer:
    """Per-frame J and F against the ground truth, cached by the prediction's origin."""

    def __init__(self, gts):
        self.gts, self.cache = gts, {}

    def frame(self, j: int, pred: np.ndarray, origin=None) -> tuple[float, float]:
        key = (j, origin)
        if origin is not None and key in self.cache:
            return self.cache[key]
        gt = self.gts[j]
        r = (jaccard(gt, pred), boundary_f(gt, pred))
        if origin is not None:
            self.cache[key] = r
        return r

    def sequence(self, preds, origins=None) -> tuple[float, float, float]:
        n = len(self.gts)
        js, fs = [], []
        for j in range(1, n - 1):
            jj, ff = self.frame(j, preds[j] > 0, origins[j] if origins else None)
            js.append(jj)
            fs.append(ff)
        J, F = float(np.mean(js)), float(np.mean(fs))
        return J, F, (J + F) / 2


class CachedRunner:
    """``Keyframed`` runner that runs the pipeline once per (keyframe, direction) and serves
    every shorter span of it from memory (runs are causal)."""

    def __init__(self, pipe, frames):
        self.pipe, self.frames, self.runs, self.frames_computed = pipe, frames, {}, 0

    def __call__(self, order, init):
        k, d = order[0], (1 if len(order) < 2 or order[1] > order[0] else -1)
        have = self.runs.get((k, d))
        if have is None or not all(j in have for j in order):
            kf = Keyframed(self.pipe, self.frames)
            have = kf._run_pipe(order, init)
            self.frames_computed += len(order) - 1
            have = {j: FrameResult(np.packbits(r.ids > 0), None, r.uncertainty) for j, r in have.items()}
            self.runs[(k, d)] = have
        return {j: have[j] for j in order}


def unpack(r: FrameResult, shape) -> np.ndarray:
    ids = r.ids
    if ids.ndim == 1:  # packed by the cached runner
        return np.unpackbits(ids, count=shape[0] * shape[1]).reshape(shape)
    return ids > 0


def merged(kf: Keyframed, shape):
    """Per-frame masks, origins (keyframe, direction) and uncertainties of a Keyframed."""
    preds, origins, unc = [], [], []
    for j in range(len(kf)):
        if j in kf.keys:
            preds.append(kf.keys[j] > 0)
            origins.append(("key", j))
            unc.append(0.0)
            continue
        cands = sorted(((abs(j - k), k, d) for k, runs in kf.runs.items() for d in runs if j in runs[d]))
        _, k, d = cands[0]
        r = kf.runs[k][d][j]
        preds.append(unpack(r, shape))
        origins.append((k, d))
        unc.append(r.uncertainty)
    return preds, origins, unc


def simulated_scribbles(gt: np.ndarray) -> np.ndarray:
    """Foreground/background strokes from a ground-truth mask (module docstring)."""
    from skimage.morphology import skeletonize

    h, w = gt.shape
    k5 = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (11, 11))
    inner = cv2.erode(gt.view(np.uint8), k5) > 0
    fg = skeletonize(inner if inner.any() else gt)
    ys, xs = np.nonzero(gt)
    bh, bw = ys.max() - ys.min() + 1, xs.max() - xs.min() + 1
    y0, y1 = max(ys.min() - int(0.3 * bh), 0), min(ys.max() + int(0.3 * bh) + 1, h)
    x0, x1 = max(xs.min() - int(0.3 * bw), 0), min(xs.max() + int(0.3 * bw) + 1, w)
    region = np.zeros_like(gt)
    region[y0:y1, x0:x1] = True
    k15 = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (31, 31))
    region &= ~(cv2.dilate(gt.view(np.uint8), k15) > 0)
    bg = skeletonize(region)
    k3 = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    out = np.zeros((h, w), np.uint8)
    out[cv2.dilate(bg.view(np.uint8), k3) > 0] = BACKGROUND
    out[cv2.dilate(fg.view(np.uint8), k3) > 0] = 1
    return out


def tight_box(gt: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(gt)
    return int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)


def vos_from(pipe, frames, init) -> list[np.ndarray]:
    kf = Keyframed(pipe, frames)
    kf.set(0, init)
    kf.propagate()
    return [s["fg"] for s in kf.samples()]


def cmd_seeds(args) -> dict:
    pipe = Pipeline.load(preset="vos")
    out = {}
    for seq in args.seq:
        frames, gts = load(seq)
        sc = Scorer(gts)
        img, gt = frames[0][1], gts[0]
        inits = {"exact": gt.view(np.uint8)}
        t0 = time.perf_counter()
        inits["box"] = seed_ids(img, Seeds(boxes=[(1, tight_box(gt))]), other=frames[MOTION_GAP][1])
        t_box = time.perf_counter() - t0
        inits["box_colour_only"] = seed_ids(img, Seeds(boxes=[(1, tight_box(gt))]))
        inits["box_loose"] = seed_ids(img, Seeds(boxes=[(1, tight_box(gt))]), box_tight=False)
        scrib = simulated_scribbles(gt)
        inits["scribbles_grabcut"] = seed_ids(img, Seeds(scribbles=scrib))
        inits["scribbles_walker"] = seed_ids(img, Seeds(scribbles=scrib), method="random_walker")
        row = {"frames": len(frames), "box_seconds": t_box}
        for name, init in inits.items():
            m = init > 0
            row[f"{name}_first_iou"] = float((m & gt).sum() / max((m | gt).sum(), 1))
            if name in args.only or not args.only:
                preds = vos_from(pipe, frames, init)
                row[name] = sc.sequence(preds)[2]
        out[seq] = row
        print(seq, json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}), flush=True)
    names = [k for k in next(iter(out.values())) if k in ("exact", "box", "box_colour_only", "box_loose",
                                                          "scribbles_grabcut", "scribbles_walker")]
    print("mean", {k: round(float(np.mean([r[k] for r in out.values()])), 4) for k in names})
    return out


def cmd_annotator(args) -> dict:
    pipe = Pipeline.load(preset="vos")
    out = {}
    for seq in args.seq:
        t0 = time.perf_counter()
        frames, gts = load(seq)
        n, shape = len(frames), gts[0].shape
        sc = Scorer(gts)
        runner = CachedRunner(pipe, frames)
        gt_ids = [g.view(np.uint8) for g in gts]

        def score_keys(keys):
            kf = Keyframed(pipe, frames, runner=runner)
            for k in keys:
                kf.set(k, gt_ids[k])
            kf.propagate()
            preds, origins, unc = merged(kf, shape)
            return sc.sequence(preds, origins)[2], preds, unc

        emb = np.stack([embed(f) for _, f in frames])
        row = {"frames": n}
        # suggested: one frame at a time, rerun in between
        keys = [0]
        jf, preds, unc = score_keys(keys)
        row["base"] = jf
        sugg = [jf]
        picks = []
        for step in range(max(BUDGETS)):
            costs = transition_costs([f for _, f in frames], preds, unc, emb)
            (_, k), = suggest([Video(costs, emb, set(keys))], 1, novelty_weight=args.novelty)
            keys.append(k)
            picks.append(k)
            jf, preds, unc = score_keys(keys)
            sugg.append(jf)
        row["suggested"] = {b: sugg[b] for b in BUDGETS}
        row["suggested_frames"] = picks
        row["even"] = {}
        for b in BUDGETS:
            row["even"][b] = score_keys([0] + even_frames(n, b))[0]
        row["random"] = {b: [] for b in BUDGETS}
        for s in range(args.seeds):  # one random order per seed; a budget takes its first frames
            order = np.random.default_rng(s).permutation(np.arange(1, n))
            for b in BUDGETS:
                row["random"][b].append(score_keys([0] + sorted(int(x) for x in order[:b]))[0])
        row["random"] = {b: float(np.mean(v)) for b, v in row["random"].items()}
        row["seconds"] = time.perf_counter() - t0
        row["frames_computed"] = runner.frames_computed
        out[seq] = row
        print(seq, json.dumps(row, default=lambda v: round(v, 4)), flush=True)
    print_annotator(out)
    return out


def print_annotator(out: dict) -> None:
    print(f"{'extra frames':<14}" + "".join(f"{b:>10}" for b in (0, *BUDGETS)))
    for strat in ("suggested", "even", "random"):
        vals = [np.mean([r["base"] for r in out.values()])]
        vals += [np.mean([r[strat][b] if b in r[strat] else r[strat][str(b)] for r in out.values()]) for b in BUDGETS]
        vals = [float(v) for v in vals]
        print(f"{strat:<14}" + "".join(f"{v:>10.4f}" for v in vals))


def even_frames(n: int, budget: int) -> list[int]:
    """``budget`` evenly spaced frames of ``n`` besides frame 0: ``round(i * n / (budget + 1))``."""
    return sorted({int(round(i * n / (budget + 1))) for i in range(1, budget + 1)})


def cmd_even(args) -> dict:
    """J&F with ``--budget`` evenly spaced ground-truth keyframes besides the first, for each
    merge of the two runs between keyframes (nearest, vote): how far more keyframes take ``vos``."""
    pipe = Pipeline.load(preset="vos")
    out = {}
    for seq in args.seq:
        frames, gts = load(seq)
        keys = [0] + even_frames(len(frames), args.budget)
        kf = Keyframed(pipe, frames, merge="vote")  # keeps each run's soft mask; the runs serve both merges
        for k in keys:
            kf.set(k, gts[k].view(np.uint8))
        kf.propagate()
        row = {"keyframes": keys,
               "nearest": Scorer(gts).sequence(merged(kf, gts[0].shape)[0])[2],
               "vote": Scorer(gts).sequence([kf.result(j).ids > 0 for j in range(len(frames))])[2]}
        out[seq] = row
        print(seq, json.dumps(row, default=lambda v: round(v, 4)), flush=True)
    for merge in ("nearest", "vote"):
        print(f"mean J&F, {args.budget} extra keyframes, {merge}: {np.mean([r[merge] for r in out.values()]):.4f}")
    return out


def cmd_timing(args) -> dict:
    seq = "soapbox"
    frames, gts = load(seq)
    idx = list(range(len(frames)))
    while len(idx) < args.frames:
        idx = idx + idx[::-1][1:]
    idx = idx[:args.frames]
    frames = [frames[i] for i in idx]
    pipe = Pipeline.load(preset="vos")
    n = len(frames)
    res = {"frames": n, "size": f"{frames[0][1].shape[1]}x{frames[0][1].shape[0]}"}
    for label, keys, new in (("ends", [0, n - 1], n // 2), ("every25", list(range(0, n, 25)) + [n - 1], 37)):
        kf = Keyframed(pipe, frames)
        for k in keys:
            kf.set(k, gts[idx[k]].view(np.uint8))  # the ground truth of each keyframe
        t0 = time.perf_counter()
        kf.propagate()
        t_full = time.perf_counter() - t0
        kf.set(new, gts[idx[new]].view(np.uint8))
        t0 = time.perf_counter()
        done = kf.propagate()
        t_corr = time.perf_counter() - t0
        res[label] = {"keyframes": keys, "added": new, "all_seconds": t_full, "correction_seconds": t_corr,
                      "recomputed_frames": len(done), "seconds_per_frame": t_corr / max(len(done), 1)}
        print(label, json.dumps(res[label]), flush=True)
    return res


def cmd_plot(args) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = {}
    for f in args.json:  # several result files (e.g. sequences run separately) are merged
        d = json.loads(Path(f).read_text())
        out.update(d.get("annotator", d))
    print_annotator(out)
    xs = [0, *BUDGETS]
    fig, ax = plt.subplots(figsize=(5.5, 3.6), dpi=120)
    for strat, style in (("suggested", "o-"), ("even", "s--"), ("random", "^:")):
        ys = [np.mean([r["base"] for r in out.values()])]
        ys += [np.mean([r[strat][str(b)] for r in out.values()]) for b in BUDGETS]
        ax.plot(xs, ys, style, label=strat)
    ax.set_xlabel("annotated frames besides the first")
    ax.set_ylabel(f"mean J&F ({len(out)} DAVIS 2016 sequences)")
    ax.set_xticks(xs)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.png)
    print(args.png)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("command", choices=["seeds", "annotator", "even", "timing", "plot"])
    ap.add_argument("--seq", action="append")
    ap.add_argument("--seeds", type=int, default=3, help="random-frame seeds")
    ap.add_argument("--novelty", type=float, default=None)
    ap.add_argument("--only", action="append", default=[], help="seeds: only these inits run vos")
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--budget", type=int, default=9, help="even: evenly spaced keyframes besides the first")
    ap.add_argument("--json", action="append", help="where to write the results (plot: the files to read)")
    ap.add_argument("--png", default="docs/annotate_budget.png")
    args = ap.parse_args()
    cv2.setNumThreads(1)
    args.seq = args.seq or list(SEQUENCES)
    if args.novelty is None:
        from classicseg.annotate.suggest import NOVELTY_WEIGHT

        args.novelty = NOVELTY_WEIGHT
    if args.command == "plot":
        cmd_plot(args)
        return
    res = {"seeds": cmd_seeds, "annotator": cmd_annotator, "even": cmd_even, "timing": cmd_timing}[args.command](args)
    if args.json:
        args.json = args.json[0]
        commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True).stdout.strip()
        Path(args.json).write_text(json.dumps({"commit": commit, args.command: res}, indent=1))


if __name__ == "__main__":
    main()
