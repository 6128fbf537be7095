"""Fixtures of the hostile-input suite: a warm fork server that runs command lines."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import classicseg
from tests.hostile.util import MEM_LIMIT, TIME_LIMIT, Run

HERE = Path(__file__).resolve().parent
PKG_ROOT = str(Path(classicseg.__file__).resolve().parents[1])


def child_env(extra: dict | None = None) -> dict:
    """The environment of a fresh ``python -m classicseg``: the same classicseg as this test."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([PKG_ROOT, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.pop("CLASSICSEG_DEBUG", None)
    env.update(extra or {})
    return env


class ForkServer:
    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.proc = subprocess.Popen([sys.executable, str(HERE / "forkserver.py")], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                     env=child_env())
        self.lock = threading.Lock()
        self.n = 0
        ready = self.proc.stdout.readline()
        if not ready:
            raise RuntimeError("the fork server did not start")

    def _ask(self, req: dict) -> dict:
        self.proc.stdin.write(json.dumps(req) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def _request(self, argv, cwd, env, timeout, mem, fsize, op="run") -> dict:
        self.n += 1
        out, err = self.tmp / f"{self.n}.out", self.tmp / f"{self.n}.err"
        return {"op": op, "argv": [str(a) for a in argv], "cwd": str(cwd) if cwd else None, "env": env or {},
                "timeout": timeout, "mem": mem, "fsize": fsize, "stdout": str(out), "stderr": str(err)}

    def run(self, argv, cwd=None, env=None, timeout: float = TIME_LIMIT, mem: int | None = MEM_LIMIT,
            fsize: int | None = None) -> Run:
        with self.lock:
            req = self._request(argv, cwd, env, timeout, mem, fsize)
            reply = self._ask(req)
        return _result(req, reply)

    def start(self, argv, cwd=None, env=None, timeout: float = TIME_LIMIT, mem: int | None = MEM_LIMIT) -> "Started":
        """Start a command and return at once; ``.wait()`` gives its :class:`Run`."""
        with self.lock:
            req = self._request(argv, cwd, env, timeout, mem, None, op="spawn")
            pid = self._ask(req)["pid"]
        return Started(self, pid, req)

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


class Started:
    def __init__(self, server: ForkServer, pid: int, req: dict) -> None:
        self.server, self.pid, self.req = server, pid, req

    def wait(self) -> Run:
        with self.server.lock:
            reply = self.server._ask({"op": "wait", "pid": self.pid})
        return _result(self.req, reply)


def _result(req: dict, reply: dict) -> Run:
    return Run(reply["rc"], Path(req["stdout"]).read_text(errors="replace"),
               Path(req["stderr"]).read_text(errors="replace"), reply["seconds"], reply["maxrss_kb"],
               reply["timed_out"])


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    s = ForkServer(tmp_path_factory.mktemp("forkserver"))
    yield s
    s.close()


@pytest.fixture
def cli(server):
    """``cli(argv, cwd=, env=, timeout=, mem=, fsize=) -> Run``: ``classicseg ARGV`` in a forked child."""
    return server.run
