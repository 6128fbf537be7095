"""``classicseg batch``: one pipeline over every sequence of a dataset root, then scores.

The unit of work is a whole sequence, run by the session layer exactly as ``classicseg
run`` runs it. The package is split by concern:

* :mod:`~classicseg.batch.discover`: :func:`find_sequences` recognises the layouts of the
  benchmarks (CDnet ``<category>/<video>/input``, SBI ``<video>/input``, UCSD
  ``<video>/in``, DAVIS ``JPEGImages/480p/<seq>``), plain folders of frames and videos;
* :mod:`~classicseg.batch.task`: one sequence (run, score, completion marker, resume);
* :mod:`~classicseg.batch.workers`: where tasks run (inline, a pool of warm spawned
  workers that survives a dead worker, or a Dask cluster);
* :mod:`~classicseg.batch.aggregate`: the per-sequence table and dataset scores.

:func:`run_batch` writes each sequence's masks where the benchmark's evaluator looks for
them (``DIR/<category>/<video>/`` under a CDnet root, ``DIR/<seq>/`` under a DAVIS root:
``classicseg eval --pred DIR --gt ROOT`` reads them as they are) and scores every sequence
that has ground truth. A DAVIS sequence's first-frame annotation is found from the dataset
layout, so ``batch --preset vos`` over a DAVIS root gives each sequence the J&F that
``classicseg run --init-mask`` gives it.
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable, Iterable

from classicseg.batch.aggregate import BatchResult
from classicseg.batch.discover import VIDEO_EXTS, NoSequencesError, Sequence, find_sequences
from classicseg.batch.task import MARKER, SequenceOutcome, check_output, config_hash, plan
from classicseg.batch.workers import LocalPool, SchedulerError, run_dask, run_inline
from classicseg.errors import ClassicsegError, ConfigError, EvalError, SourceError

log = logging.getLogger("classicseg")

__all__ = [
    "Sequence", "SequenceOutcome", "BatchResult", "find_sequences", "run_batch", "config_hash",
    "NoSequencesError", "SchedulerError", "BatchError", "MARKER", "METRICS", "VIDEO_EXTS",
]

METRICS = ("auto", "cdnet", "davis", "none")


class BatchError(ClassicsegError):
    """Some sequences failed (the others finished and were scored)."""

    exit_code = 7


def run_batch(
    root,
    output,
    *,
    preset: str | None = None,
    config=None,
    sets: Iterable[str] = (),
    spec=None,
    workers: int | None = None,
    threads: int = 1,
    scheduler: str | None = None,
    metric: str = "auto",
    retries: int = 2,
    force: bool = False,
    connect_timeout: float = 5.0,
    prior_root=None,
    init_root=None,
    progress: Callable[[SequenceOutcome, int, int], None] | None = None,
) -> BatchResult:
    """Run one pipeline over every sequence under ``root`` and score the results.

    Parameters
    ----------
    root : path-like
        Dataset root (see :func:`find_sequences`).
    output : path-like
        Output root; masks go to ``output/<rel>/`` mirroring the ground-truth layout,
        scores to ``output/scores.json``.
    preset, config, sets :
        The pipeline, as for ``classicseg run`` (``--set`` overrides); or ``spec``, an
        already validated :class:`~classicseg.config.PipelineSpec`.
    workers : int, optional
        Local worker processes (spawn). 0 runs in this process. Default: the number of
        CPUs, at most one per sequence. Ignored with ``scheduler``.
    threads : int
        ``cv2.setNumThreads`` in each worker.
    scheduler : str, optional
        Address of a ``dask.distributed`` scheduler (``tcp://host:8786``).
    metric : {'auto', 'cdnet', 'davis', 'none'}
        ``auto`` scores every sequence with ground truth by its own benchmark's rules.
    retries : int
        How many times a sequence whose worker process died is run again.
    force : bool
        Redo every sequence, even those with a valid completion marker.
    connect_timeout : float
        Seconds to wait for the Dask scheduler.
    prior_root : path-like, optional
        Another model's masks per sequence (``prior_root/<rel>`` or ``prior_root/<name>``,
        as for ``classicseg run --prior``); a sequence without one fails alone.
    init_root : path-like, optional
        First-frame masks per sequence (``init_root/<rel>.png``, ``init_root/<name>.png`` or
        the first PNG of ``init_root/<rel>/``), for pipelines that need one; a sequence
        without one there takes its annotation from the dataset layout, or fails alone.
    progress : callable, optional
        ``progress(outcome, n_finished, n_total)`` after each sequence.

    Returns
    -------
    BatchResult

    Raises
    ------
    ConfigError, SourceError, NoSequencesError, SinkError, SchedulerError, EvalError
        Before any sequence runs: bad pipeline, missing root, nothing found, output not
        writable or inside the root, scheduler unreachable, ``metric`` fits no sequence.
        A sequence that fails later is reported in its outcome instead.
    """
    from classicseg.config import resolve, with_prior_fuse
    from classicseg.io.outputs import FolderLock
    from classicseg.io.sinks import write_owned_json

    t0 = time.perf_counter()
    root, output = Path(root), Path(output)
    if metric not in METRICS:
        raise ClassicsegError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")
    if retries < 0:
        raise ClassicsegError(f"retries must be >= 0, got {retries}")
    if workers is not None and workers < 0:
        raise ClassicsegError(f"workers must be >= 0, got {workers}")
    seqs = find_sequences(root)
    lock = None
    n_workers = 0 if scheduler else min(os.cpu_count() or 1 if workers is None else workers, len(seqs))
    # start the workers now: they import the engine while the pipeline is validated here
    pool = LocalPool(n_workers, threads) if n_workers > 0 else None
    try:
        spec = spec if spec is not None else resolve(preset, config, tuple(sets))
        if prior_root is not None:
            prior_root = Path(prior_root)
            if not prior_root.is_dir():
                raise SourceError(f"prior root not found: {prior_root}")
            spec = with_prior_fuse(spec)
        elif "prior" in spec.inputs:
            raise ConfigError(f"pipeline {spec.name!r} reads another model's masks: give --prior-root DIR")
        if init_root is not None:
            init_root = Path(init_root)
            if not init_root.is_dir():
                raise SourceError(f"init-mask root not found: {init_root}")
            if "init_mask" not in spec.needs:
                raise ConfigError(f"--init-root: no stage of pipeline {spec.name!r} takes an initial mask")
            _warn_unmatched(init_root, seqs)
        if metric in ("cdnet", "davis") and not any(s.metric == metric for s in seqs):
            raise EvalError(f"--metric {metric}: none of the {len(seqs)} sequences under {root} has "
                            + ("CDnet ground truth (groundtruth/)" if metric == "cdnet"
                               else "DAVIS annotations (Annotations/480p/<seq>)"))
        check_output(root, output)
        lock = FolderLock(output, "batch.lock", "another classicseg batch").acquire()  # one batch per folder
        chash = config_hash(spec, prior_root, init_root)
        tasks, outcomes = plan(seqs, spec, output, chash, metric, force, prior_root, init_root)
        if scheduler:
            tasks = [replace(t, threads=threads) for t in tasks]
            stream = run_dask(tasks, scheduler, retries, connect_timeout) if tasks else iter(())
        elif pool is not None:
            n_workers = min(n_workers, len(tasks))
            pool.shrink(n_workers)
            if n_workers * threads >= (os.cpu_count() or 1):
                # every core already runs a worker: a reader thread per worker would only contend
                # with the workers (one worker keeps it: it decodes on an otherwise idle core)
                tasks = [replace(t, spec=_no_prefetch(t.spec)) for t in tasks]
            stream = pool.run(tasks, retries)
        else:
            stream = run_inline(tasks, threads)
        n_done = len(seqs) - len(tasks)
        for oc in stream:
            if oc.status == "skipped":  # scored only: keep the frame count from its marker
                oc.frames = outcomes[oc.sequence.rel].frames
            outcomes[oc.sequence.rel] = oc
            for w in oc.warnings:
                log.warning("%s", w)
            n_done += 1
            if progress is not None:
                progress(oc, n_done, len(seqs))
        result = BatchResult.pooled([outcomes[s.rel] for s in seqs], root=root, output=output,
                                    pipeline=spec.name, config_hash=chash, workers=n_workers, scheduler=scheduler,
                                    seconds=time.perf_counter() - t0)
        write_owned_json(output, "scores.json", result.to_dict())
    finally:
        if pool is not None:
            pool.close()
        if lock is not None:
            lock.release()
    return result


def _warn_unmatched(init_root: Path, seqs: list[Sequence]) -> None:
    """One warning per mask under ``init_root`` that belongs to no sequence found."""
    keys = {k for s in seqs for k in (s.rel, s.name) if k}
    for p in sorted(init_root.iterdir()):
        key = p.stem if p.is_file() and p.suffix.lower() == ".png" else (p.name if p.is_dir() else None)
        if key is not None and key not in keys:
            log.warning("init mask %s matches no sequence under the input root", p)


def _no_prefetch(spec):
    """``spec`` with frames decoded in the worker's own thread (``source.prefetch: 0``);
    the masks do not change, nor does the config hash."""
    return replace(spec, source=spec.source.model_copy(update={"prefetch": 0}))
