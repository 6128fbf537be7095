"""``classicseg batch``: one pipeline over every sequence of a dataset root, then scores.

The unit of work is a whole sequence. :func:`find_sequences` recognises the layouts of
the benchmarks (CDnet ``<category>/<video>/input``, SBI ``<video>/input``, UCSD
``<video>/in``, DAVIS ``JPEGImages/480p/<seq>``), plain folders of frames and video
files. :func:`run_batch` runs each sequence in a worker, writes its masks where the
benchmark's evaluator looks for them (``DIR/<category>/<video>/`` under a CDnet root,
``DIR/<seq>/`` under a DAVIS root: ``classicseg eval --pred DIR --gt ROOT`` reads them as
they are) and scores every sequence that has ground truth with
:mod:`classicseg.metrics`.

Workers
-------
* ``workers=0``: in this process, one sequence after the other.
* ``workers=N``: ``N`` long-lived worker processes started with the *spawn* method,
  each with ``cv2.setNumThreads(threads)``. The pool is a small one of our own rather
  than :class:`concurrent.futures.ProcessPoolExecutor`: when a worker process dies
  (killed, out of memory, a crash in native code) we know exactly which sequence it
  was running, retry that one on a fresh worker (``retries`` times) and leave the
  others alone; an executor breaks as a whole and cannot say who died.
* ``scheduler="tcp://host:8786"``: one ``dask.distributed`` task per sequence (the
  optional ``cluster`` extra). Workers must see the same file system paths.

Resuming
--------
Each finished sequence gets ``DIR/<seq>/.done.json`` (frames, config hash, timing),
written atomically after its last mask. A rerun skips sequences whose marker carries
the same config hash; any other sequence is redone from scratch (its old masks and
marker are deleted first). Masks themselves are written atomically by
:class:`~classicseg.io.sinks.MaskSink`. Sequences are scored in the workers; the
dataset scores are aggregated here in discovery order, so they do not depend on the
number of workers or the order in which sequences finish.
"""
from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing as mp
import os
import signal
import time
from collections import deque
from dataclasses import dataclass, field, replace
from multiprocessing.connection import wait as _wait_any
from pathlib import Path
from typing import Callable, Iterable, Iterator

from classicseg.errors import ClassicsegError, EvalError, SourceError
from classicseg.io.images import IMAGE_EXTS

log = logging.getLogger("classicseg")

__all__ = [
    "Sequence", "SequenceOutcome", "BatchResult", "find_sequences", "run_batch", "config_hash",
    "NoSequencesError", "SchedulerError", "BatchError", "MARKER",
]

#: Completion marker of a sequence's output folder.
MARKER = ".done.json"
VIDEO_EXTS = (".avi", ".mp4", ".mov", ".mkv", ".m4v", ".mpg", ".mpeg", ".webm", ".wmv", ".flv", ".ts")
METRICS = ("auto", "cdnet", "davis", "none")
_MAX_DEPTH = 4  # folder levels below the root searched for sequences
_SKIP_DIRS = {"groundtruth", "Annotations", "__pycache__"}


class NoSequencesError(SourceError):
    """The input root holds no sequence in any known layout."""


class SchedulerError(ClassicsegError):
    """The Dask scheduler cannot be used (not installed, not reachable)."""

    exit_code = 6


class BatchError(ClassicsegError):
    """Some sequences failed (the others finished and were scored)."""

    exit_code = 7


# -- discovery ----------------------------------------------------------------------
@dataclass(frozen=True)
class Sequence:
    """One sequence found under a batch root.

    Attributes
    ----------
    name : str
        Folder name or video file stem.
    rel : str
        Its output folder relative to the batch output (POSIX, ``""`` = the output
        itself when the root is a single sequence).
    kind : str
        ``cdnet`` (CDnet, SBI ``input/``, UCSD ``in/``), ``davis``, ``folder`` (plain
        frames) or ``video``.
    path : Path
        What :func:`~classicseg.io.sources.open_source` reads.
    gt : Path or None
        CDnet-layout sequence folder with ``groundtruth/``, or DAVIS annotation folder.
    metric : str or None
        ``cdnet`` or ``davis`` when ground truth exists.
    category : str
        CDnet category: the parent of the sequence in the root (the root's own name for
        ``<video>/input`` roots), as ``classicseg eval`` names it.
    """

    name: str
    rel: str
    kind: str
    path: Path
    gt: Path | None = None
    metric: str | None = None
    category: str = ""


