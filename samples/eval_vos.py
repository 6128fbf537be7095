"""Run the ``vos`` preset over the DAVIS 2016 sequences in shared/data and score it.

Usage::

    python samples/eval_vos.py [--data ../shared/data/davis2016] [--out /tmp/vos_pred]
        [--set vos.propagate.bins=32 ...] [--seq all | --seq blackswan ...] [--config my-vos.yaml]
        [--frames /tmp/vos_frames] [--max-frames N]
    python samples/eval_vos.py --loso samples/loso_vos.yaml [--cache /tmp/vos_loso.json]

Prints per-sequence J, F, J&F and seconds per frame (one OpenCV thread, one numba
thread; the time covers the pipeline's stages, not reading or writing files), then the
means and the stages' time as a ratio to a full-frame Farneback (pyramid scale 0.5, 3 levels, window 15, 3 iterations,
poly_n 5, poly_sigma 1.2) timed right after each sequence, under the same load.
Each sequence runs through :func:`classicseg.session.run` with its first-frame mask
``Annotations/480p/<seq>/00000.png``. ``--frames DIR`` writes each sequence's per-frame J
and F (``DIR/<seq>.csv``) to see where a sequence loses the object.

``--loso GRID`` is the leave-one-sequence-out check: the grid file names candidate
settings (each a list of ``--set`` overrides, see ``samples/loso_vos.yaml``); every
candidate is scored on every sequence (results cached in ``--cache``, so an interrupted
grid resumes), then for each sequence the candidate with the best mean J&F over the
*other* sequences is chosen and scored on the one left out. It prints the tuned choice
(best mean over all), the per-fold choice and the LOSO mean beside the tuned mean.
Without the DAVIS data it runs on two generated one-object clips (:func:`classicseg.synth.object_clip`).
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import cv2  # noqa: E402

from classicseg import session  # noqa: E402
from classicseg.demo import davis_or_generated  # noqa: E402
from classicseg.metrics.loso import leave_one_out  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TUNED = ("blackswan", "car-shadow", "dog", "motocross-jump")
ADDED = ("dance-twirl", "goat", "kite-surf", "soapbox")
SEQUENCES = TUNED + ADDED


def run_sequence(data: Path, seq: str, out: Path, preset: str | None, config: str | None, sets,
                 max_frames: int | None = None) -> dict:
    """Run and score one sequence.

    Returns J, F, JF, per-frame ``Jt``/``Ft`` (with their ``frames``), and per frame:
    ``stage_s`` (wall time in the stages), ``wall_s`` (wall time of the run with reading and
    writing) and ``cpu_s`` (this process's CPU time for the run: on a shared machine the
    time it would take on a core of its own; one OpenCV and numba thread).
    """
    from classicseg.metrics.davis import evaluate_sequence

    ann = data / "Annotations" / "480p" / seq
    req = session.Request(input=data / "JPEGImages" / "480p" / seq, preset=None if config else preset,
                          config=config, sets=tuple(sets), output=out / seq, init_mask=ann / "00000.png",
                          max_frames=max_frames)
    t0, c0 = time.perf_counter(), time.process_time()
    res = session.run(req)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    gt = ann
    if max_frames:  # a short clip: score the frames written (first and last excluded as usual)
        gt = out / f"{seq}.gt"
        gt.mkdir(parents=True, exist_ok=True)
        for p in sorted(ann.glob("*.png"))[:max_frames]:
            if not (gt / p.name).exists():
                (gt / p.name).symlink_to(p)
    score = evaluate_sequence(out / seq, gt)  # after the timed run: the speed ratio leaves scoring out
    n = res.stats.frames
    return {"J": score.J_mean, "F": score.F_mean, "JF": score.JF, "stage_s": sum(res.stats.stage_seconds.values()) / n,
            "wall_s": wall / n, "cpu_s": cpu / n, "Jt": score.J[0].tolist(), "Ft": score.F[0].tolist(),
            "frames": list(score.frames)}


def farneback_reference(data: Path, seq: str) -> tuple[float, float]:
    """Wall and CPU seconds per frame of a full-frame Farneback (0.5, 3, 15, 3, 5, 1.2: the usual parameters)."""
    folder = data / "JPEGImages" / "480p" / seq
    grays = [cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in sorted(folder.glob("*.jpg"))[:11]]
    t0, c0 = time.perf_counter(), time.process_time()
    for a, b in zip(grays[1:], grays[:-1]):
        cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 15, 3, 5, 1.2, 0)
    n = len(grays) - 1
    return (time.perf_counter() - t0) / n, (time.process_time() - c0) / n


def _sequences(args, out: Path) -> tuple[Path, tuple[str, ...]]:
    """The DAVIS root and the sequences to run (``--seq all`` or none: all eight); generated
    clips when ``--data`` holds no DAVIS layout."""
    asked = SEQUENCES if not args.seq or args.seq == ["all"] else tuple(args.seq)
    data, seqs, note = davis_or_generated(Path(args.data), out / "generated-davis", asked)
    if note:
        print(note)
    return data, seqs


def evaluate(args) -> None:
    out = Path(args.out)
    data, seqs = _sequences(args, out)
    rows = []
    for seq in seqs:
        r = run_sequence(data, seq, out, args.preset, args.config, args.sets, args.max_frames)
        r["ref_s"], r["ref_cpu"] = farneback_reference(data, seq)  # right after, under the same load
        rows.append(r)
        print(f"{seq:16s} J={r['J']:.3f} F={r['F']:.3f} J&F={r['JF']:.3f} "
              f"{r['stage_s']:.3f} s/frame (stages), {r['wall_s']:.3f} s/frame (with I/O), "
              f"CPU {r['cpu_s'] / r['ref_cpu']:.2f}x Farneback", flush=True)
        if args.frames:
            d = Path(args.frames)
            d.mkdir(parents=True, exist_ok=True)
            with open(d / f"{seq}.csv", "w") as fh:
                fh.write("frame,J,F\n")
                fh.writelines(f"{n},{a:.4f},{b:.4f}\n" for n, a, b in zip(r["frames"], r["Jt"], r["Ft"]))
    n = len(rows)

    def mean(k):
        return sum(r[k] for r in rows) / n

    print(f"{'mean':16s} J={mean('J'):.3f} F={mean('F'):.3f} J&F={mean('JF'):.3f} "
          f"{mean('stage_s'):.3f} s/frame (stages), {mean('wall_s'):.3f} s/frame (with I/O)")
    cpu_ratio = mean("cpu_s") / mean("ref_cpu")
    print(f"speed: the run's CPU time (stages, reading and writing) {mean('cpu_s'):.3f} s/frame = {cpu_ratio:.2f}x "
          f"a full-frame Farneback's CPU time {mean('ref_cpu'):.3f} s/frame timed after each sequence "
          f"(= {cpu_ratio * 0.085:.3f} s/frame on a machine where that Farneback takes 0.085 s); wall-time ratio of the stages "
          f"{mean('stage_s') / mean('ref_s'):.2f}x")


def load_grid(path: Path) -> dict[str, list[str]]:
    """The candidates of a LOSO grid file: ``candidates: {name: [STAGE.PARAM=VALUE, ...]}`` (a
    list may include another through a YAML alias); lists under ``product:`` (``PARAM: [v1, v2]``)
    expand to every combination."""
    import itertools

    import yaml

    doc = yaml.safe_load(Path(path).read_text())
    grid: dict[str, list[str]] = {}
    def flat(items):  # a YAML alias inside a list (``[*base, x=1]``) nests; later overrides win
        for it in items or []:
            yield from (flat(it) if isinstance(it, list) else [str(it)])

    for name, sets in (doc.get("candidates") or {}).items():
        grid[str(name)] = list(flat(sets))
    prod = doc.get("product") or {}
    if prod:
        keys = list(prod)
        for combo in itertools.product(*(prod[k] for k in keys)):
            sets = [f"{k}={v}" for k, v in zip(keys, combo)]
            grid[",".join(f"{k.rsplit('.', 1)[-1]}={v}" for k, v in zip(keys, combo))] = sets
    if not grid:
        raise SystemExit(f"{path}: no candidates")
    return grid


def loso(args) -> None:
    out = Path(args.out)
    grid = load_grid(Path(args.loso))
    data, seqs = _sequences(args, out)
    cache_path = Path(args.cache)
    cache = json.loads(cache_path.read_text()) if cache_path.exists() else {}
    for name, sets in grid.items():
        for seq in seqs:
            key = f"{name}|{seq}"
            if key in cache:
                continue
            r = run_sequence(data, seq, out, args.preset, args.config, [*args.sets, *sets], args.max_frames)
            r["ref_s"], r["ref_cpu"] = farneback_reference(data, seq)
            cache[key] = {k: r[k] for k in ("J", "F", "JF", "stage_s", "cpu_s", "ref_s", "ref_cpu")}
            cache_path.write_text(json.dumps(cache, indent=1))
            print(f"{name:28s} {seq:16s} J&F={r['JF']:.3f} CPU {r['cpu_s'] / r['ref_cpu']:.2f}x Farneback",
                  flush=True)
    score = {(n, s): cache[f"{n}|{s}"]["JF"] for n in grid for s in seqs}
    loso = leave_one_out({n: {s: score[n, s] for s in seqs} for n in grid})
    tuned = loso.tuned
    folds = [(s, loso.chosen[s], loso.held_out[s]) for s in seqs]
    print("\ncandidate".ljust(30) + " ".join(f"{s[:10]:>10s}" for s in seqs) + "      mean  CPU x Farneback")
    for n in grid:
        ratio = (sum(cache[f"{n}|{s}"]["cpu_s"] for s in seqs) / sum(cache[f"{n}|{s}"]["ref_cpu"] for s in seqs))
        print(f"{n:29s} " + " ".join(f"{score[n, s]:10.3f}" for s in seqs)
              + f" {sum(score[n, s] for s in seqs) / len(seqs):9.3f} {ratio:8.2f}")
    print(f"\ntuned on all {len(seqs)}: {tuned} (mean {sum(score[tuned, s] for s in seqs) / len(seqs):.3f})")
    print(f"{'left out':16s} {'chosen on the others':28s} {'left-out J&F':>12s} {'tuned J&F':>10s}")
    for s, pick, held in folds:
        print(f"{s:16s} {pick:28s} {held:12.3f} {score[tuned, s]:10.3f}")
    print(f"{'mean':16s} {'':28s} {sum(f[2] for f in folds) / len(folds):12.3f} "
          f"{sum(score[tuned, s] for s in seqs) / len(seqs):10.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=str(Path(os.environ.get("CLASSICSEG_SHARED_DATA", REPO.parent / "shared" / "data"))
                                          / "davis2016"))
    ap.add_argument("--out", default="/tmp/classicseg_vos_pred")
    ap.add_argument("--preset", default="vos")
    ap.add_argument("--config", help="a pipeline file instead of the preset")
    ap.add_argument("--set", dest="sets", action="append", default=[], help="STAGE.PARAM=VALUE override")
    ap.add_argument("--seq", action="append", help="only these sequences ('all': the eight; default all)")
    ap.add_argument("--max-frames", type=int, help="only the first N frames of each sequence (quick checks)")
    ap.add_argument("--frames", help="write per-frame J and F of each sequence to DIR/<seq>.csv")
    ap.add_argument("--loso", help="leave-one-sequence-out over the candidates of this grid file")
    ap.add_argument("--cache", default="/tmp/classicseg_vos_loso.json", help="--loso: results cache")
    args = ap.parse_args()
    cv2.setNumThreads(1)
    try:
        import numba

        numba.set_num_threads(1)
    except Exception:  # noqa: BLE001 - numba is optional here
        pass
    if args.loso:
        loso(args)
    else:
        evaluate(args)


if __name__ == "__main__":
    main()
