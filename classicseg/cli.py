"""The ``classicseg`` command line: the only module that prints or exits.

Every user-caused problem is a :class:`~classicseg.errors.ClassicsegError`; the error
boundary in :func:`main` prints it on one line and exits non-zero. ``--debug`` (or
``CLASSICSEG_DEBUG=1``) shows the traceback instead.
"""
from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

import click

from classicseg import __version__
from classicseg.batch import METRICS as BATCH_METRICS  # light: the engine loads in the workers
from classicseg.errors import ClassicsegError, ConfigError, Interrupted

log = logging.getLogger("classicseg")


class _OneLineFormatter(logging.Formatter):
    """Each log record on one line: a newline in a path or a library's message is shown escaped."""

    def format(self, record: logging.LogRecord) -> str:
        return _one_line(super().format(record))


def _setup_logging(verbose: int, quiet: bool = False) -> None:
    level = logging.ERROR if quiet else logging.WARNING - 10 * verbose
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_OneLineFormatter("classicseg: %(levelname)s: %(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(level)
    log.propagate = False


class _Group(click.Group):
    """Keeps an interrupt from click, which would turn it into a bare 'Aborted!' (and an empty
    line): :func:`main` reports it itself."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as exc:
            raise _Stopped(exc) from None


class _Stopped(Exception):
    def __init__(self, interrupt: KeyboardInterrupt) -> None:
        super().__init__(str(interrupt))
        self.interrupt = interrupt


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="classicseg")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug logs).")
@click.option("-q", "--quiet", is_flag=True, help="No warnings: only errors (and the results).")
def cli(debug: bool, verbose: int, quiet: bool) -> None:
    """Classical video segmentation: background subtraction, morphology, tracking, scoring."""
    _setup_logging(verbose, quiet)


def _threads(n: int | None) -> None:
    if n is not None:
        import cv2

        cv2.setNumThreads(n)


def _progress(total, desc, enabled):
    """A tqdm bar on a terminal (None when disabled)."""
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="frame", delay=1.0, leave=False, file=sys.stderr,
                dynamic_ncols=True, disable=None)  # None: only on a terminal


def _print_summary(name: str, stats, out_dir: Path | None, n_written: int | None) -> None:
    click.echo(f"{name}: {stats.frames} frames in {stats.seconds:.2f} s ({stats.fps:.1f} frames/s)")
    lat = stats.latency_ms()
    if lat:
        click.echo(f"  latency per frame: mean {lat['mean']:.2f} ms, p50 {lat['p50']:.2f}, p95 {lat['p95']:.2f}, "
                   f"max {lat['max']:.2f}")
    for k, share in stats.shares().items():
        click.echo(f"  {k:<24} {100 * share:5.1f}%")
    if out_dir is not None:
        click.echo(f"masks: {out_dir} ({n_written} files)")


# -- run -----------------------------------------------------------------------
@cli.command()
@click.option("--preset", "-p", help="A shipped pipeline (see `classicseg config --list`).")
@click.option("--config", "-c", "config_file", type=click.Path(dir_okay=False), help="Your own pipeline file (YAML/TOML).")
@click.option("--set", "sets", multiple=True, metavar="STAGE.PARAM=VALUE", help="Override one value (repeatable).")
@click.option("--input", "-i", "input_", required=True, help="Video file, image folder, camera index or stream URL.")
@click.option("--output", "-o", type=click.Path(file_okay=False), help="Folder for the masks.")
@click.option("--overlay", type=click.Path(dir_okay=False), help="Also write an overlay video (.mp4).")
@click.option("--init-mask", type=click.Path(dir_okay=False),
              help="First-frame mask for semi-supervised video object segmentation (e.g. DAVIS 00000.png).")
@click.option("--init-box", "init_boxes", multiple=True, metavar="X,Y,W,H",
              help="First-frame box drawn tight around an object (GrabCut with the box's tightness prior gives its "
                   "mask); repeatable, ids 1, 2, ... in order.")
@click.option("--init-scribbles", type=click.Path(dir_okay=False),
              help="First-frame scribble PNG: 0 none, 1 foreground, 2 background (or an indexed PNG of object ids "
                   "with 255 = background).")
@click.option("--keyframes", type=click.Path(),
              help="Folder of corrections named by frame number - masks 00042.png, scribbles 00042.scribbles.png, "
                   "boxes/clicks 00042.json - or a COCO .json / CVAT .xml / MOT .txt file: propagated both ways (vos).")
@click.option("--merge", type=click.Choice(["nearest", "vote"]), default="nearest", show_default=True,
              help="Keyframes: a frame takes the nearer keyframe's result, or a distance-weighted vote of both.")
@click.option("--prior", type=click.Path(file_okay=False),
              help="Folder of another model's per-frame masks/probabilities/class maps (PNG, .npy, .npz).")
@click.option("--prior-match", type=click.Choice(["auto", "number", "order"]), default="auto", show_default=True,
              help="Match prior files to frames by the number in their names, or by sorted order.")
@click.option("--prior-weight", type=click.FloatRange(0, 10), default=1.0, show_default=True,
              help="Weight of the prior's log-odds where it is fused into the vos probability.")
@click.option("--events", is_flag=True,
              help="Write OUTPUT/events.jsonl (a pipeline without an events stage gets events.motion).")
@click.option("--snapshots", is_flag=True, help="Save a picture of each event's peak frame under OUTPUT/snapshots/.")
@click.option("--clips", is_flag=True, help="Record each event as an H.264 clip under OUTPUT/clips/.")
@click.option("--events-only", is_flag=True,
              help="Record only around events: events.jsonl, snapshots and clips, no per-frame masks.")
@click.option("--pre-capture", type=click.FloatRange(0, 60), default=2.0, show_default=True,
              help="Seconds of video before each event in its clip.")
@click.option("--post-capture", type=click.FloatRange(0, 600), default=3.0, show_default=True,
              help="Seconds of video after each event in its clip.")
@click.option("--threads", type=click.IntRange(0, 256), default=None, help="OpenCV threads (default: OpenCV's choice).")
@click.option("--max-bad-frames", type=click.IntRange(1, 1_000_000), default=None,
              help="Undecodable frames in a row before giving up.")
@click.option("--max-frames", type=click.IntRange(1, 10**12), default=None, help="Stop after this many frames.")
@click.option("--progress/--no-progress", default=True, help="Show a progress bar on long runs.")
@click.option("--json", "as_json", is_flag=True, help="Print the run summary as JSON.")
@click.option("--backend", type=click.Choice(["auto", "cpu", "cuda"]), default=None,
              help="Where stages run (default: the config's `backend`, else cpu); cuda needs OpenCV built with CUDA.")
def run(preset, config_file, sets, input_, output, overlay, init_mask, init_boxes, init_scribbles, keyframes, merge,
        prior, prior_match, prior_weight, events, snapshots, clips, events_only, pre_capture, post_capture, threads,
        max_bad_frames, max_frames, progress, as_json, backend):
    """Run a pipeline on a video, image folder, camera or stream and write masks."""
    from classicseg import session

    if (events or snapshots or clips or events_only) and not output:
        raise click.UsageError("--events, --snapshots, --clips and --events-only write into --output DIR")
    if events_only:
        events = snapshots = clips = True
    _threads(threads)
    seeds = None
    if init_boxes or init_scribbles:
        from classicseg.io.seeds import Seeds, parse_box, read_scribbles

        seeds = Seeds(boxes=[(i + 1, parse_box(b)) for i, b in enumerate(init_boxes)],
                      scribbles=read_scribbles(init_scribbles) if init_scribbles else None,
                      origin=f"--init-scribbles {init_scribbles}" if init_scribbles else "--init-box")
    req = session.Request(
        input=input_, preset=preset, config=config_file, sets=tuple(sets), backend=backend, output=output,
        overlay=overlay, masks=not events_only, events=events or snapshots or clips, snapshots=snapshots,
        clips=clips, pre_capture=pre_capture, post_capture=post_capture, init_mask=init_mask, init_seeds=seeds,
        keyframes=keyframes, merge=merge,
        prior=prior, prior_match=prior_match, prior_weight=prior_weight, max_frames=max_frames,
        max_bad_frames=max_bad_frames,
        progress=(lambda total, name: _progress(total, name, progress and not as_json)))
    result = session.run(session.prepare(req))  # validated before any frame is read
    if as_json:
        click.echo(json.dumps(result.summary, indent=2))
        return
    s = result.summary
    _print_summary(result.name, result.stats,
                   Path(output) if output and not events_only else None, result.masks_written if output else None)
    if "events" in result.outputs:
        click.echo(f"events: {result.outputs['events']} ({result.summary.get('events', 0)} lines)")
    if s["skipped_frames"]:
        click.echo(f"skipped {s['skipped_frames']} undecodable frames")
    if s["dropped_frames"] or s["reconnects"]:
        click.echo(f"live: {s['dropped_frames']} frames dropped, {s['reconnects']} reconnects")


# -- eval ------------------------------------------------------------------------
def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4f}" if abs(v) < 10 else f"{v:.1f}"
    return str(v)


def _print_table(rows: list[dict]) -> None:
    if not rows:
        return
    cols = list(rows[0])
    widths = {c: max(len(c), *(len(_fmt(r.get(c, ""))) for r in rows)) for c in cols}
    click.echo("  ".join(c.ljust(widths[c]) for c in cols))
    for r in rows:
        click.echo("  ".join(_fmt(r.get(c, "")).ljust(widths[c]) for c in cols))


def _run_speeds(pred) -> list[dict]:
    """frames/s and latency from the run.json (``classicseg run``) or .done.json (``classicseg batch``,
    no latency) of a prediction folder and of its sub-folders two levels down."""
    if pred is None or not Path(pred).is_dir():
        return []
    found = []
    for d in [Path(pred), *sorted(Path(pred).glob("*/")), *sorted(Path(pred).glob("*/*/"))]:
        f = next((d / n for n in ("run.json", ".done.json") if (d / n).is_file()), None)
        if f is not None:
            found.append(f)
    rows = []
    for f in found:
        try:
            d = json.loads(f.read_text())
        except (OSError, ValueError) as exc:
            log.warning("%s: cannot read: %s", f, exc)
            continue
        if not isinstance(d, dict) or "fps" not in d:
            continue
        lat = d.get("latency_ms") or {}
        rows.append({"run": f.parent.name or str(f.parent), "frames": d.get("frames", ""), "frames/s": d.get("fps", ""),
                     **{f"latency {k} ms": lat[k] for k in ("mean", "p50", "p95", "max") if k in lat}})
    return rows


def _flow_pictures(viz: Path):
    """An ``on_pair`` callback writing computed flow, ground truth and EPE pictures into ``viz``."""
    import numpy as np

    from classicseg.io.images import ensure_writable_dir, write_image
    from classicseg.metrics.flow import endpoint_error
    from classicseg.viz import error_to_color, flow_to_color

    ensure_writable_dir(viz)

    def write(r) -> None:
        gt_speed = np.sqrt((r.gt ** 2).sum(axis=2))[r.valid]
        top = float(gt_speed.max()) if gt_speed.size and gt_speed.max() > 0 else None
        write_image(viz / f"{r.name}_gt.png", flow_to_color(r.gt, top, r.valid))
        write_image(viz / f"{r.name}_flow.png", flow_to_color(r.flow, top))
        write_image(viz / f"{r.name}_epe.png", error_to_color(endpoint_error(r.flow, r.gt), 3.0, r.valid))
        r.flow = r.gt = r.valid = None

    return write


def _flow_function(name: str, scale: float):
    from classicseg.stages.flow import flow_function

    try:
        return flow_function(name, scale)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _frame_range(text: str | None) -> tuple[int | None, int | None] | None:
    """``--frames A:B`` -> ``(A, B)``; ``A:`` and ``:B`` leave an end open."""
    if text is None:
        return None
    first, colon, last = str(text).partition(":")
    try:
        a = int(first) if first.strip() else None
        b = int(last) if last.strip() else None
    except ValueError:
        a = b = -1
    if not colon or (a is None and b is None) or (a is not None and a < 1) or (b is not None and b < 1) \
            or (a is not None and b is not None and b < a):
        raise click.BadParameter(f"expected A:B with 1 <= A <= B (1-based frames, A: or :B open), got {text!r}",
                                 param_hint="--frames")
    return a, b


def _run_frames(tracks) -> int | None:
    """Frames a run processed, from the ``run.json`` (``classicseg run``) or ``.done.json``
    (``classicseg batch``) beside its tracks file; None when there is none."""
    from classicseg.io.sinks import read_json_object

    folder = Path(tracks).parent
    for name in ("run.json", ".done.json"):
        d = read_json_object(folder / name)
        if d and isinstance(d.get("frames"), int) and d["frames"] > 0:
            return d["frames"]
    return None


def _say_skipped(result) -> None:
    """One log line naming the sequences of the ground truth that have no predictions."""
    if result.skipped:
        n_scored = len(getattr(result, "videos", None) or result.sequences)
        names = ", ".join(result.skipped[:5]) + (f" and {len(result.skipped) - 5} more" if len(result.skipped) > 5
                                                  else "")
        log.warning("scored the %d sequence(s) with predictions; %d without were skipped (%s); "
                    "--sequences A,B to choose", n_scored, len(result.skipped), names)


_EVAL_NEEDS = {"cdnet": ("pred", "gt"), "davis": ("pred", "gt"), "mot": ("pred", "gt"), "miou": ("pred", "gt"),
               "flow": ("gt",), "consistency": ("pred", "images")}


@cli.command("eval")
@click.option("--metric", "-m", type=click.Choice(list(_EVAL_NEEDS)), required=True,
              help="cdnet, davis, mot: the benchmarks' rules; miou: per-class IoU of class maps; "
                   "flow: optical-flow EPE / Fl; consistency: flow-warped IoU of consecutive masks.")
@click.option("--pred", type=click.Path(),
              help="Predicted masks (a sequence folder or a root), a MOT tracks.txt, or (flow) a folder of "
                   "<pair>.flo / KITTI <pair>.png files.")
@click.option("--gt", type=click.Path(),
              help="Ground truth: CDnet sequence/category/root, DAVIS annotations, MOT gt.txt or sequence folder, "
                   "class-map folder(s) (miou), or a Middlebury/KITTI flow root (flow).")
@click.option("--method", type=click.Choice(["dis", "farneback", "zero"]), default=None,
              help="flow: compute the flow of each GT pair with this method (default dis unless --pred); "
                   "consistency: flow between input frames (default dis).")
@click.option("--scale", type=click.FloatRange(0, 1, min_open=True), default=1.0, show_default=True,
              help="Resolution fraction at which --method computes the flow.")
@click.option("--images", type=click.Path(), help="consistency: the input frames (sequence folder or root).")
@click.option("--occlusion", is_flag=True, help="consistency: also skip pixels failing a forward-backward check.")
@click.option("--viz", type=click.Path(file_okay=False),
              help="flow: write <pair>_flow.png, <pair>_gt.png (Middlebury colours) and <pair>_epe.png here.")
@click.option("--frames", "frame_range", metavar="A:B",
              help="mot: score only frames A..B (1-based, inclusive; A: or :B leave an end open). By default "
                   "a run over part of a sequence is scored on the frames it covered (run.json beside the tracks).")
@click.option("--sequences", metavar="A,B",
              help="cdnet, davis: score only these sequences (DAVIS name, CDnet video or category/video). By "
                   "default every sequence with predictions is scored and the others are named.")
@click.option("--per-frame", "per_frame", type=click.Path(dir_okay=False),
              help="cdnet, davis, mot: also write per-frame scores to this CSV, one row per sequence and frame "
                   "(CDnet TP/FP/FN/TN and F; DAVIS J and F per object; MOT matches, misses, FPs, ID switches).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def eval_(metric, pred, gt, method, scale, images, occlusion, viz, frame_range, sequences, per_frame, as_json):
    """Score masks by the exact CDnet 2014 or DAVIS rules, tracks by MOTChallenge's (MOTA, IDF1, HOTA),
    class maps by IoU, optical flow by EPE / Fl, or masks by temporal consistency."""
    from classicseg.metrics.selection import parse_names

    given = {"pred": pred, "gt": gt, "images": images}
    missing = [f"--{k}" for k in _EVAL_NEEDS[metric] if not given[k]]
    if missing:
        raise click.UsageError(f"--metric {metric} needs {' and '.join(missing)}")
    if metric == "flow" and pred and method:
        raise click.UsageError("--metric flow: give --pred (score flow files) or --method (compute), not both")
    if viz and metric != "flow":
        raise click.UsageError("--viz is for --metric flow")
    if frame_range is not None and metric != "mot":
        raise click.UsageError("--frames is for --metric mot")
    if sequences is not None and metric not in ("cdnet", "davis"):
        raise click.UsageError("--sequences is for --metric cdnet and davis")
    if per_frame and metric not in ("cdnet", "davis", "mot"):
        raise click.UsageError("--per-frame is for --metric cdnet, davis and mot")
    wanted = parse_names(sequences)
    span_asked = _frame_range(frame_range)
    extra: dict = {}
    frame_rows: list[dict] = []
    if metric == "mot":
        from classicseg.metrics.mot import evaluate, find_gt_file, read_mot, scored_range

        gt_t = read_mot(find_gt_file(gt), "ground-truth", ignore_zero_flag=True)
        pr_t = read_mot(pred, "tracks")
        span, why = scored_range(gt_t, pr_t, _run_frames(pred), span_asked)
        if span and why != "--frames":
            log.warning("scored frames %d..%d only (%s), not the ground truth's %d..%d; --frames A:B to choose",
                        *span, why, min(gt_t.frames), max(gt_t.frames))
        result = evaluate(gt_t, pr_t, frames=span)
        name = Path(pred).parent.name or str(pred)
        rows = [{"sequence": name, **result.to_dict()}]
        frame_rows = [{"sequence": name, **r} for r in result.frame_rows()]
        shown = ["sequence", "frames", "hota", "mota", "idf1", "deta", "assa", "loca", "id_switches", "precision",
                 "recall", "false_positives", "misses", "gt"]
    elif metric == "cdnet":
        from classicseg.metrics.cdnet import evaluate_dataset

        result = evaluate_dataset(pred, gt, wanted)
        for v in result.videos:
            for w in v.warnings:
                log.warning("%s: %s", v.name, w)
        _say_skipped(result)
        rows = result.table()
        frame_rows = result.frame_rows()
        shown = ["level", "name", "frames", "recall", "specificity", "fpr", "fnr", "pwc", "precision", "f_measure"]
    elif metric == "davis":
        from classicseg.metrics.davis import evaluate_dataset

        result = evaluate_dataset(pred, gt, sequences=wanted)
        _say_skipped(result)
        rows = result.table()
        frame_rows = result.frame_rows()
        shown = list(rows[0])
    elif metric == "miou":
        from classicseg.metrics.segmentation import evaluate_dataset

        rows = [r.row() for r in evaluate_dataset(pred, gt)]
        shown = list(rows[0])
    elif metric == "consistency":
        import numpy as np

        from classicseg.metrics.consistency import evaluate_dataset
        from classicseg.stages.flow import fb_occlusion

        res = evaluate_dataset(pred, images, _flow_function(method or "dis", scale),
                               fb_occlusion if occlusion else None)
        rows = [r.row() for r in res]
        if len(res) > 1:
            rows.append({"sequence": "mean", "pairs": sum(len(r.values) for r in res),
                         "TC_mean": float(np.mean([r.mean for r in res])),
                         "TC_min": float(min(r.minimum for r in res)), "worst_frame": "", "flow": rows[0]["flow"]})
        shown = list(rows[0])
        if as_json:
            extra["per_pair"] = {r.name: dict(zip(r.frames, r.values)) for r in res}
    else:
        from classicseg.metrics.flow import evaluate_flow_dataset

        fn = None if pred else _flow_function(method or "dis", scale)
        result = evaluate_flow_dataset(gt, fn, pred, label=f"{method or 'dis'} (scale {scale:g})",
                                       keep_flows=bool(viz), on_pair=_flow_pictures(Path(viz)) if viz else None)
        rows = result.table()
        shown = list(rows[0])
        extra["source"] = result.source
        if viz:
            extra["pictures"] = str(viz)
    if per_frame:
        from classicseg.io.images import ensure_writable_dir
        from classicseg.io.sinks import write_csv

        ensure_writable_dir(Path(per_frame).resolve().parent)
        cols = list(dict.fromkeys(k for r in frame_rows for k in r))   # DAVIS: objects differ per sequence
        write_csv(per_frame, [{k: r.get(k, "") for k in cols} for r in frame_rows])
        extra["per_frame"] = {"file": str(per_frame), "rows": len(frame_rows)}
    speeds = _run_speeds(pred) if metric != "flow" else []
    if as_json:
        click.echo(json.dumps({"metric": metric, "pred": str(pred) if pred else None, "gt": str(gt) if gt else None,
                               "rows": rows, **extra, **({"speed": speeds} if speeds else {})}, indent=2,
                              default=float))
        return
    if metric == "flow":
        click.echo(f"flow: {extra['source']}")
    _print_table([{k: r.get(k, "") for k in shown} for r in rows])
    if metric == "flow" and not pred:
        secs = rows[-1].get("seconds")
        if secs:
            click.echo(f"{method or 'dis'}: {secs:.3f} s per pair on average ({1 / secs:.1f} pairs/s)")
    if viz:
        click.echo(f"pictures: {viz}")
    if per_frame:
        click.echo(f"per-frame scores: {per_frame} ({len(frame_rows)} rows)")
    if speeds:
        click.echo("speed (from run.json / .done.json):")
        _print_table(speeds)


# -- demo --------------------------------------------------------------------------
@cli.command()
@click.option("--output", "-o", type=click.Path(file_okay=False), default="classicseg-demo", show_default=True,
              help="Folder for the generated scene and every result.")
@click.option("--frames", type=click.IntRange(60, 5000), default=300, show_default=True, help="Length of the scene.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed of the scene.")
@click.option("--preset", "-p", default="surveillance", show_default=True, help="Pipeline to run.")
@click.option("--threads", type=click.IntRange(0, 256), default=1, show_default=True, help="OpenCV threads.")
@click.option("--progress/--no-progress", default=True)
def demo(output, frames, seed, preset, threads, progress):
    """Generate a fixed-camera scene with exact ground truth, segment it and score it."""
    from classicseg.demo import run_demo

    _threads(threads)
    report = run_demo(Path(output), n_frames=frames, seed=seed, preset=preset,
                      progress=lambda total, desc: _progress(total, desc, progress))
    click.echo(f"scene: {report['scene']} ({report['frames']} frames, exact ground truth)")
    _print_table(report["table"])
    for label, path in report["files"].items():
        click.echo(f"{label:<10} {path}")
    click.echo(f"everything is in {Path(output).resolve()}")


# -- stages / config -----------------------------------------------------------------
@cli.command()
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True)
def stages(name, as_json):
    """List every stage with its parameters, defaults and one-line doc."""
    from classicseg import catalog
    from classicseg.config import describe_params

    items = catalog.all_stages()
    if name:
        items = {name: catalog.get(name)}
    # a stage that wraps a family (bgsub.bgslibrary) lists its algorithms and their parameters
    variants = {n: c.variants() for n, c in items.items() if hasattr(c, "variants")}
    if as_json:
        out = {
            n: {"doc": c.doc(), "requires": list(c.requires), "provides": list(c.provides), "cite": c.cite,
                "params": {p: {"default": d, "type": t, "doc": doc} for p, d, t, doc in describe_params(c.Params)},
                **({"variants": variants[n]} if n in variants else {})}
            for n, c in items.items()
        }
        click.echo(json.dumps(out, indent=2, default=str))
        return
    for n, c in items.items():
        click.echo(f"{n}: {c.doc()}")
        click.echo(f"    reads {', '.join(c.requires)} -> writes {', '.join(c.provides)}")
        for p, d, t, doc in describe_params(c.Params):
            click.echo(f"    {p} = {d!r} ({t}): {doc}")
        if c.cite:
            click.echo(f"    cite: {c.cite}")
        if n in variants:
            click.echo(f"    {c.variants_note()}")
            for v, params in variants[n].items():
                click.echo(f"      {v}: {', '.join(f'{k}={val:.6g}' for k, val in params.items()) or '(none)'}")
    if not name:
        own = [n for n in items if n.startswith("bgsub.") and n not in variants]
        wrapped = sum(len(v) for n, v in variants.items() if n.startswith("bgsub."))
        click.echo(f"background subtractors: {len(own) + wrapped} ({len(own)} bgsub stages"
                   + "".join(f", {len(v)} through {n}" for n, v in variants.items() if n.startswith("bgsub."))
                   + ")")


@cli.command()
@click.option("--defaults", is_flag=True, help="Print a complete commented pipeline file.")
@click.option("--preset", "-p", default=None, help="Print this preset in full (default: surveillance).")
@click.option("--list", "list_", is_flag=True, help="List the shipped presets.")
@click.option("--check", "check", type=click.Path(dir_okay=False), help="Validate a pipeline file and exit.")
def config(defaults, preset, list_, check):
    """Print, list or check pipeline files."""
    from classicseg.config import commented_config, load_preset, preset_names, resolve

    if list_:
        for n in preset_names():
            click.echo(f"{n}: {load_preset(n).get('description', '')}")
        return
    if check:
        spec = resolve(config=check)
        click.echo(f"{check}: ok ({len(spec.steps)} stages: {', '.join(s.id for s in spec.steps)})")
        return
    if not (defaults or preset):
        raise click.UsageError("give --defaults, --preset NAME, --list or --check FILE")
    click.echo(commented_config(resolve(preset=preset or "surveillance")), nl=False)


# -- bench -------------------------------------------------------------------------
@cli.command()
@click.option("--input", "-i", "input_", default=None, help="Frames to time on (default: a generated scene).")
@click.option("--frames", type=click.IntRange(50), default=600, show_default=True)
@click.option("--repeats", type=click.IntRange(1), default=3, show_default=True)
@click.option("--kernels/--no-kernels", default=True, show_default=True,
              help="Also time each numba kernel against its library twin.")
@click.option("--cuda", is_flag=True, help="Also time the CUDA backend against the CPU one (needs a CUDA OpenCV).")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Also write the results as JSON.")
def bench(input_, frames, repeats, kernels, cuda, json_out):
    """Time pipelines, presets and numba kernels against raw OpenCV / scikit-image / numpy
    on the same frames, one thread; ratio = reference time / ours (above 1: faster)."""
    from classicseg.bench import run_bench

    if cuda:
        from classicseg.backends import NO_CUDA_MESSAGE, cuda_available

        if not cuda_available():
            raise ClassicsegError(NO_CUDA_MESSAGE.replace("backend cuda requested", "bench --cuda"))
    rows = run_bench(input_, frames, repeats, kernels=kernels, cuda=cuda)
    if rows:
        click.echo(f"input: {rows[0]['input']} ({rows[0]['frames']} frames, 1 thread)")
    shown = ["kind", "what", "ms", "reference", "reference ms", "ratio"]
    _print_table([{k: r[k] for k in shown} for r in rows])
    if json_out:
        from classicseg.io.sinks import write_json

        write_json(json_out, rows)


# -- batch ----------------------------------------------------------------------
_CDNET_COLUMNS = ("level", "name", "frames", "recall", "specificity", "fpr", "fnr", "pwc", "precision", "f_measure")


@cli.command("batch")
@click.option("--preset", "-p", help="A shipped pipeline (see `classicseg config --list`).")
@click.option("--config", "-c", "config_file", type=click.Path(dir_okay=False), help="Your own pipeline file (YAML/TOML).")
@click.option("--set", "sets", multiple=True, metavar="STAGE.PARAM=VALUE", help="Override one value (repeatable).")
@click.option("--input", "-i", "input_", required=True, type=click.Path(),
              help="Dataset root: CDnet/SBI/UCSD, DAVIS, or a folder of videos.")
@click.option("--output", "-o", required=True, type=click.Path(file_okay=False),
              help="Output root: masks mirror the ground-truth layout; scores.json goes here.")
@click.option("--workers", "-j", type=click.IntRange(0, 512), default=None,
              help="Local worker processes (0 = in this process) [default: CPUs].")
@click.option("--threads", type=click.IntRange(0, 256), default=1, show_default=True, help="OpenCV threads per worker.")
@click.option("--scheduler", metavar="ADDRESS", help="Run on a dask.distributed cluster, e.g. tcp://127.0.0.1:8786.")
@click.option("--connect-timeout", type=click.FloatRange(0.1), default=5.0, show_default=True,
              help="Seconds to wait for the scheduler.")
@click.option("--metric", "-m", type=click.Choice(BATCH_METRICS), default="auto", show_default=True,
              help="Scoring rules (auto: by each sequence's layout).")
@click.option("--retries", type=click.IntRange(0, 100), default=2, show_default=True,
              help="Reruns of a sequence whose worker process died.")
@click.option("--prior-root", type=click.Path(file_okay=False),
              help="Another model's masks per sequence (<root>/<seq>/...), as --prior for each sequence.")
@click.option("--init-root", type=click.Path(file_okay=False),
              help="First-frame masks per sequence (<root>/<seq>.png); default: the dataset's first annotation.")
@click.option("--force", is_flag=True, help="Redo every sequence, even finished ones.")
@click.option("--progress/--no-progress", default=True, help="Show a progress bar (on a terminal).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON (also in OUTPUT/scores.json).")
def batch_command(preset, config_file, sets, input_, output, workers, threads, scheduler, connect_timeout, metric,
                  retries, prior_root, init_root, force, progress, as_json):
    """Run a pipeline over every sequence of a dataset root, then score them."""
    from classicseg.batch import BatchError, SequenceOutcome, run_batch

    bar = None

    def on_sequence(oc: SequenceOutcome, done: int, total: int) -> None:
        nonlocal bar
        if progress and not as_json and bar is None:
            from tqdm import tqdm

            bar = tqdm(total=total, initial=done - 1, desc="batch", unit="seq", leave=False, file=sys.stderr,
                       dynamic_ncols=True, disable=None)
        if bar is not None:
            bar.update(1)
        if oc.status == "failed":
            log.warning("%s failed: %s", oc.sequence.rel or oc.sequence.name, oc.error)

    try:
        result = run_batch(input_, output, preset=preset, config=config_file, sets=sets, workers=workers,
                           threads=threads, scheduler=scheduler, metric=metric, retries=retries, force=force,
                           connect_timeout=connect_timeout, prior_root=prior_root, init_root=init_root,
                           progress=on_sequence)
    finally:
        if bar is not None:
            bar.close()
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        where = f"on {scheduler}" if scheduler else (f"with {result.workers} worker(s)" if result.workers
                                                     else "in this process")
        click.echo(f"batch: {len(result.outcomes)} sequences ({result.count('done')} done, "
                   f"{result.count('skipped')} skipped, {result.count('failed')} failed) in "
                   f"{result.seconds:.2f} s {where}")
        failed = bool(result.failed)
        _print_table([{"sequence": o.sequence.rel or o.sequence.name, "status": o.status,
                       "frames": "" if o.frames is None else o.frames, "seconds": round(o.seconds, 2),
                       "attempts": o.attempts, **({"reason": o.error or ""} if failed else {})}
                      for o in result.outcomes])
        scores = result.scores()
        if "cdnet" in scores:
            click.echo("\nCDnet 2014:")
            _print_table([{k: r.get(k, "") for k in _CDNET_COLUMNS} for r in scores["cdnet"]])
        if "davis" in scores:
            click.echo("\nDAVIS:")
            _print_table(scores["davis"])
        click.echo(f"scores: {Path(output) / 'scores.json'}")
    if result.failed:
        first = result.failed[0]
        raise BatchError(f"{len(result.failed)} of {len(result.outcomes)} sequences failed "
                         f"(first: {first.sequence.rel or first.sequence.name}: {first.error})")


# -- compare / report -------------------------------------------------------------
def _print_compare_tables(records, rows) -> None:
    from classicseg.report.tables import benchmark_tables, speed_table

    for t in [t for t in benchmark_tables(records, rows) if t.key.endswith("-overall")] + [speed_table(records, rows)]:
        click.echo(f"\n{t.title}:")
        _print_table([{"method": m, **{h: (c.text + ("*" if c.note and c.text else "")) or (c.note and "n/a") or ""
                                       for h, c in zip(t.header, cells)}} for m, cells in t.rows])


def _print_report_files(files: dict, seconds: float) -> None:
    click.echo(f"\nreport: {files['html']} (built in {seconds:.2f} s)")
    click.echo(f"tables: {files['md']}, {files['tex']}; rows: {files['csv']}, {files['json']}")


@cli.command("compare")
@click.option("--methods", "-m", required=True, metavar="M1,M2,...",
              help="Presets, stage names (bgsub.mog2 or mog2: the stage alone with its defaults; "
                   "bgsub.bgslibrary:SuBSENSE) or pipeline files, separated by commas.")
@click.option("--input", "-i", "inputs", required=True, multiple=True, type=click.Path(),
              help="Dataset root (CDnet/SBI/UCSD, DAVIS, MOTChallenge, folders of videos); repeat for several.")
@click.option("--output", "-o", required=True, type=click.Path(file_okay=False),
              help="Comparison folder: <method>/ masks, results.csv/.json, report.html, table.md/.tex.")
@click.option("--workers", "-j", type=click.IntRange(0, 512), default=None,
              help="Local worker processes per method (0 = in this process) [default: CPUs].")
@click.option("--scheduler", metavar="ADDRESS", help="Run on a dask.distributed cluster, e.g. tcp://127.0.0.1:8786.")
@click.option("--threads", type=click.IntRange(0, 256), default=1, show_default=True, help="OpenCV threads per worker.")
@click.option("--connect-timeout", type=click.FloatRange(0.1), default=5.0, show_default=True,
              help="Seconds to wait for the scheduler.")
@click.option("--retries", type=click.IntRange(0, 100), default=2, show_default=True,
              help="Reruns of a sequence whose worker process died.")
@click.option("--force", is_flag=True, help="Redo every sequence, even those finished by an earlier run.")
@click.option("--baseline", metavar="METHOD", help="Show every method's difference to this one.")
@click.option("--progress/--no-progress", default=True, help="Show a progress bar (on a terminal).")
@click.option("--json", "as_json", is_flag=True, help="Print the result rows as JSON (also in OUTPUT/results.json).")
def compare_command(methods, inputs, output, workers, scheduler, threads, connect_timeout, retries, force, baseline,
                    progress, as_json):
    """Run several methods over every sequence of dataset roots; score them by each benchmark's rules and
    write a report (HTML), tables (Markdown, LaTeX) and every row (CSV, JSON)."""
    import shlex

    from classicseg.batch import BatchError
    from classicseg.report import run_compare
    from classicseg.report.results import build_rows

    if workers is not None and scheduler:
        raise click.UsageError("give --workers or --scheduler, not both")
    bar = None

    def on_sequence(method, oc, done, total):
        nonlocal bar
        if progress and not as_json and bar is None:
            from tqdm import tqdm

            bar = tqdm(total=total, desc=method, unit="seq", leave=False, file=sys.stderr, dynamic_ncols=True,
                       disable=None)
        if bar is not None:
            if done == 1 or bar.n > done:
                bar.reset(total)
            bar.set_description(method)
            bar.n = done
            bar.refresh()
        if oc.status == "failed":
            log.warning("%s on %s failed: %s", method, oc.sequence.rel or oc.sequence.name, oc.error)

    argv = ["classicseg", *sys.argv[1:]] if Path(sys.argv[0]).name in ("classicseg", "__main__.py") else None
    try:
        result = run_compare(methods, list(inputs), output, workers=workers, threads=threads, scheduler=scheduler,
                             force=force, retries=retries, connect_timeout=connect_timeout, baseline=baseline,
                             command=shlex.join(argv) if argv else None, progress=on_sequence)
    finally:
        if bar is not None:
            bar.close()
    if as_json:
        click.echo(json.dumps(json.loads(Path(result.files["json"]).read_text()), indent=2))
    else:
        from classicseg.report.store import load_records

        records = load_records(output)
        n_seq = len({s["sequence"] for r in result.records for s in r["sequences"]})
        click.echo(f"compare: {len(result.methods)} methods x {n_seq} sequences in {result.run_seconds:.1f} s")
        _print_compare_tables(records, build_rows(records))
        for m, seq, why in result.failures:
            click.echo(f"failed: {m} on {seq}: {why}")
        _print_report_files(result.files, result.report_seconds)
    if result.failures:
        m, seq, why = result.failures[0]
        n_runs = sum(len(r["sequences"]) for r in result.records)
        raise BatchError(f"{len(result.failures)} of {n_runs} runs failed (first: {m} on {seq}: {why}); "
                         f"the report says why for each: {result.files['html']}")


@cli.command("report")
@click.argument("folder", type=click.Path(file_okay=False))
@click.option("--baseline", metavar="METHOD", help="Show every method's difference to this one.")
@click.option("--json", "as_json", is_flag=True, help="Print the result rows as JSON.")
def report_command(folder, baseline, as_json):
    """Rebuild the report, tables and result files of a compare folder from the results on disk (no rerun)."""
    import time

    from classicseg.report import build_report
    from classicseg.report.results import build_rows
    from classicseg.report.store import load_records

    t0 = time.perf_counter()
    files = build_report(folder, baseline=baseline)
    seconds = time.perf_counter() - t0
    if as_json:
        click.echo(json.dumps(json.loads(Path(files["json"]).read_text()), indent=2))
        return
    records = load_records(folder)
    click.echo(f"report: {len(records)} methods from {folder}")
    _print_compare_tables(records, build_rows(records))
    _print_report_files(files, seconds)


# -- docs --------------------------------------------------------------------------
@cli.command("docs")
@click.option("--output", "-o", type=click.Path(file_okay=False), default=None,
              help="HTML folder [default: docs/_build/html in the checkout].")
@click.option("--gallery/--no-gallery", default=True, show_default=True,
              help="Run the gallery's scripts for their figures (off: code only, faster).")
@click.option("--strict/--no-strict", default=True, show_default=True, help="Fail on any Sphinx warning.")
def docs_command(output, gallery, strict):
    """Build the HTML documentation (gallery + API reference) offline: pip install 'classicseg[docs]'."""
    from classicseg.docs import build_docs

    index = build_docs(output, gallery=gallery, strict=strict)
    click.echo(f"docs: {index}")


# -- watch ---------------------------------------------------------------------------
@cli.command("watch")
@click.option("--config", "-c", "config_file", type=click.Path(dir_okay=False), help="The service's watch.yaml.")
@click.option("--check", "check_file", type=click.Path(dir_okay=False),
              help="Validate a watch.yaml (every problem at once) and exit.")
@click.pass_context
def watch_command(ctx, config_file, check_file):
    """Watch fixed cameras: events in a database, clips, snapshots, hooks, a live page and a JSON API."""
    try:
        from classicseg.watch import config as wconfig
    except ImportError as exc:
        raise ClassicsegError(f"classicseg watch needs its extra: pip install 'classicseg[watch]' ({exc})") from None
    if check_file:
        cfg = wconfig.check(check_file)
        cams = cfg.enabled()
        click.echo(f"{check_file}: ok ({len(cams)} camera(s): {', '.join(cams)}; storage {cfg.storage}; "
                   f"database {wconfig.redact(cfg.database)}; http {cfg.http})")
        return
    if not config_file:
        raise click.UsageError("give --config watch.yaml (or --check watch.yaml)")
    from classicseg.watch.service import serve

    cfg = wconfig.check(config_file)
    if log.level > logging.INFO:  # a service says what it does unless told to be quiet
        log.setLevel(logging.INFO)
    serve(cfg, log.level, ready=lambda url: click.echo(
        f"classicseg watch: {len(cfg.enabled())} camera(s), storage {cfg.storage}"
        + (f", live page {url}" if url else ", http off"), err=True))


# -- annotation assist ----------------------------------------------------------------
@cli.command("suggest")
@click.option("--input", "-i", "input_", required=True, type=click.Path(exists=True),
              help="Frames (a folder or a video), or a root of such folders.")
@click.option("--masks", required=True, type=click.Path(file_okay=False),
              help="Predicted masks named like the frames (a root mirroring --input for several videos).")
@click.option("--budget", "-k", required=True, type=int, help="How many frames to suggest.")
@click.option("--labelled", default="0", show_default=True, metavar="I,J,...",
              help="0-based frames already annotated (one video).")
@click.option("--threads", type=click.IntRange(0, 256), default=1, show_default=True, help="OpenCV threads.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of 0-based frame indices (one video) "
              "or of {video, frame, name} (several).")
def suggest_command(input_, masks, budget, labelled, threads, as_json):
    """List the frames whose correction should help most, best first."""
    from classicseg.annotate.suggest import suggest_folders

    _threads(threads)
    try:
        lab = [int(v) for v in labelled.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated frame numbers, got {labelled!r}",
                                 param_hint="--labelled") from None
    picks, videos = suggest_folders(input_, masks, budget, lab)
    several = videos > 1
    if as_json:
        click.echo(json.dumps(picks if several else [p["frame"] for p in picks]))
        return
    for rank, p in enumerate(picks, 1):
        click.echo(f"{rank}. {p['video'] + ': ' if several else ''}frame {p['frame']} ({p['name']})")


@cli.command("export")
@click.option("--format", "fmt", required=True, type=click.Choice(["davis", "coco", "cvat", "mot"]),
              help="DAVIS indexed PNGs, COCO instance segmentation (RLE), CVAT for video 1.1 XML, MOT boxes.")
@click.option("--masks", required=True, type=click.Path(file_okay=False, exists=True), help="Folder of mask PNGs.")
@click.option("--output", "-o", required=True, type=click.Path(), help="A folder (davis) or a file.")
@click.option("--images", type=click.Path(file_okay=False, exists=True),
              help="The frames, for COCO file names (default: <mask name>.jpg).")
def export_command(fmt, masks, output, images):
    """Write a folder of masks as DAVIS PNGs, COCO JSON, CVAT XML or MOT boxes."""
    from classicseg.io.formats import export, read_mask_folder

    items, names = read_mask_folder(masks, images)
    path = export(fmt, items, output, names)
    click.echo(f"{fmt}: {len(items)} frames -> {path}")


@cli.command("annotate")
@click.argument("frames", type=click.Path(exists=True))
@click.option("--output", "-o", required=True, type=click.Path(file_okay=False),
              help="Where save writes masks (and keeps keyframes to continue later).")
@click.option("--port", type=click.IntRange(0, 65535), default=8765, show_default=True, help="0: any free port.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (default: this machine only).")
@click.option("--no-browser", is_flag=True, help="Do not open a browser.")
@click.option("--threads", type=click.IntRange(0, 256), default=None, help="OpenCV threads.")
def annotate_command(frames, output, port, host, no_browser, threads):
    """Label a video in a local page: box, brushes, propagate, suggested frames, save."""
    from classicseg.annotate.server import Project, make_server
    from classicseg.io.images import ensure_writable_dir
    from classicseg.io.sources import open_source

    _threads(threads)
    ensure_writable_dir(output)
    src = open_source(frames, prefetch=0)
    try:
        clip = [(s.name, s.image) for s in src]
    finally:
        src.close()
    server = make_server(Project(clip, output), host, port)
    url = f"http://{server.server_address[0]}:{server.server_address[1]}/"
    click.echo(f"annotate: {len(clip)} frames; open {url} (Ctrl+C to stop)")
    if not no_browser:
        import webbrowser

        webbrowser.open(url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("annotate: stopped")
    finally:
        server.server_close()


# -- error boundary ----------------------------------------------------------------
def _one_line(text: str) -> str:
    """``text`` on one line: line breaks and other control characters (from a path with a
    newline in it, or a library's message) are shown escaped."""
    out = []
    for ch in str(text):
        if ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append(" ")
        elif ord(ch) < 32 or ord(ch) == 127:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return "".join(out).strip()


def _error(text: str) -> None:
    click.echo(f"classicseg: error: {_one_line(text)}", err=True)


@contextmanager
def _signals():
    """SIGTERM and SIGHUP (``systemd stop``, ``docker stop``, a closed terminal) stop a run as
    Ctrl-C does: it finishes its outputs and says so. A second signal while it does is
    ignored; a third ends the process at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    count = [0]

    def handler(signum, frame):
        from classicseg.interrupt import deliver

        count[0] += 1
        if count[0] == 1:
            deliver(Interrupted(signum, signal.Signals(signum).name))  # at the next frame boundary
        if count[0] >= 3:
            os._exit(128 + signum)

    wanted = [signal.SIGINT, signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
    old = {}
    for s in wanted:
        try:
            if signal.getsignal(s) is signal.SIG_IGN:  # e.g. nohup: leave it ignored
                continue
            old[s] = signal.signal(s, handler)
        except (OSError, ValueError):
            pass
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


@contextmanager
def _native_stderr_to_log():
    """Messages that native libraries (FFmpeg, OpenCV, libpng) print on the process's stderr
    go to the log at debug level (``-vv`` shows them); classicseg's own lines, and Python's,
    still reach the real stderr, and so do the log lines of worker processes (batch workers,
    watch cameras), which inherit this process's fd 2. Only for a real process stderr (not
    under a test capture)."""
    try:
        is_fd2 = sys.stderr is not None and sys.stderr.fileno() == 2
    except (AttributeError, OSError, ValueError):
        is_fd2 = False
    if not is_fd2 or os.environ.get("CLASSICSEG_NATIVE_STDERR", "") not in ("", "0"):
        yield
        return
    import faulthandler
    import io

    sys.stderr.flush()
    saved = os.dup(2)
    r, w = os.pipe()
    os.dup2(w, 2)
    os.close(w)
    real = io.TextIOWrapper(os.fdopen(os.dup(saved), "wb", buffering=0), encoding=sys.stderr.encoding or "utf-8",
                            errors="backslashreplace", line_buffering=True, write_through=True)
    old_stderr = sys.stderr
    sys.stderr = real
    for h in log.handlers:
        if isinstance(h, logging.StreamHandler) and h.stream is old_stderr:
            h.setStream(real)
    faulthandler.enable(file=real)  # a crash's traceback still shows

    def pump() -> None:
        with os.fdopen(r, "rb", buffering=0) as f:
            for raw in iter(f.readline, b""):
                line = raw.decode("utf-8", "replace").rstrip()
                if line.startswith("classicseg"):  # a worker process's own log line (it inherited fd 2)
                    try:
                        real.write(line + "\n")
                    except (OSError, ValueError):
                        pass
                elif line:
                    log.debug("native: %s", line)

    reader = threading.Thread(target=pump, name="classicseg-stderr", daemon=True)
    reader.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)  # closes the pipe's last write end in this process: the pump ends
        os.close(saved)
        reader.join(timeout=1.0)
        faulthandler.disable()
        for h in log.handlers:
            if isinstance(h, logging.StreamHandler) and h.stream is real:
                h.setStream(old_stderr)
        sys.stderr = old_stderr
        real.close()


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("CLASSICSEG_DEBUG", "") not in ("", "0")
    with _native_stderr_to_log(), _signals():
        return _main(argv, debug)


def _main(argv: list, debug: bool) -> int:
    try:
        cli.main(args=argv, prog_name="classicseg", standalone_mode=False)
        return 0
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("classicseg: aborted", err=True)
        return 130
    except click.UsageError as exc:
        hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
        _error(f"{exc.format_message()}{hint}")
        return exc.exit_code
    except click.ClickException as exc:
        _error(exc.format_message())
        return exc.exit_code
    except ClassicsegError as exc:
        if debug:
            raise
        errors = getattr(exc, "errors", None)
        if errors and len(errors) > 1:
            click.echo(f"classicseg: error: {len(errors)} problems:", err=True)
            for e in errors:
                click.echo(f"  - {_one_line(e)}", err=True)
        else:
            _error(str(exc))
        return exc.exit_code
    except (KeyboardInterrupt, _Stopped) as exc:
        stop = exc.interrupt if isinstance(exc, _Stopped) else exc
        name = getattr(stop, "signal_name", "SIGINT")
        note = getattr(stop, "note", "")
        click.echo(f"classicseg: interrupted ({name}){': ' + _one_line(note) if note else ''}", err=True)
        return getattr(stop, "exit_code", 130)
    except MemoryError:
        if debug:
            raise
        _error("out of memory (the input is too large for this machine, or a limit such as ulimit -v is set)")
        return 1
    except Exception as exc:  # a bug or an unexpected library failure
        if debug:
            raise
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        click.echo(f"classicseg: internal error: {type(exc).__name__}: {_one_line(detail)} (rerun with --debug for "
                   f"the traceback)", err=True)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