def _has_image(folder: Path) -> bool:
    try:
        return any(p.suffix.lower() in IMAGE_EXTS for p in folder.iterdir())
    except OSError:
        return False


def _category(root: Path, parts: tuple[str, ...]) -> str:
    if len(parts) >= 2:
        return parts[-2]
    return root.resolve().name if parts else root.resolve().parent.name


def _cdnet_sequence(root: Path, d: Path, parts: tuple[str, ...]) -> Sequence | None:
    for sub in ("input", "in"):
        if (d / sub).is_dir() and _has_image(d / sub):
            has_gt = (d / "groundtruth").is_dir()
            return Sequence(d.name, "/".join(parts), "cdnet", d, d if has_gt else None,
                            "cdnet" if has_gt else None, _category(root, parts))
    return None


def _davis_sequences(d: Path, parts: tuple[str, ...]) -> list[Sequence]:
    """Sequences of a DAVIS root (``JPEGImages/<res>/<seq>``, 480p preferred)."""
    jpeg, ann = d / "JPEGImages", d / "Annotations"
    subs = sorted(p for p in jpeg.iterdir() if p.is_dir() and not p.name.startswith("."))
    if any(_has_image(s) for s in subs):  # no resolution level: JPEGImages/<seq>
        seq_dirs, ann_dir = subs, ann
    else:
        res = "480p" if (jpeg / "480p").is_dir() else (subs[0].name if subs else "")
        if not res:
            return []
        seq_dirs = sorted(p for p in (jpeg / res).iterdir() if p.is_dir() and _has_image(p))
        ann_dir = ann / res
    out = []
    for s in seq_dirs:
        gt = ann_dir / s.name
        ok = gt.is_dir()
        out.append(Sequence(s.name, "/".join(parts + (s.name,)), "davis", s, gt if ok else None,
                            "davis" if ok else None, "/".join(parts) or d.resolve().name))
    return out


def _walk(root: Path, d: Path, parts: tuple[str, ...], found: list[Sequence]) -> None:
    seq = _cdnet_sequence(root, d, parts)
    if seq is not None:
        found.append(seq)
        return
    if (d / "JPEGImages").is_dir():
        found.extend(_davis_sequences(d, parts))
        return
    try:
        entries = sorted(p for p in d.iterdir() if not p.name.startswith("."))
    except OSError as exc:
        raise SourceError(f"cannot list {d}: {exc.strerror or exc}") from None
    files = [p for p in entries if p.is_file()]
    if sum(p.suffix.lower() in IMAGE_EXTS for p in files) >= 2:  # a plain folder of frames
        found.append(Sequence(d.name, "/".join(parts), "folder", d, category=_category(root, parts)))
    for v in files:
        if v.suffix.lower() in VIDEO_EXTS:
            found.append(Sequence(v.stem, "/".join(parts + (v.stem,)), "video", v,
                                  category=d.resolve().name))
    if len(parts) < _MAX_DEPTH:
        for sub in entries:
            if sub.is_dir() and sub.name not in _SKIP_DIRS:
                _walk(root, sub, parts + (sub.name,), found)


def find_sequences(root) -> list[Sequence]:
    """Every sequence under ``root``, in a stable (sorted) order.

    Parameters
    ----------
    root : path-like
        A dataset root (CDnet ``<category>/<video>/input``), a category or SBI/UCSD root
        (``<video>/input`` or ``<video>/in``), a DAVIS root (``JPEGImages/480p/<seq>``), a
        folder of video files, one sequence folder, one video file, or a folder that
        holds several of these (searched up to four levels deep). Symbolic links to
        folders are followed.

    Returns
    -------
    list[Sequence]

    Raises
    ------
    SourceError
        ``root`` does not exist.
    NoSequencesError
        Nothing under ``root`` looks like a sequence.
    SourceError
        Two sequences would write to the same output folder (``clip.mp4`` beside ``clip/``).
    """
    root = Path(root)
    if not root.exists():
        raise SourceError(f"input root not found: {root}")
    if root.is_file():
        if root.suffix.lower() not in VIDEO_EXTS:
            raise NoSequencesError(f"input {root} is neither a folder nor a video file")
        return [Sequence(root.stem, "", "video", root, category=root.resolve().parent.name)]
    found: list[Sequence] = []
    _walk(root, root, (), found)
    if not found:
        raise NoSequencesError(
            f"no sequences found under {root} (expected <category>/<video>/input, <video>/input or "
            f"<video>/in, JPEGImages/480p/<seq>, folders of frames or video files)")
    seen: dict[str, Sequence] = {}
    for s in found:
        if s.rel in seen:
            raise SourceError(f"{seen[s.rel].path} and {s.path} would both write to output folder "
                              f"{s.rel or '.'}; move one of them")
        seen[s.rel] = s
    return found


