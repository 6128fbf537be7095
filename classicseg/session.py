"""One sequence, run one way: the layer every front end calls.

A :class:`Request` says what to run (a preset, a pipeline file or a validated spec, with
overrides), on what (a video, a folder of frames, a camera, a stream, or frames in
memory), with which extras (a first-frame mask, keyframes, another model's prior), what to
write (masks, an overlay video, tracks, events, ``run.json``) and what to score it
against. :func:`prepare` checks all of it before the first frame is decoded and builds the
:class:`~classicseg.pipeline.Pipeline`; :func:`run` opens the source, attaches the sinks
that the pipeline's declared slots call for, runs it (or the keyframe driver), writes the
run summary and scores the result. ``classicseg run``, the batch workers, the samples and
the tests all go through here, so a sequence gives the same masks whichever way it is run.

What a stage needs is read from its declarations, never from its name:

* ``needs = ("init_mask",)`` (``vos.propagate``): the request's ``init_mask``, else the
  first keyframe, else the first frame's prior, else the sequence's first annotation
  found from the dataset layout (DAVIS ``Annotations/<res>/<seq>/<first frame>.png``
  beside ``JPEGImages/<res>/<seq>``); without any of them the run is refused at once;
* a required slot that comes with the frames (``prior`` for ``prior.fuse``): the request's
  ``prior``; a request with a prior and a pipeline that reads none gets a ``prior.fuse``
  step after its first probability;
* ``tracks`` / ``events`` among the slots the steps write: a ``tracks.txt`` /
  ``events.jsonl`` sink in the output folder.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, Callable

import numpy as np

from classicseg.config import PipelineSpec, resolve, with_events, with_prior_fuse, zones_of
from classicseg.errors import ConfigError, SourceError
from classicseg.pipeline import Pipeline, RunStats

log = logging.getLogger("classicseg")

__all__ = ["Request", "Result", "Prepared", "prepare", "run", "find_first_annotation", "score_outputs", "METRICS"]

#: Scoring rules a request can ask for (``auto``: by the ground truth's layout).
METRICS = ("auto", "cdnet", "davis", "mot", "none")


@dataclass
class Request:
    """Everything that decides one run of one sequence.

    Attributes
    ----------
    input : str, int, Path or iterable
        What :func:`~classicseg.io.sources.open_source` reads (video file, frame folder,
        camera index, stream URL), or frames in memory (arrays, ``(name, array)`` pairs
        or samples).
    preset, config, sets, spec :
        The pipeline: a shipped preset, a pipeline file and ``--set`` overrides, or an
        already validated :class:`~classicseg.config.PipelineSpec` (``spec`` wins).
    backend : str, optional
        ``cpu``, ``cuda`` or ``auto`` (default: the spec's).
    output : path, optional
        Folder for the masks, ``run.json`` and, when the pipeline writes them,
        ``tracks.txt`` and ``events.jsonl``.
    overlay : path, optional
        An overlay video file.
    masks : bool
        Write the masks into ``output`` (False: only the other outputs).
    events : bool
        Write ``events.jsonl``; a pipeline with no stage that writes events gets an
        ``events.motion`` step (motion events from its foreground or its tracks).
    snapshots : bool
        An overlay picture per event under ``output/snapshots`` (its peak frame, the object
        highlighted, zones and track ids drawn).
    clips : bool
        An H.264 clip per event under ``output/clips``, from ``pre_capture`` seconds before
        it to ``post_capture`` seconds after (overlapping events share one).
    init_mask : path or ndarray, optional
        The object ids on the first frame (for stages that need one).
    init_seeds : Seeds, optional
        Boxes, clicks or scribbles on the first frame (:class:`~classicseg.io.seeds.Seeds`),
        turned into its object ids by :func:`~classicseg.stages.vos.seeds.seed_ids`.
    find_init_mask : bool
        Without ``init_mask``, look for the first frame's annotation in the dataset layout.
    keyframes : path, optional
        A folder of corrected masks, scribbles or boxes/clicks named by frame number, or a
        COCO / CVAT / MOT file (:func:`~classicseg.keyframes.resolve_keyframes`), propagated both ways.
    merge : {"nearest", "vote"}
        How keyframe runs are merged (:mod:`classicseg.keyframes`).
    prior : path or callable, optional
        Another model's per-frame masks/probabilities/class maps (:mod:`classicseg.io.priors`).
    prior_match, prior_weight :
        How prior files are matched to frames; the weight of a ``prior.fuse`` step added
        for a pipeline that reads no prior.
    max_frames, max_bad_frames : int, optional
        Stop after this many frames; undecodable frames in a row before giving up.
    gt : path, optional
        Ground truth to score the written outputs against: a CDnet-layout sequence folder,
        a DAVIS annotation folder, or a MOT ``gt.txt`` / sequence folder.
    metric : str
        One of :data:`METRICS`.
    progress : callable, optional
        ``progress(total_frames_or_None, name) -> bar`` with ``update(n)`` and ``close()``
        (a tqdm factory); called once the source is open.
    sinks : list of Sink
        More sinks (:class:`classicseg.io.sinks.Sink`) besides those the outputs call for
        (a front end's clip recorder, database or live view).
    on_sample : callable, optional
        Called with every finished sample, after the sinks.
    stop : threading.Event, optional
        Set from another thread to end the run at the next frame (also while the source is
        waiting for one); the run then ends as if the input had ended.
    on_source : callable, optional
        Called with the opened :class:`~classicseg.io.sources.Source` before the first frame
        (a front end that reports its frame rate, dropped frames and reconnects).
    """

    input: Any
    preset: str | None = None
    config: str | Path | None = None
    sets: tuple[str, ...] = ()
    spec: PipelineSpec | None = None
    backend: str | None = None
    output: str | Path | None = None
    overlay: str | Path | None = None
    masks: bool = True
    events: bool = False
    snapshots: bool = False
    clips: bool = False
    pre_capture: float = 2.0
    post_capture: float = 3.0
    init_mask: Any = None
    init_seeds: Any = None
    find_init_mask: bool = True
    keyframes: str | Path | None = None
    merge: str = "nearest"
    prior: Any = None
    prior_match: str = "auto"
    prior_weight: float = 1.0
    max_frames: int | None = None
    max_bad_frames: int | None = None
    gt: str | Path | None = None
    metric: str = "auto"
    progress: Callable | None = None
    sinks: tuple = ()
    on_sample: Callable | None = None
    stop: Any = None
    on_source: Callable | None = None


@dataclass
class Prepared:
    """A request checked and turned into a pipeline, before any frame is read."""

    request: Request
    spec: PipelineSpec
    pipeline: Pipeline
    init_mask: np.ndarray | Path | None = None
    init_from: str = ""


@dataclass
class Result:
    """What a run did.

    Attributes
    ----------
    stats : RunStats
        Frames, time, per-stage shares, latency.
    name : str
        The source's name (a sequence folder's or video file's).
    summary : dict
        The run summary (also ``output/run.json``): input, pipeline, stats, skipped /
        dropped frames, reconnects, the init mask's origin.
    outputs : dict
        What was written: ``masks`` (folder), ``tracks``, ``events``, ``overlay``, ``run``.
    masks_written : int
        Mask files written.
    score : object or None
        A CDnet :class:`~classicseg.metrics.cdnet.SequenceResult`, a DAVIS
        :class:`~classicseg.metrics.davis.DavisSequenceResult` or a
        :class:`~classicseg.metrics.mot.MOTResult` when ground truth was given.
    warnings : list of str
        The source's warnings (undecodable frames, reconnects).
    """

    stats: RunStats
    summary: dict
    name: str = ""
    outputs: dict = field(default_factory=dict)
    masks_written: int = 0
    score: Any = None
    metric: str | None = None
    warnings: list = field(default_factory=list)

    @property
    def frames(self) -> int:
        return self.stats.frames


# --------------------------------------------------------------------------- extras
def find_first_annotation(input_path: Path, first_frame: str | None = None) -> Path | None:
    """The first frame's annotation of a DAVIS-layout sequence, or None.

    ``input_path`` is ``<root>/JPEGImages/<res>/<seq>`` (or ``<root>/JPEGImages/<seq>``); the
    annotation is ``<root>/Annotations/<res>/<seq>/<first_frame>.png`` (``first_frame``
    defaults to the first frame file's stem).
    """
    p = Path(input_path)
    parts = p.resolve().parts
    if "JPEGImages" not in parts or not p.is_dir():
        return None
    i = len(parts) - 1 - parts[::-1].index("JPEGImages")
    ann = Path(*parts[:i], "Annotations", *parts[i + 1:])
    if first_frame is None:
        from classicseg.io.images import IMAGE_EXTS
        from classicseg.io.sources import natural_key

        frames = sorted((f for f in p.iterdir() if f.suffix.lower() in IMAGE_EXTS), key=natural_key)
        if not frames:
            return None
        first_frame = frames[0].stem
    cand = ann / f"{first_frame}.png"
    return cand if cand.is_file() else None


def _spec(req: Request) -> PipelineSpec:
    if req.spec is not None:
        if req.sets:
            raise ConfigError("give overrides (sets) with a preset or config, not with a validated spec")
        return req.spec
    return resolve(req.preset, req.config, tuple(req.sets))


def prepare(req: Request) -> Prepared:
    """Check a request and build its pipeline; nothing is read or written yet.

    Raises
    ------
    ConfigError
        Bad pipeline, a missing optional package, a prior for a pipeline that has no
        probability to fuse it with, a pipeline that needs a prior or a first-frame mask
        the request does not give, an init mask for a pipeline that takes none.
    """
    spec = _spec(req)
    if req.merge not in ("nearest", "vote"):
        raise ConfigError(f"merge must be 'nearest' or 'vote', got {req.merge!r}")
    if req.metric not in METRICS:
        raise ConfigError(f"metric must be one of {', '.join(METRICS)}, got {req.metric!r}")
    if req.pre_capture < 0 or req.post_capture < 0:
        raise ConfigError("pre_capture and post_capture must be >= 0 seconds")
    if (req.events or req.clips) and req.output is not None and "events" not in spec.slots:
        spec = with_events(spec)
        log.info("pipeline %r has no events stage: added events.motion (motion events from its %s)", spec.name,
                 "tracks" if "tracks" in spec.slots else "foreground")
    if req.prior is not None:
        spec = with_prior_fuse(spec, req.prior_weight)
    elif "prior" in spec.inputs:
        raise ConfigError(f"pipeline {spec.name!r} reads another model's masks: give --prior DIR")
    needs_init = "init_mask" in spec.needs
    if req.init_mask is not None and req.init_seeds is not None:
        raise ConfigError("give the first frame's mask or its seeds (boxes, scribbles), not both")
    if (req.init_mask is not None or req.init_seeds is not None or req.keyframes is not None) and not needs_init:
        what = ("--init-mask" if req.init_mask is not None else
                "--init-box/--init-scribbles" if req.init_seeds is not None else "--keyframes")
        raise ConfigError(f"{what}: no stage of pipeline {spec.name!r} takes an initial mask (use --preset vos)")
    check_overlap(req)
    pipe = Pipeline.from_spec(spec, req.backend)
    prep = Prepared(req, spec, pipe)
    if needs_init:
        configured = any(getattr(s.params, "init_mask", None) for s in spec.steps)
        if req.init_seeds is not None:
            prep.init_mask, prep.init_from = req.init_seeds, "seeds (boxes / clicks / scribbles)"
        elif req.init_mask is not None:
            given = req.init_mask
            prep.init_mask, prep.init_from = given, str(given) if isinstance(given, (str, Path)) else "given (array)"
        elif req.keyframes is not None or req.prior is not None or configured:
            prep.init_from = "keyframes" if req.keyframes is not None else ("prior" if req.prior is not None
                                                                              else "config")
        else:
            found = (find_first_annotation(Path(req.input))
                     if req.find_init_mask and isinstance(req.input, (str, Path)) else None)
            if found is None:
                raise ConfigError(f"pipeline {spec.name!r} needs the object's mask on the first frame: give "
                                  f"--init-mask FILE (or --keyframes DIR)")
            prep.init_mask, prep.init_from = found, f"dataset layout ({found})"
            log.info("init mask from the dataset layout: %s", found)
    return prep


def _overlaps(a: Path, b: Path) -> bool:
    """One folder is the other or lies inside it."""
    return a == b or a in b.parents or b in a.parents


def check_overlap(req: Request) -> None:
    """Refuse outputs that would write into the inputs: an output folder that is (or lies in,
    or holds) the input folder, the prior or keyframe folder or the ground truth, and an
    overlay that is the input video or lies in an input folder. Masks named like the frames
    would replace them, and the next run would read its own masks as frames.

    Raises
    ------
    SinkError
    """
    from classicseg.errors import SinkError

    inputs = []
    for what, value in (("input", req.input), ("prior", req.prior), ("keyframes", req.keyframes), ("gt", req.gt)):
        if isinstance(value, (str, Path)) and not (isinstance(value, str) and (value.isdigit() or "://" in value)):
            p = Path(value)
            if p.exists():
                inputs.append((what, p.resolve(), p.is_dir()))
    if req.output is not None:
        out = Path(req.output).resolve()
        for what, p, is_dir in inputs:
            folder = p if is_dir else (p.parent if what == "gt" else None)
            if folder is not None and _overlaps(out, folder):
                raise SinkError(f"output folder {req.output} overlaps the {what} {p}: its files would be "
                                f"overwritten or read back as input; choose an output folder outside it")
    if req.overlay is not None:
        ov = Path(req.overlay).resolve()
        for what, p, is_dir in inputs:
            if (not is_dir and ov == p) or (is_dir and p in ov.parents):
                raise SinkError(f"overlay {req.overlay} would overwrite or lie inside the {what} {p}: "
                                f"choose another file")


# --------------------------------------------------------------------------- running
def _open(req: Request, spec: PipelineSpec):
    from classicseg.io.sources import Source, as_samples, open_source

    if isinstance(req.input, (str, int, Path)):
        opts = spec.source.model_dump()
        if req.max_bad_frames is not None:
            opts["max_bad_frames"] = req.max_bad_frames
        src = open_source(str(req.input) if isinstance(req.input, Path) else req.input, **opts)
        src.stop = req.stop
        return src
    src = as_samples(req.input)
    if not isinstance(src, Source):
        raise SourceError("input: give a path, a camera index, a stream URL, or frames as uint8 arrays")
    src.stop = req.stop
    return src


def _sinks(prep: Prepared, source, folder) -> tuple[list, dict, Any]:
    from classicseg.io.sinks import EventsSink, MaskSink, TracksSink, VideoSink

    req, spec = prep.request, prep.spec
    sinks, outputs, masks = [], {}, None
    slots = spec.slots
    if req.output is not None:
        out = Path(req.output)
        if req.masks:
            if "fg" not in slots:
                raise ConfigError(f"pipeline {spec.name!r} writes no foreground mask (fg): nothing to save as masks")
            masks = MaskSink(out, source, folder)
            sinks.append(masks)
            outputs["masks"] = out
        if "tracks" in slots:
            sinks.append(TracksSink(out / "tracks.txt", folder))
            outputs["tracks"] = out / "tracks.txt"
        if "events" in slots or req.events or req.clips:
            sinks.append(EventsSink(out / "events.jsonl", out / "snapshots" if req.snapshots else None,
                                    zones_of(spec), out / "clips" if req.clips else None, req.pre_capture,
                                    req.post_capture, source.fps or 25.0, out=folder))
            outputs["events"] = out / "events.jsonl"
        folder.claim("run.json")  # a file of the user's by that name stops the run now, not at its end
    if req.overlay is not None:
        sinks.append(VideoSink(req.overlay, source.fps, out=folder, zones=zones_of(spec)))
        outputs["overlay"] = Path(req.overlay)
    sinks.extend(req.sinks)
    return sinks, outputs, masks


def run(req: Request | Prepared) -> Result:
    """Run one sequence (see the module docstring); returns its :class:`Result`.

    The output folder is locked for the run, and classicseg only replaces files it wrote
    there (:class:`~classicseg.io.outputs.OutputFolder`). On an error every sink is
    aborted (finished files stay, half-written ones go) and the source is closed before the
    error propagates. An interrupted run (``KeyboardInterrupt``: Ctrl-C, or SIGTERM through
    the CLI) keeps what it wrote, finishes its files and writes ``run.json`` with
    ``"interrupted": true``, then re-raises the interrupt with a ``note`` saying so.
    """
    from classicseg.io.outputs import OutputFolder
    from classicseg.io.sinks import write_json

    prep = req if isinstance(req, Prepared) else prepare(req)
    req, spec, pipe = prep.request, prep.spec, prep.pipeline
    source = _open(req, spec)
    bar = None
    folder = None
    interrupted: KeyboardInterrupt | None = None
    sinks: list = []
    try:
        if req.output is not None:
            folder = OutputFolder(req.output, role="run", replace=True).open()
        if req.on_source is not None:
            req.on_source(source)
        sinks, outputs, mask_sink = _sinks(prep, source, folder)
        if not sinks:
            log.warning("no output or overlay: masks are computed but not written")
        total = min(filter(None, [getattr(source, "length", None), req.max_frames]), default=None)
        bar = req.progress(total, source.name) if req.progress is not None else None
        frames = islice(source, req.max_frames) if req.max_frames else source
        priors = None
        if req.prior is not None:
            from classicseg.io.priors import PriorFolder, as_prior, attach_prior

            priors = as_prior(req.prior, req.prior_match)
            if isinstance(priors, PriorFolder):
                priors.check_count(getattr(source, "length", None) if not req.max_frames else None)
            frames = attach_prior(frames, priors)
        init = prep.init_mask
        if isinstance(init, (str, Path)):
            from classicseg.io.masks import read_init_mask

            init = read_init_mask(init)
        try:
            if req.keyframes is not None:
                from classicseg.keyframes import run_with_keyframes

                stats = run_with_keyframes(pipe, source, req.max_frames, req.keyframes, init, priors, req.merge,
                                           sinks, progress=bar)
            else:
                from classicseg.io.seeds import Seeds

                if isinstance(init, Seeds):  # the first frame turns the seeds into its mask
                    from itertools import chain

                    from classicseg.stages.vos.seeds import seed_ids

                    it = iter(frames)
                    first = next(it, None)
                    if first is None:
                        raise SourceError(f"{source.name}: no frames")
                    init = seed_ids(first.image, init)
                    frames = chain([first], it)
                if init is None and priors is not None and prep.init_from == "prior":
                    from classicseg.keyframes import seed_from_prior

                    frames = seed_from_prior(frames, pipe)  # the first frame's prior starts vos
                stats = pipe.run(frames, sinks, on_sample=req.on_sample, progress=bar, init_mask=init)
        except KeyboardInterrupt as exc:
            stats = getattr(exc, "stats", None)
            if stats is None:  # interrupted before the pipeline's loop: nothing was written
                raise
            interrupted = exc
    except BaseException:
        if folder is not None:
            folder.release()
        raise
    finally:
        if bar is not None:
            bar.close()
        source.close()
    summary = {"input": str(req.input) if isinstance(req.input, (str, int, Path)) else source.name,
               "pipeline": spec.name, **stats.to_dict(), "skipped_frames": source.skipped,
               "dropped_frames": source.dropped, "reconnects": source.reconnects}
    if prep.init_from:
        summary["init_mask"] = prep.init_from
    if interrupted is not None:
        summary["interrupted"] = getattr(interrupted, "signal_name", "SIGINT")
    from classicseg.io.sinks import EventsSink

    for sink in sinks:
        if isinstance(sink, EventsSink):
            summary["events"] = sink.count
    result = Result(stats, summary, source.name, outputs, warnings=list(source.warnings))
    result.masks_written = mask_sink.count if mask_sink is not None else 0
    if folder is not None:
        from classicseg.interrupt import deferred

        with deferred():  # a stop asked for now waits until the folder is consistent
            try:
                run_json = folder.path / "run.json"
                write_json(run_json, {**summary, "config": spec.to_dict()})
                outputs["run"] = run_json
                folder.commit()
            except BaseException:
                folder.release()
                raise
    if interrupted is not None:
        kept = f"; outputs kept in {req.output}" if req.output is not None else ""
        interrupted.note = f"stopped after {stats.frames} frames{kept}"
        raise interrupted
    if req.gt is not None and req.metric != "none":
        result.metric, result.score = score_outputs(outputs, req.gt, req.metric)
    return result


# --------------------------------------------------------------------------- scoring
def _metric_for(gt: Path, outputs: dict) -> str | None:
    if gt.is_file() and gt.suffix.lower() == ".txt" or (gt / "gt" / "gt.txt").is_file():
        return "mot"
    if (gt / "groundtruth").is_dir():
        return "cdnet"
    if gt.is_dir():
        return "davis"
    return None


def score_outputs(outputs: dict, gt, metric: str = "auto") -> tuple[str, Any]:
    """Score a run's outputs (``Result.outputs``) against ground truth by the benchmark's rules.

    Returns ``(metric, result)``.

    Raises
    ------
    EvalError
        The outputs and the ground truth do not fit together.
    ConfigError
        The metric cannot be told from the ground truth, or the run wrote nothing it scores.
    """
    gt = Path(gt)
    if metric == "auto":
        metric = _metric_for(gt, outputs)
        if metric is None:
            raise ConfigError(f"cannot tell the benchmark of ground truth {gt}: give the metric (cdnet, davis, mot)")
    if metric == "mot":
        from classicseg.metrics.mot import evaluate, find_gt_file

        if "tracks" not in outputs:
            raise ConfigError("metric mot: the pipeline writes no tracks")
        return metric, evaluate(find_gt_file(gt), outputs["tracks"])
    if "masks" not in outputs:
        raise ConfigError(f"metric {metric}: the run wrote no masks")
    if metric == "cdnet":
        from classicseg.metrics.cdnet import evaluate_sequence

        return metric, evaluate_sequence(outputs["masks"], gt)
    if metric == "davis":
        from classicseg.metrics.davis import evaluate_sequence

        return metric, evaluate_sequence(outputs["masks"], gt)
    raise ConfigError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")
