"""The unit of work of a batch: one sequence, run through the session layer, scored, marked done.

Each finished sequence gets ``DIR/<seq>/.done.json`` (frames, config hash, timing),
written atomically after its last mask. A rerun skips sequences whose marker carries the
same config hash; any other sequence is redone from scratch (its marker is deleted first,
and the run replaces the masks that classicseg wrote there, by the folder's manifest:
nothing else in the folder is touched). A sequence runs exactly as ``classicseg run`` would run it
(:func:`classicseg.session.run`): a DAVIS sequence's first-frame annotation comes from the
dataset layout, a prior from ``prior_root``, so its masks and scores equal a single
``run`` of it.
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from classicseg.batch.discover import Sequence, estimated_cost
from classicseg.errors import ClassicsegError, SourceError

log = logging.getLogger("classicseg")

__all__ = ["MARKER", "Task", "SequenceOutcome", "config_hash", "plan", "process", "died", "check_output"]

#: Completion marker of a sequence's output folder.
MARKER = ".done.json"

#: Set in a pool worker: the pid of the batch that started it (see :func:`orphaned`).
PARENT_PID: int | None = None


def orphaned() -> bool:
    """True in a pool worker whose batch process is gone: its results have nobody to go to."""
    import os

    return PARENT_PID is not None and os.getppid() != PARENT_PID


def config_hash(spec, prior_root=None, init_root=None) -> str:
    """Hash of what decides a sequence's masks: the stages, their parameters, the bad-frame
    limit and the prior and init-mask roots.

    The pipeline's name and description, prefetch depth and timeouts do not change the
    masks and are left out.
    """
    d = spec.to_dict()
    key = {"pipeline": d["pipeline"], "max_bad_frames": d["source"]["max_bad_frames"]}
    for name, root in (("prior_root", prior_root), ("init_root", init_root)):
        if root is not None:
            key[name] = str(Path(root).resolve())
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Task:
    seq: Sequence
    spec: object            # PipelineSpec (pickled; stage classes travel by reference)
    out_dir: Path
    config_hash: str
    run: bool               # False: outputs are complete, only score
    metric: str | None
    prior_root: Path | None = None
    init_root: Path | None = None
    attempt: int = 1
    threads: int | None = None  # set cv2.setNumThreads first (Dask workers; pool workers set it at start)


@dataclass
class SequenceOutcome:
    """What happened to one sequence.

    ``status`` is ``done`` (run now), ``skipped`` (complete from an earlier run) or
    ``failed`` (``error`` says why, in one line). ``score`` is a
    :class:`~classicseg.metrics.cdnet.SequenceResult` or
    :class:`~classicseg.metrics.davis.DavisSequenceResult`, or None.
    """

    sequence: Sequence
    status: str
    out_dir: Path
    frames: int | None = None
    seconds: float = 0.0
    attempts: int = 1
    error: str | None = None
    score: object = None
    warnings: list = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"sequence": self.sequence.rel or self.sequence.name, "kind": self.sequence.kind,
                "status": self.status, "frames": self.frames, "seconds": round(self.seconds, 3),
                "attempts": self.attempts, "error": self.error, "output": str(self.out_dir)}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def prior_for(seq: Sequence, prior_root: Path) -> Path:
    """A sequence's prior folder under ``prior_root``: ``<root>/<rel>``, else ``<root>/<name>``."""
    for cand in (prior_root / seq.rel, prior_root / seq.name):
        if seq.rel and cand.is_dir():
            return cand
    if not seq.rel and prior_root.is_dir():
        return prior_root
    raise SourceError(f"no prior for sequence {seq.rel or seq.name} under {prior_root} "
                      f"(expected {prior_root / (seq.rel or seq.name)})")


def init_mask_for(seq: Sequence, init_root: Path) -> Path | None:
    """A sequence's first-frame mask under ``init_root``: ``<root>/<rel>.png``, ``<root>/<name>.png``,
    or the first PNG of ``<root>/<rel>/`` / ``<root>/<name>/`` (None: use the dataset layout)."""
    from classicseg.io.sources import natural_key

    for key in dict.fromkeys(k for k in (seq.rel, seq.name) if k):
        if (init_root / f"{key}.png").is_file():
            return init_root / f"{key}.png"
        folder = init_root / key
        if folder.is_dir():
            pngs = sorted((f for f in folder.iterdir() if f.suffix.lower() == ".png"), key=natural_key)
            if pngs:
                return pngs[0]
    return None


