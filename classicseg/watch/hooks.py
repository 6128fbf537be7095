"""Event hooks: a command that gets the event as JSON on its standard input, or a webhook
URL the event is POSTed to.

Hooks run in a small pool of threads of the camera's process, never in the frame loop: a
hook that hangs is killed after its time limit (its whole process group), a webhook that
refuses the connection is logged, and while every thread is busy new calls wait in a
bounded queue (past it they are dropped with a warning), so detection never waits.
"""
from __future__ import annotations

import json
import logging
import os
import queue
import signal
import subprocess
import threading
import urllib.error
import urllib.request

log = logging.getLogger("classicseg")

__all__ = ["Hooks", "run_hook"]


def run_hook(target, payload: dict, timeout: float) -> str:
    """Run one hook now; returns what happened (``ok``, ``exit 3``, ``timeout``, ``refused: ...``)."""
    data = json.dumps(payload, default=str).encode()
    if isinstance(target, str) and target.startswith(("http://", "https://")):
        req = urllib.request.Request(target, data=data, method="POST",
                                     headers={"Content-Type": "application/json", "User-Agent": "classicseg-watch"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return "ok" if 200 <= resp.status < 300 else f"http {resp.status}"
        except urllib.error.HTTPError as exc:
            return f"http {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            return f"failed: {getattr(exc, 'reason', exc)}"
    argv = target if isinstance(target, list) else ["/bin/sh", "-c", target]
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                start_new_session=True)
    except OSError as exc:
        return f"cannot start: {exc.strerror or exc}"
    try:
        _, err = proc.communicate(data, timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        proc.communicate()
        return f"timeout after {timeout:g} s (killed)"
    if proc.returncode:
        tail = (err or b"").decode(errors="replace").strip().splitlines()[-1:] or [""]
        return f"exit {proc.returncode} {tail[0]}".strip()
    return "ok"


class Hooks:
    """``fire(name, payload)`` runs the configured hook ``name`` in the background."""

    def __init__(self, targets: dict, timeout: float = 10.0, workers: int = 2, max_queue: int = 100) -> None:
        self.targets = {k: v for k, v in targets.items() if v}
        self.timeout = timeout
        self.q: queue.Queue = queue.Queue(maxsize=max_queue)
        self.results: list[tuple[str, str]] = []  # the last outcomes, for tests and the log
        self.dropped = 0
        self.threads = [threading.Thread(target=self._run, name=f"hook-{i}", daemon=True)
                        for i in range(workers if self.targets else 0)]
        for t in self.threads:
            t.start()

    def fire(self, name: str, payload: dict) -> None:
        target = self.targets.get(name)
        if target is None:
            return
        try:
            self.q.put_nowait((name, target, payload))
        except queue.Full:
            self.dropped += 1
            log.warning("hook %s: %d calls waiting, this one dropped", name, self.q.qsize())

    def _run(self) -> None:
        while True:
            item = self.q.get()
            if item is None:
                return
            name, target, payload = item
            outcome = run_hook(target, payload, self.timeout)
            self.results = (self.results + [(name, outcome)])[-100:]
            if outcome != "ok":
                log.warning("hook %s for event %s: %s", name, payload.get("id"), outcome)

    def close(self, timeout: float = 2.0) -> None:
        for _ in self.threads:
            try:
                self.q.put_nowait(None)
            except queue.Full:
                break
        for t in self.threads:
            t.join(timeout)
