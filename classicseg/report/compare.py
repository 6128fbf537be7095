"""``classicseg compare``: several methods over the sequences of one or more dataset roots.

Each method runs through :func:`classicseg.batch.run_batch` (local workers or a Dask
cluster, resumable: a rerun redoes only what is missing or was made by another pipeline),
so its masks land in ``DIR/<method>/`` in the dataset's own layout and score exactly as
``classicseg batch`` and ``classicseg eval`` score them. After each method its record
(``DIR/<method>/compare.json``) is written; at the end the report files are built from
all the records in ``DIR`` (:func:`classicseg.report.build_report`).

With several input roots, each method's masks go to ``DIR/<method>/<root name>/`` and the
sequences are named ``<root name>/<sequence>``, as if the roots were folders of one root.
"""
from __future__ import annotations

import logging
import shlex
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from classicseg.errors import ClassicsegError, SourceError
from classicseg.report.methods import Method, resolve_methods
from classicseg.report.results import sequence_record
from classicseg.report.store import FORMAT, check_same_inputs, load_records, write_record

log = logging.getLogger("classicseg")

__all__ = ["CompareResult", "run_compare"]


@dataclass
class CompareResult:
    """What :func:`run_compare` did.

    Attributes
    ----------
    output : Path
    methods : list[Method]
    records : list[dict]
        This run's method records.
    files : dict[str, Path]
        The report files (``json``, ``csv``, ``html``, ``md``, ``tex``).
    run_seconds, report_seconds : float
        Time spent running the methods, and building the report from the results.
    failures : list[tuple[str, str, str]]
        ``(method, sequence, reason)`` of every run that failed.
    """

    output: Path
    methods: list
    records: list
    files: dict = field(default_factory=dict)
    run_seconds: float = 0.0
    report_seconds: float = 0.0
    failures: list = field(default_factory=list)


def _roots(inputs) -> list[Path]:
    roots = [Path(p) for p in ([inputs] if isinstance(inputs, (str, Path)) else list(inputs))]
    if not roots:
        raise SourceError("no input root given")
    names: dict[str, Path] = {}
    for r in roots:
        if not r.exists():
            raise SourceError(f"input root not found: {r}")
        name = r.resolve().name if r.is_dir() else r.stem
        if len(roots) > 1 and name in names:
            raise SourceError(f"input roots {names[name]} and {r} have the same name {name!r}; "
                              "their results would share a folder")
        names[name] = r
    return roots


def _command(methods: list[Method], roots: list[Path], output: Path, workers, scheduler) -> str:
    args = ["classicseg", "compare", "--methods", ",".join(m.name for m in methods)]
    for r in roots:
        args += ["--input", str(r)]
    args += ["--output", str(output)]
    if scheduler:
        args += ["--scheduler", scheduler]
    elif workers is not None:
        args += ["--workers", str(workers)]
    return shlex.join(args)


def _failed_outcomes(seqs, out: Path, why: str):
    from classicseg.batch import SequenceOutcome

    return [SequenceOutcome(s, "failed", out / s.rel, error=why) for s in seqs]


def _note(rec: dict, method: Method) -> None:
    """Say why a sequence with ground truth has no score although its run went well."""
    if rec["status"] == "failed" or rec["scores"] is not None or not rec["benchmark"]:
        return
    if rec["benchmark"] == "mot" and "tracks" not in method.spec.slots:
        rec["error"] = "not scored: the pipeline writes no tracks (MOTChallenge scores tracks)"