def _estimated_cost(seq: Sequence) -> float:
    """Frames x pixels of a sequence, read from file headers (for longest-first order)."""
    try:
        if seq.kind == "video":
            import cv2

            cap = cv2.VideoCapture(str(seq.path))
            try:
                return (cap.get(cv2.CAP_PROP_FRAME_COUNT) * cap.get(cv2.CAP_PROP_FRAME_WIDTH)
                        * cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
            finally:
                cap.release()
        folder = seq.path
        for sub in ("input", "in"):
            if seq.kind == "cdnet" and (seq.path / sub).is_dir():
                folder = seq.path / sub
                break
        frames = [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS]
        from PIL import Image

        with Image.open(frames[0]) as im:
            w, h = im.size
        return float(len(frames) * w * h)
    except Exception:  # noqa: BLE001 - only an ordering hint; the worker reports real problems
        return float("inf")


# -- config identity and markers ----------------------------------------------------------
def config_hash(spec) -> str:
    """Hash of what decides a sequence's masks: the stages, their parameters, bad-frame limit.

    The pipeline's name and description, prefetch depth and timeouts do not change the
    masks and are left out.
    """
    d = spec.to_dict()
    key = {"pipeline": d["pipeline"], "max_bad_frames": d["source"]["max_bad_frames"]}
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:16]


# -- the unit of work -----------------------------------------------------------------
@dataclass(frozen=True)
class _Task:
    seq: Sequence
    spec: object            # PipelineSpec (pickled; stage classes travel by reference)
    out_dir: Path
    config_hash: str
    run: bool               # False: outputs are complete, only score
    metric: str | None
    attempt: int = 1
    threads: int | None = None  # set cv2.setNumThreads first (Dask workers; pool workers set it at start)


@dataclass
class SequenceOutcome:
    """What happened to one sequence.

    ``status`` is ``done`` (run now), ``skipped`` (complete from an earlier run) or
    ``failed`` (``error`` says why). ``score`` is a
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


def _run_sequence(task: _Task) -> tuple[int, float, list[str]]:
    import cv2

    from classicseg.io.sinks import MaskSink, clear_outputs, write_json
    from classicseg.io.sources import open_source
    from classicseg.pipeline import Pipeline

    from classicseg import __version__

    clear_outputs(task.out_dir, MARKER)
    # KNN and others draw from OpenCV's per-thread RNG: start each sequence from the state a
    # fresh process has, so its masks do not depend on what this worker ran before it.
    cv2.setRNGSeed(0)
    source = open_source(str(task.seq.path), **task.spec.source.model_dump())
    try:
        stats = Pipeline.from_spec(task.spec).run(source, [MaskSink(task.out_dir, source)])
    finally:
        source.close()
    write_json(task.out_dir / MARKER, {
        "sequence": task.seq.rel or task.seq.name, "input": str(task.seq.path), "frames": stats.frames,
        "skipped_frames": source.skipped, "config_hash": task.config_hash, "pipeline": task.spec.name,
        "seconds": round(stats.seconds, 4), "fps": round(stats.fps, 2), "attempt": task.attempt,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "classicseg": __version__,
    })
    return stats.frames, stats.seconds, list(source.warnings)


def _score(task: _Task):
    if task.metric == "cdnet":
        from classicseg.metrics.cdnet import evaluate_sequence

        res = evaluate_sequence(task.out_dir, task.seq.gt)
        res.category = task.seq.category
        return res
    if task.metric == "davis":
        from classicseg.metrics.davis import evaluate_sequence

        return evaluate_sequence(task.out_dir, task.seq.gt)
    return None


def _process(task: _Task) -> SequenceOutcome:
    """Run (unless complete) and score one sequence. Never raises: failures are outcomes."""
    t0 = time.perf_counter()
    out = SequenceOutcome(task.seq, "done" if task.run else "skipped", task.out_dir, attempts=task.attempt)
    if task.threads is not None:
        import cv2

        cv2.setNumThreads(task.threads)
    try:
        if task.run:
            out.frames, _, out.warnings = _run_sequence(task)
        out.score = _score(task)
    except ClassicsegError as exc:
        out.status, out.error = "failed", _first_line(exc)
    except Exception as exc:  # noqa: BLE001 - a bug or a library failure, reported per sequence
        out.status, out.error = "failed", f"internal error: {type(exc).__name__}: {_first_line(exc)}"
    out.seconds = time.perf_counter() - t0
    return out


def _died(task: _Task, why: str) -> SequenceOutcome:
    return SequenceOutcome(task.seq, "failed", task.out_dir, attempts=task.attempt,
                           error=f"{why}; gave up after {task.attempt} attempt{'s' if task.attempt > 1 else ''}")


# -- backends -------------------------------------------------------------------------
def _run_inline(tasks: list[_Task], threads: int) -> Iterator[SequenceOutcome]:
    import cv2

    before = cv2.getNumThreads()
    cv2.setNumThreads(threads)
    try:
        for t in tasks:
            yield _process(t)
    finally:
        cv2.setNumThreads(before)


def _worker_main(conn, threads: int) -> None:
    """Body of a spawned worker: take tasks from the pipe until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    import cv2

    cv2.setNumThreads(threads)
    import classicseg.io.sinks  # noqa: F401  (the heavy imports, before saying ready)
    import classicseg.io.sources  # noqa: F401
    import classicseg.pipeline  # noqa: F401

    conn.send(_READY)
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        conn.send(_process(task))


