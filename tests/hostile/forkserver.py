"""A warm process that runs ``classicseg`` command lines in forked children.

Started once per test session by :mod:`tests.hostile.conftest`: it imports the engine (and
touches every stage) once, then, for each request read from stdin (one JSON line), forks a
child that runs ``classicseg.cli.main(argv)`` with its stdout/stderr in files, under an
address-space limit (``RLIMIT_AS``: the memory the child may add to what it inherits), and
is killed at its time limit. A case costs milliseconds of start-up instead of the seconds
a fresh interpreter takes to import OpenCV, numba and SciPy. The reply (one JSON line) holds
the exit status, the signal that killed it, the wall time and the peak resident memory.
"""
import json
import os
import resource
import signal
import sys
import time


def _vm_size() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _warm() -> None:
    import cv2

    cv2.setNumThreads(1)
    import classicseg.cli  # noqa: F401
    import classicseg.session  # noqa: F401
    from classicseg import catalog

    catalog.all_stages()  # every stage module imported once, here
    import classicseg.metrics.cdnet  # noqa: F401
    import classicseg.metrics.davis  # noqa: F401
    import classicseg.metrics.mot  # noqa: F401
    import scipy.optimize  # noqa: F401
    import numpy as np

    from classicseg.pipeline import Pipeline

    rng = np.random.default_rng(0)
    clip = [rng.integers(0, 255, (40, 40, 3), dtype=np.uint8) for _ in range(3)]
    for preset in ("surveillance-fast", "surveillance"):  # numba kernels loaded (from cache) once, here
        Pipeline.load(preset=preset).run(clip)


def _child(req: dict) -> None:
    os.setpgid(0, 0)
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE):
        signal.signal(s, signal.SIG_DFL)
    out = os.open(req["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    err = os.open(req["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(out, 1)
    os.dup2(err, 2)
    nul = os.open(os.devnull, os.O_RDONLY)
    os.dup2(nul, 0)
    os.chdir(req.get("cwd") or os.getcwd())
    os.environ.update(req.get("env") or {})
    if req.get("mem"):
        limit = _vm_size() + int(req["mem"])
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    if req.get("fsize"):
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (int(req["fsize"]), int(req["fsize"])))
    code = 70
    try:
        from classicseg.cli import main

        code = main(list(req["argv"]))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - shown to the test as a traceback on stderr
        import traceback

        traceback.print_exc()
        code = 99
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except Exception:  # noqa: BLE001
            pass
    os._exit(code if isinstance(code, int) else 1)


_STARTED: dict[int, tuple[float, dict]] = {}


def _spawn(req: dict) -> dict:
    """Start a child and answer at once (the test signals it, then asks ``wait``)."""
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:
        _child(req)
    _STARTED[pid] = (t0, req)
    return {"pid": pid}


def _run(req: dict) -> dict:
    if req.get("op") == "spawn":
        return _spawn(req)
    if req.get("op") == "wait":
        pid = int(req["pid"])
        t0, started = _STARTED.pop(pid)
        return _wait(pid, t0, float(started.get("timeout", 60)))
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:
        _child(req)
    return _wait(pid, t0, float(req.get("timeout", 60)))


def _wait(pid: int, t0: float, timeout: float) -> dict:
    deadline = t0 + timeout
    timed_out = False
    while True:
        wpid, status, usage = os.wait4(pid, os.WNOHANG)
        if wpid:
            break
        if time.monotonic() > deadline:
            timed_out = True
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                os.kill(pid, signal.SIGKILL)
            wpid, status, usage = os.wait4(pid, 0)
            break
        time.sleep(0.005)
    return {"rc": os.waitstatus_to_exitcode(status), "seconds": time.monotonic() - t0,
            "maxrss_kb": usage.ru_maxrss, "timed_out": timed_out}


def main() -> None:
    _warm()
    print(json.dumps({"ready": True, "pid": os.getpid()}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        print(json.dumps(_run(json.loads(line))), flush=True)


if __name__ == "__main__":
    main()
