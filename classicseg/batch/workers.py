"""Where a batch's tasks run: in this process, in a pool of spawned workers, or on Dask.

* inline: one sequence after the other, in this process;
* a local pool: ``n`` long-lived worker processes started with the *spawn* method, each
  with ``cv2.setNumThreads(threads)``, kept warm across sequences (the engine is imported
  once per worker, while the batch is planned). The pool is a small one of our own rather
  than :class:`concurrent.futures.ProcessPoolExecutor`: when a worker process dies
  (killed, out of memory, a crash in native code) we know exactly which sequence it was
  running, retry that one on a fresh worker (``retries`` times) and leave the others alone;
  an executor breaks as a whole and cannot say who died;
* ``dask.distributed``: one task per sequence (the optional ``cluster`` extra); workers
  must see the same file system paths.
"""
from __future__ import annotations

import logging
import multiprocessing as mp
import os
import signal
from collections import deque
from dataclasses import replace
from multiprocessing.connection import wait as _wait_any
from typing import Iterator

from classicseg.batch.task import SequenceOutcome, Task, died, process
from classicseg.errors import ClassicsegError

log = logging.getLogger("classicseg")

__all__ = ["run_inline", "LocalPool", "run_dask", "SchedulerError"]


class SchedulerError(ClassicsegError):
    """The Dask scheduler cannot be used (not installed, not reachable)."""

    exit_code = 6


def run_inline(tasks: list[Task], threads: int) -> Iterator[SequenceOutcome]:
    import cv2

    before = cv2.getNumThreads()
    cv2.setNumThreads(threads)
    try:
        for t in tasks:
            yield process(t)
    finally:
        cv2.setNumThreads(before)


def _die_with_parent(parent: int) -> None:
    """End this worker when the batch process ends, however it ends (even SIGKILL): the
    kernel's parent-death signal on Linux, and a watchdog thread everywhere."""
    import os
    import sys
    import threading
    import time

    import classicseg.batch.task as task

    task.PARENT_PID = parent
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # died before the signal was armed
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="classicseg-parent-watch", daemon=True).start()


def _worker_main(conn, threads: int, parent: int | None = None) -> None:
    """Body of a spawned worker: take tasks from the pipe until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    if parent is not None:
        _die_with_parent(parent)
    import cv2

    cv2.setNumThreads(threads)
    import classicseg.session  # noqa: F401  (the engine's imports, before saying ready)
    import classicseg.io.sinks  # noqa: F401
    import classicseg.io.sources  # noqa: F401

    conn.send(_READY)
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        conn.send(process(task))


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
        self.proc = ctx.Process(target=_worker_main, args=(child, threads, os.getpid()),
                                name="classicseg-batch-worker", daemon=True)
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


class LocalPool:
    """``n`` spawned worker processes, started at once so that they import while the batch is planned.

    :meth:`run` hands out tasks; when a worker process dies, the task it held is run again
    on a fresh worker (up to ``retries`` times) and the other workers go on.
    """

    def __init__(self, n: int, threads: int) -> None:
        self.ctx = mp.get_context("spawn")
        self.n, self.threads = n, threads
        self.idle = [_Worker(self.ctx, threads) for _ in range(n)]
        self.busy: dict[_Worker, Task] = {}

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

    def run(self, tasks: list[Task], retries: int) -> Iterator[SequenceOutcome]:
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
                    yield died(t, why)


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


def run_dask(tasks: list[Task], address: str, retries: int, timeout: float) -> Iterator[SequenceOutcome]:
    """One ``dask.distributed`` task per sequence; killed workers' tasks are resubmitted."""
    import uuid

    client = _connect(address, timeout)  # first: says so when dask is missing
    from distributed import as_completed

    try:
        from distributed import KilledWorker
    except ImportError:  # older releases
        from distributed.scheduler import KilledWorker

    run_id = uuid.uuid4().hex[:8]
    pending: dict[str, Task] = {}

    def submit(t: Task, priority: int = 0):
        key = f"classicseg-batch-{run_id}-{t.seq.rel or t.seq.name}-{t.attempt}"
        fut = client.submit(process, t, key=key, pure=False, priority=priority)
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
                outcome = died(t, why)
            except Exception as exc:  # noqa: BLE001 - e.g. classicseg missing on a worker
                outcome = SequenceOutcome(t.seq, "failed", t.out_dir, attempts=t.attempt,
                                          error=f"dask task failed: {type(exc).__name__}: {_first_line(exc)}")
            finally:
                fut.release()
            yield outcome
    finally:
        client.close()