def _exit_text(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"worker process killed by {signal.Signals(-code).name}"
        except ValueError:
            pass
    return f"worker process died (exit code {code})"


_READY = "classicseg-batch-worker-ready"


class _Worker:
    def __init__(self, ctx, threads: int) -> None:
        self.ready = False
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child, threads), name="classicseg-batch-worker",
                                daemon=True)
        self.proc.start()
        child.close()

    def stop(self, timeout: float) -> None:
        try:
            self.conn.send(None)
        except OSError:
            pass
        self.proc.join(timeout)
        if self.proc.is_alive():
            self.proc.terminate()
            self.proc.join(1.0)
        self.conn.close()


class _LocalPool:
    """``n`` spawned worker processes, started at once so that they import while the batch is planned.

    :meth:`run` hands out tasks; when a worker process dies, the task it held is run again
    on a fresh worker (up to ``retries`` times) and the other workers go on.
    """

    def __init__(self, n: int, threads: int) -> None:
        self.ctx = mp.get_context("spawn")
        self.n, self.threads = n, threads
        self.idle = [_Worker(self.ctx, threads) for _ in range(n)]
        self.busy: dict[_Worker, _Task] = {}

    def shrink(self, n: int) -> None:
        """Keep at most ``n`` workers (fewer tasks than workers)."""
        self.n = n
        while len(self.idle) > n:
            self.idle.pop().stop(0)

    def close(self) -> None:
        for w in self.idle:
            w.stop(5.0)
        for w in self.busy:  # interrupted: do not wait for their sequences
            w.stop(0)
        self.idle, self.busy = [], {}

    def run(self, tasks: list[_Task], retries: int) -> Iterator[SequenceOutcome]:
        queue = deque(tasks)
        while queue or self.busy:
            while queue and len(self.busy) < self.n:
                w, t = (self.idle.pop() if self.idle else _Worker(self.ctx, self.threads)), queue.popleft()
                try:
                    w.conn.send(t)
                except OSError:  # died while idle: drop it, keep the task
                    w.stop(0)
                    queue.appendleft(t)
                    continue
                self.busy[w] = t
            ready = set(_wait_any([w.conn for w in self.busy] + [w.proc.sentinel for w in self.busy]))
            for w in [w for w in self.busy if w.conn in ready or w.proc.sentinel in ready]:
                outcome, eof = None, False
                try:
                    while outcome is None and w.conn.poll():
                        msg = w.conn.recv()
                        if msg == _READY:
                            w.ready = True
                        else:
                            outcome = msg
                except (EOFError, OSError):
                    eof = True
                if outcome is None and not eof and w.proc.sentinel not in ready:
                    continue  # only its 'ready' message: still working
                t = self.busy.pop(w)
                if outcome is not None and w.proc.is_alive():
                    self.idle.append(w)
                else:
                    w.proc.join(1.0)
                    why = _exit_text(w.proc.exitcode)
                    w.stop(0)
                    if not w.ready:
                        raise ClassicsegError(
                            f"batch {why.replace('worker process', 'worker')} before it could start; a script that "
                            "calls run_batch must guard it with `if __name__ == '__main__':` (workers import it)")
                if outcome is not None:
                    yield outcome
                elif t.attempt <= retries:
                    log.warning("%s: %s; running it again from scratch (attempt %d of %d)",
                                t.seq.rel or t.seq.name, why, t.attempt + 1, retries + 1)
                    queue.appendleft(replace(t, attempt=t.attempt + 1))
                else:
                    yield _died(t, why)