def run_compare(methods, inputs, output, *, workers: int | None = None, threads: int = 1,
                scheduler: str | None = None, force: bool = False, retries: int = 2,
                connect_timeout: float = 5.0, command: str | None = None, baseline: str | None = None,
                progress: Callable | None = None) -> CompareResult:
    """Run every method over every sequence of ``inputs`` and build the report.

    Parameters
    ----------
    methods : str or list of str
        Presets, stage names (``bgsub.mog2``, ``mog2``, ``bgsub.bgslibrary:SuBSENSE``) or
        pipeline files (:mod:`classicseg.report.methods`); a string is split at commas.
    inputs : path-like or list of path-like
        Dataset roots (anything :func:`classicseg.batch.find_sequences` reads).
    output : path-like
        The comparison's folder (see :mod:`classicseg.report.store`).
    workers, threads, scheduler, force, retries, connect_timeout :
        As for :func:`classicseg.batch.run_batch`.
    command : str, optional
        The command line to show in the report (default: one equivalent to this call).
    baseline : str, optional
        A method whose scores every other method's are shown against.
    progress : callable, optional
        ``progress(method_name, outcome, n_finished, n_total)`` after each sequence.

    Returns
    -------
    CompareResult

    Raises
    ------
    ConfigError
        Unknown or invalid methods (all of them at once, each with the nearest valid
        name), before anything runs.
    SourceError, NoSequencesError
        A missing root or one without sequences.
    ResultsError
        ``output`` holds results of other input roots.
    SinkError
        ``output`` cannot be written or overlaps an input root.
    """
    from classicseg.batch import find_sequences, run_batch
    from classicseg.batch.task import check_output
    from classicseg.io.images import ensure_writable_dir
    from classicseg.io.sinks import read_json_object
    from classicseg.report.build import build_report
    from classicseg.report.environment import environment

    t0 = time.perf_counter()
    methods = resolve_methods(methods)
    roots = _roots(inputs)
    output = Path(output)
    found = {r: find_sequences(r) for r in roots}
    for r in roots:
        check_output(r, output)
    ensure_writable_dir(output)
    inputs_key = [str(r.resolve()) for r in roots]
    try:
        earlier = load_records(output)
    except ClassicsegError:
        earlier = []
    check_same_inputs([e for e in earlier if e["method"] not in {m.name for m in methods}], output, inputs_key)
    if baseline is not None and baseline not in {m.name for m in methods} | {e["method"] for e in earlier}:
        from classicseg.errors import ConfigError
        from classicseg.registry import nearest

        names = [m.name for m in methods] + [e["method"] for e in earlier]
        raise ConfigError(f"--baseline {baseline!r} is not one of the methods{nearest(baseline, names)}: "
                          f"{', '.join(names)}")
    command = command or _command(methods, roots, output, workers, scheduler)
    env = environment(threads, 0 if scheduler else workers, scheduler)
    run_id = uuid.uuid4().hex[:8]
    total = sum(len(s) for s in found.values())
    result = CompareResult(output, methods, [])
    for m in methods:
        started, tm = time.strftime("%Y-%m-%dT%H:%M:%S%z"), time.perf_counter()
        method_dir = output / m.folder
        seq_recs, chash, errors = [], None, []
        done = 0
        for root in roots:
            root_name = root.resolve().name if root.is_dir() else root.stem
            out = method_dir if len(roots) == 1 else method_dir / root_name

            def on_seq(oc, n, tot, _m=m, _base=done):
                if progress is not None:
                    progress(_m.name, oc, _base + n, total)

            try:
                res = run_batch(root, out, spec=m.spec, workers=workers, threads=threads, scheduler=scheduler,
                                retries=retries, force=force, connect_timeout=connect_timeout, progress=on_seq)
                outcomes, chash = res.outcomes, res.config_hash
            except ClassicsegError as exc:  # the method cannot run here at all: every sequence says why
                why = str(exc).splitlines()[0]
                errors.append(why)
                outcomes = _failed_outcomes(found[root], out, why)
                log.warning("%s: %s", m.name, why)
            done += len(outcomes)
            for oc in outcomes:
                key = oc.sequence.rel or oc.sequence.name
                if len(roots) > 1:
                    key = f"{root_name}/{key}" if oc.sequence.rel else root_name
                speed = read_json_object(oc.out_dir / "run.json") if oc.status != "failed" else None
                try:
                    rel_out = oc.out_dir.relative_to(output).as_posix()
                except ValueError:
                    rel_out = str(oc.out_dir)
                rec = sequence_record(key, oc, str(root.resolve()), rel_out, speed)
                _note(rec, m)
                seq_recs.append(rec)
                if oc.status == "failed":
                    result.failures.append((m.name, key, oc.error or ""))
        record = {"format": FORMAT, "method": m.name, "folder": m.folder, "kind": m.kind, "source": m.source,
                  "pipeline": m.spec.to_dict(), "config_hash": chash, "inputs": inputs_key, "command": command,
                  "run_id": run_id, "started": started, "seconds": round(time.perf_counter() - tm, 3),
                  "error": "; ".join(dict.fromkeys(errors)) or None, **env, "sequences": seq_recs}
        ensure_writable_dir(method_dir)
        write_record(method_dir, record)
        result.records.append(record)
    result.run_seconds = time.perf_counter() - t0
    t1 = time.perf_counter()
    result.files = build_report(output, baseline=baseline, first=[m.name for m in methods])
    result.report_seconds = time.perf_counter() - t1
    return result