def _run_sequence(task: Task):
    import cv2

    from classicseg import __version__, session
    from classicseg.io.sinks import clear_outputs, write_owned_json

    prior = prior_for(task.seq, task.prior_root) if task.prior_root is not None else None
    init = init_mask_for(task.seq, task.init_root) if task.init_root is not None else None
    clear_outputs(task.out_dir, MARKER)
    # KNN and others draw from OpenCV's per-thread RNG: start each sequence from the state a
    # fresh process has, so its masks do not depend on what this worker ran before it.
    cv2.setRNGSeed(0)
    res = session.run(session.Request(input=task.seq.path, spec=task.spec, output=task.out_dir, prior=prior,
                                      init_mask=init,
                                      gt=task.seq.gt if task.metric else None, metric=task.metric or "none"))
    if orphaned():  # the batch was killed: no marker for a run that no longer exists
        import os

        os._exit(1)
    write_owned_json(task.out_dir, MARKER, {
        "sequence": task.seq.rel or task.seq.name, "input": str(task.seq.path), "frames": res.frames,
        "skipped_frames": res.summary["skipped_frames"], "config_hash": task.config_hash,
        "pipeline": task.spec.name, "seconds": round(res.stats.seconds, 4), "fps": round(res.stats.fps, 2),
        "attempt": task.attempt, "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "classicseg": __version__,
    })
    return res


def _score(task: Task, score):
    if task.metric is None:
        return None
    if score is None:  # complete from an earlier run: score its masks
        from classicseg.session import score_outputs

        _, score = score_outputs({"masks": task.out_dir, "tracks": task.out_dir / "tracks.txt"}, task.seq.gt,
                                 task.metric)
    if task.metric == "cdnet":
        score.category = task.seq.category
    return score


def process(task: Task) -> SequenceOutcome:
    """Run (unless complete) and score one sequence. Never raises: failures are outcomes."""
    t0 = time.perf_counter()
    out = SequenceOutcome(task.seq, "done" if task.run else "skipped", task.out_dir, attempts=task.attempt)
    if task.threads is not None:
        import cv2

        cv2.setNumThreads(task.threads)
    try:
        score = None
        if task.run:
            res = _run_sequence(task)
            out.frames, out.warnings, score = res.frames, res.warnings, res.score
        out.score = _score(task, score)
    except ClassicsegError as exc:
        out.status, out.error = "failed", _first_line(exc)
    except Exception as exc:  # noqa: BLE001 - a bug or a library failure, reported per sequence
        out.status, out.error = "failed", f"internal error: {type(exc).__name__}: {_first_line(exc)}"
    out.seconds = time.perf_counter() - t0
    return out


def died(task: Task, why: str) -> SequenceOutcome:
    return SequenceOutcome(task.seq, "failed", task.out_dir, attempts=task.attempt,
                           error=f"{why}; gave up after {task.attempt} attempt{'s' if task.attempt > 1 else ''}")


def check_output(root: Path, output: Path) -> None:
    """Refuse an output folder that overlaps the input root."""
    r, o = root.resolve(), output.resolve()
    if o == r or r in o.parents or o in r.parents:
        raise ClassicsegError(f"output folder {output} and input root {root} overlap; "
                              "choose an output folder outside the dataset")


def plan(seqs, spec, output: Path, chash: str, metric: str, force: bool, prior_root: Path | None = None,
         init_root: Path | None = None):
    """Tasks to run (longest first) and the outcomes of sequences that are complete already."""
    from classicseg.io.sinks import read_json_object

    tasks, outcomes = [], {}
    for s in seqs:
        out_dir = output / s.rel
        marker = None if force else read_json_object(out_dir / MARKER)
        complete = marker is not None and marker.get("config_hash") == chash
        score = s.metric if metric == "auto" else (metric if s.metric == metric else None)
        if score == "mot" and "tracks" not in spec.slots:
            score = None  # a pipeline that writes no tracks has nothing MOTChallenge scores
        if complete:
            outcomes[s.rel] = SequenceOutcome(s, "skipped", out_dir, frames=marker.get("frames"))
            if score is None:
                continue
        elif marker is not None:
            log.info("%s: made with another pipeline (config %s), redoing it", s.rel or s.name,
                     marker.get("config_hash"))
        tasks.append(Task(s, spec, out_dir, chash, run=not complete, metric=score, prior_root=prior_root,
                          init_root=init_root))
    costs = {t.seq.rel: estimated_cost(t.seq) if t.run else 0.0 for t in tasks}
    tasks.sort(key=lambda t: -costs[t.seq.rel])  # longest first: the last sequence to finish is short
    return tasks, outcomes