def _connect(address: str, timeout: float):
    try:
        from distributed import Client
    except ImportError:
        raise SchedulerError("--scheduler needs dask.distributed: pip install 'classicseg[cluster]'") from None
    try:
        return Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        raise SchedulerError(f"cannot reach the Dask scheduler at {address} within {timeout:g} s "
                             f"({type(exc).__name__})") from None


def _run_dask(tasks: list[_Task], address: str, retries: int, timeout: float) -> Iterator[SequenceOutcome]:
    """One ``dask.distributed`` task per sequence; killed workers' tasks are resubmitted."""
    import uuid

    client = _connect(address, timeout)  # first: says so when dask is missing
    from distributed import as_completed

    try:
        from distributed import KilledWorker
    except ImportError:  # older releases
        from distributed.scheduler import KilledWorker

    run_id = uuid.uuid4().hex[:8]
    pending: dict[str, _Task] = {}

    def submit(t: _Task, priority: int = 0):
        key = f"classicseg-batch-{run_id}-{t.seq.rel or t.seq.name}-{t.attempt}"
        fut = client.submit(_process, t, key=key, pure=False, priority=priority)
        pending[fut.key] = t
        return fut

    try:
        # longest first: the scheduler runs higher priorities first
        ac = as_completed([submit(t, len(tasks) - i) for i, t in enumerate(tasks)], loop=client.loop)
        for fut in ac:
            t = pending.pop(fut.key)
            try:
                outcome = fut.result()
            except KilledWorker:
                why = "dask worker died"
                if t.attempt <= retries:
                    log.warning("%s: %s; running it again from scratch (attempt %d of %d)",
                                t.seq.rel or t.seq.name, why, t.attempt + 1, retries + 1)
                    ac.add(submit(replace(t, attempt=t.attempt + 1), len(tasks)))
                    continue
                outcome = _died(t, why)
            except Exception as exc:  # noqa: BLE001 - e.g. classicseg missing on a worker
                outcome = SequenceOutcome(t.seq, "failed", t.out_dir, attempts=t.attempt,
                                          error=f"dask task failed: {type(exc).__name__}: {_first_line(exc)}")
            finally:
                fut.release()
            yield outcome
    finally:
        client.close()


# -- the batch ------------------------------------------------------------------------
@dataclass
class BatchResult:
    """Outcome of :func:`run_batch`.

    Attributes
    ----------
    outcomes : list[SequenceOutcome]
        One per sequence, in discovery order.
    cdnet : classicseg.metrics.cdnet.DatasetResult or None
        Per video, per category (mean of videos) and overall (mean of categories).
    davis : classicseg.metrics.davis.DavisDatasetResult or None
        Per sequence and global.
    """

    root: Path
    output: Path
    pipeline: str
    config_hash: str
    workers: int
    scheduler: str | None
    seconds: float
    outcomes: list
    cdnet: object = None
    davis: object = None

    @property
    def failed(self) -> list[SequenceOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    def scores(self) -> dict:
        """``{"cdnet": rows, "davis": rows}`` (only the metrics that were computed)."""
        out = {}
        if self.cdnet is not None:
            out["cdnet"] = _plain(self.cdnet.table())
        if self.davis is not None:
            out["davis"] = _plain(self.davis.table())
        return out

    def to_dict(self) -> dict:
        return {"input": str(self.root), "output": str(self.output), "pipeline": self.pipeline,
                "config_hash": self.config_hash, "workers": self.workers, "scheduler": self.scheduler,
                "seconds": round(self.seconds, 3),
                "counts": {s: self.count(s) for s in ("done", "skipped", "failed")},
                "sequences": [o.to_dict() for o in self.outcomes], "scores": self.scores()}


def _plain(obj):
    """JSON-ready copy: numpy scalars become Python numbers."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if hasattr(obj, "item") and getattr(obj, "ndim", None) == 0:
        return obj.item()
    return obj


def _check_output(root: Path, output: Path) -> None:
    r, o = root.resolve(), output.resolve()
    if o == r or r in o.parents or o in r.parents:
        raise ClassicsegError(f"output folder {output} and input root {root} overlap; "
                              "choose an output folder outside the dataset")


def _plan(seqs, spec, output: Path, chash: str, metric: str, force: bool):
    """Tasks to run (longest first) and the outcomes of sequences that are complete already."""
    from classicseg.io.sinks import read_json_object

    tasks, outcomes = [], {}
    for s in seqs:
        out_dir = output / s.rel
        marker = None if force else read_json_object(out_dir / MARKER)
        complete = marker is not None and marker.get("config_hash") == chash
        score = s.metric if metric == "auto" else (metric if s.metric == metric else None)
        if complete:
            outcomes[s.rel] = SequenceOutcome(s, "skipped", out_dir, frames=marker.get("frames"))
            if score is None:
                continue
        elif marker is not None:
            log.info("%s: made with another pipeline (config %s), redoing it", s.rel or s.name,
                     marker.get("config_hash"))
        tasks.append(_Task(s, spec, out_dir, chash, run=not complete, metric=score))
    costs = {t.seq.rel: _estimated_cost(t.seq) if t.run else 0.0 for t in tasks}
    tasks.sort(key=lambda t: -costs[t.seq.rel])  # longest first: the last sequence to finish is short
    return tasks, outcomes


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
    from classicseg.config import resolve
    from classicseg.io.images import ensure_writable_dir
    from classicseg.io.sinks import write_json

    t0 = time.perf_counter()
    root, output = Path(root), Path(output)
    if metric not in METRICS:
        raise ClassicsegError(f"metric must be one of {', '.join(METRICS)}, got {metric!r}")
    if retries < 0:
        raise ClassicsegError(f"retries must be >= 0, got {retries}")
    if workers is not None and workers < 0:
        raise ClassicsegError(f"workers must be >= 0, got {workers}")
    seqs = find_sequences(root)
    n_workers = 0 if scheduler else min(os.cpu_count() or 1 if workers is None else workers, len(seqs))
    # start the workers now: they import the engine while the pipeline is validated here
    pool = _LocalPool(n_workers, threads) if n_workers > 0 else None
    try:
        spec = spec if spec is not None else resolve(preset, config, tuple(sets))
        if metric in ("cdnet", "davis") and not any(s.metric == metric for s in seqs):
            raise EvalError(f"--metric {metric}: none of the {len(seqs)} sequences under {root} has "
                            + ("CDnet ground truth (groundtruth/)" if metric == "cdnet"
                               else "DAVIS annotations (Annotations/480p/<seq>)"))
        _check_output(root, output)
        ensure_writable_dir(output)
        chash = config_hash(spec)
        tasks, outcomes = _plan(seqs, spec, output, chash, metric, force)
        if scheduler:
            tasks = [replace(t, threads=threads) for t in tasks]
            stream = _run_dask(tasks, scheduler, retries, connect_timeout) if tasks else iter(())
        elif pool is not None:
            n_workers = min(n_workers, len(tasks))
            pool.shrink(n_workers)
            stream = pool.run(tasks, retries)
        else:
            stream = _run_inline(tasks, threads)
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
    finally:
        if pool is not None:
            pool.close()

    from classicseg.metrics.cdnet import DatasetResult
    from classicseg.metrics.davis import DavisDatasetResult

    ordered = [outcomes[s.rel] for s in seqs]
    cd = [o.score for o in ordered if o.status != "failed" and o.score is not None and o.sequence.metric == "cdnet"]
    dv = [o.score for o in ordered if o.status != "failed" and o.score is not None and o.sequence.metric == "davis"]
    result = BatchResult(root=root, output=output, pipeline=spec.name, config_hash=chash,
                         workers=n_workers, scheduler=scheduler, seconds=time.perf_counter() - t0,
                         outcomes=ordered, cdnet=DatasetResult.from_videos(cd) if cd else None,
                         davis=DavisDatasetResult.from_sequences(dv) if dv else None)
    write_json(output / "scores.json", result.to_dict())
    return result



# -- command line ---------------------------------------------------------------------
