"""The watch service: checks before anything starts, the supervisor of the camera
processes, and the loop that runs it with the web server until it is stopped.

One process per camera (``spawn``), so a crashed or stalled camera never stops another.
The supervisor reads each camera's queue (live JPEGs, status once a second, why it
stopped), restarts a process that died with a doubling delay (``restart_delay`` up to
``restart_delay_max``, back to the start once a process has run for a minute), kills one
that stopped reporting or whose frames stopped for ``stall_timeout``, and logs why each
time. A camera whose input ended (a video file without ``loop``) or whose configuration
cannot work is not restarted; the service, its page and its API stay up.
"""
from __future__ import annotations

import logging
import multiprocessing as mp
import queue
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from classicseg.errors import ConfigError, SinkError
from classicseg.watch.config import WatchConfig, database_url, parse_http, redact
from classicseg.watch.db import Database

log = logging.getLogger("classicseg")

__all__ = ["CameraState", "Supervisor", "preflight", "serve"]

#: a process that sends nothing for this long is hung (its heartbeat runs in a thread of its own)
SILENT_S = 30.0
#: a process that ran this long has its back-off reset
STABLE_S = 60.0


@dataclass
class CameraState:
    name: str
    cam: object
    viewers: object
    process: object = None
    queue: object = None
    state: str = "starting"
    restarts: int = 0
    failures: int = 0
    started_at: float = 0.0
    next_start: float = 0.0
    last_msg: float = 0.0
    last_error: str | None = None
    last_exit: str | None = None
    final: str | None = None
    status: dict = field(default_factory=dict)
    jpeg: bytes | None = None
    jpeg_wall: float | None = None
    seq: int = 0
    fps: float = 0.0
    _fps_mark: tuple = (0.0, 0)

    def public(self) -> dict:
        s = self.status
        return {"name": self.name, "input": redact(str(self.cam.input)), "state": self.state,
                "fps": round(self.fps, 2), "frames": s.get("frames", 0), "dropped": s.get("dropped", 0),
                "reconnects": s.get("reconnects", 0), "restarts": self.restarts, "recording": s.get("recording", False),
                "open_events": s.get("open_events", 0), "events": s.get("events", 0),
                "disk_paused": s.get("disk_paused", False), "last_frame": s.get("last_frame"),
                "last_error": self.last_error, "last_exit": self.last_exit, "pid": getattr(self.process, "pid", None),
                "stream": f"/cameras/{self.name}/stream.mjpg", "snapshot": f"/cameras/{self.name}/snapshot.jpg"}


def _exit_reason(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class Supervisor:
    """Starts, watches and restarts the camera processes (see the module docstring).

    ``on_frame(state)`` is called (from a reader thread) when a camera sends a new live
    picture; the web server wakes its MJPEG clients with it.
    """

    def __init__(self, cfg: WatchConfig, log_level: int = logging.INFO) -> None:
        self.cfg = cfg
        self.ctx = mp.get_context("spawn")
        self.level = log_level
        self.cameras = {n: CameraState(n, c, self.ctx.Value("i", 0)) for n, c in cfg.enabled().items()}
        self.on_frame: Callable[[CameraState], None] | None = None
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._ticker: threading.Thread | None = None

    # -- processes -------------------------------------------------------------
    def start(self) -> None:
        for cs in self.cameras.values():
            self._spawn(cs)
        self._ticker = threading.Thread(target=self._tick_loop, name="supervisor", daemon=True)
        self._ticker.start()

    def _spawn(self, cs: CameraState) -> None:
        from classicseg.watch.worker import camera_main

        q = self.ctx.Queue(maxsize=16)  # one per process: a killed writer cannot corrupt the next one's
        p = self.ctx.Process(target=camera_main, args=(cs.name, self.cfg, q, cs.viewers, self.level),
                             name=f"classicseg-watch-{cs.name}", daemon=True)
        p.start()
        now = time.time()
        cs.process, cs.queue, cs.started_at, cs.last_msg = p, q, now, now
        cs.state, cs.final = "starting", None
        cs._fps_mark = (time.monotonic(), cs.status.get("frames", 0))
        cs.status = {}
        threading.Thread(target=self._reader, args=(cs, p, q), name=f"reader-{cs.name}", daemon=True).start()
        log.info("camera %s: process %d started", cs.name, p.pid)

    def _reader(self, cs: CameraState, p, q) -> None:
        while True:
            try:
                msg = q.get(timeout=0.5)
            except queue.Empty:
                if not p.is_alive():
                    return
                continue
            except (EOFError, OSError, ValueError):  # a killed writer can leave a torn message
                return
            except Exception:  # noqa: BLE001 - e.g. unpickling a torn message
                return
            if cs.process is not p:
                return
            cs.last_msg = time.time()
            kind = msg[0]
            if kind == "frame":
                cs.jpeg, cs.jpeg_wall = msg[1], msg[2]
                cs.seq += 1
                if self.on_frame is not None:
                    self.on_frame(cs)
            elif kind == "status":
                self._status(cs, msg[1])
            elif kind == "error":
                cs.last_error = msg[1]
            elif kind in ("finished", "stopped"):
                cs.final = kind

    def _status(self, cs: CameraState, st: dict) -> None:
        now = time.monotonic()
        t0, n0 = cs._fps_mark
        frames = st.get("frames", 0)
        if now - t0 >= 2.0:
            cs.fps = max(frames - n0, 0) / (now - t0)
            cs._fps_mark = (now, frames)
        cs.status = st
        last = st.get("last_frame")
        if cs.final is None:
            if last is None:
                cs.state = "starting" if time.time() - cs.started_at < 10 else "waiting for frames"
            elif time.time() - last > 2.0:
                cs.state = "reconnecting"
            else:
                cs.state = "running"

    def _tick_loop(self) -> None:
        while not self._stopping.wait(0.5):
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - the supervisor must go on
                log.exception("supervisor tick failed")

    def tick(self) -> None:
        now = time.time()
        with self._lock:
            if self._stopping.is_set():
                return
            for cs in self.cameras.values():
                p = cs.process
                if p is not None and not p.is_alive():
                    self._exited(cs, p, now)
                elif p is not None:
                    last = cs.status.get("last_frame") or cs.started_at
                    if now - cs.last_msg > SILENT_S:
                        self._kill(cs, f"no sign of life for {now - cs.last_msg:.0f} s")
                    elif cs.final is None and now - last > cs.cam.stall_timeout:
                        self._kill(cs, f"stalled: no frame for {now - last:.0f} s")
                if cs.process is None and cs.state == "restarting" and now >= cs.next_start:
                    cs.restarts += 1
                    self._spawn(cs)

    def _kill(self, cs: CameraState, why: str) -> None:
        log.warning("camera %s: %s: killing process %d", cs.name, why, cs.process.pid)
        cs.last_error = why
        try:
            cs.process.kill()
        except OSError:
            pass

    def _exited(self, cs: CameraState, p, now: float) -> None:
        p.join(0)
        code = p.exitcode
        cs.process = None
        cs.last_exit = _exit_reason(code)
        if code == 0 and cs.final:
            cs.state = cs.final
            log.info("camera %s: %s", cs.name, "input ended: finished" if cs.final == "finished" else "stopped")
            return
        if code == 2:
            cs.state = "failed"
            log.error("camera %s: cannot run (%s): %s; not restarted", cs.name, cs.last_exit,
                      cs.last_error or "configuration error")
            return
        ran = now - cs.started_at
        cs.failures = 1 if ran >= STABLE_S else cs.failures + 1
        delay = min(self.cfg.restart_delay * 2 ** (cs.failures - 1), self.cfg.restart_delay_max)
        cs.state, cs.next_start = "restarting", now + delay
        why = cs.last_error if cs.last_error and code not in (None,) and code > 0 else None
        log.warning("camera %s: process %d died after %.1f s (%s%s); restarting in %.1f s", cs.name, p.pid, ran,
                    cs.last_exit, f": {why}" if why else "", delay)

    def stop(self, timeout: float = 15.0) -> None:
        """Stop every camera (SIGTERM: they close their events and clips), then kill what is left."""
        with self._lock:
            self._stopping.set()
            procs = [(cs, cs.process) for cs in self.cameras.values() if cs.process is not None]
            for _, p in procs:
                try:
                    p.terminate()
                except OSError:
                    pass
        end = time.time() + timeout
        for cs, p in procs:
            p.join(max(0.0, end - time.time()))
            if p.is_alive():
                log.warning("camera %s: did not stop in %.0f s: killed", cs.name, timeout)
                p.kill()
                p.join(5)
            cs.process = None
            if cs.state not in ("finished", "failed"):
                cs.state = "stopped"


# -- the checks before anything starts -------------------------------------------
def preflight(cfg: WatchConfig) -> tuple[Database, socket.socket | None]:
    """Storage writable, port free, database reachable (schema created or migrated): a one-line
    error before any camera starts; nothing already recorded is touched.

    Returns the database and the bound listening socket (None with ``http: off``).
    """
    from classicseg.io.images import ensure_writable_dir

    try:
        ensure_writable_dir(cfg.storage)
    except SinkError as exc:
        raise ConfigError(f"storage: {exc}") from None
    sock = None
    addr = parse_http(cfg.http)
    if addr is not None:
        host, port = addr
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
            family, _, _, _, sockaddr = infos[0]
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(sockaddr)
            sock.listen(128)
            sock.setblocking(False)
        except OSError as exc:
            if sock is not None:
                sock.close()
            raise ConfigError(f"http: cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    db = Database(database_url(cfg))
    try:
        db.migrate()
    except ConfigError:
        if sock is not None:
            sock.close()
        raise
    return db, sock


def recover(db: Database, storage: Path) -> None:
    """After a service that was killed: close the events it left open, remove partial clips."""
    from classicseg.io.storage import remove_partial_files

    n = db.close_open(None, "interrupted")
    if n:
        log.warning("closed %d event(s) left open when the service last stopped", n)
    parts = remove_partial_files(Path(storage) / "clips")
    if parts:
        log.warning("removed %d half-written clip(s)", parts)


def serve(cfg: WatchConfig, log_level: int = logging.INFO, ready: Callable[[str | None], None] | None = None) -> None:
    """Run the service until SIGTERM or SIGINT: checks, recovery, cameras, web server."""
    import asyncio

    db, sock = preflight(cfg)
    recover(db, cfg.storage)
    sup = Supervisor(cfg, log_level)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    server = None
    url = None
    if sock is not None:
        from classicseg.watch.server import make_server

        server = make_server(sup, db, cfg.storage, sock, loop)
        host, port = sock.getsockname()[:2]
        url = f"http://{host if ':' not in host else f'[{host}]'}:{port}/"
    sup.start()
    done = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, done.set)
    if ready is not None:
        ready(url)
    log.info("watching %d camera(s)%s", len(sup.cameras), f"; live page {url}" if url else "")
    try:
        loop.run_until_complete(done.wait())
    finally:
        log.info("stopping")
        sup.stop()
        if server is not None:
            server.stop()
        try:
            n = db.close_open(None, "interrupted")
            if n:
                log.warning("closed %d event(s) still open at the stop", n)
        except Exception as exc:  # noqa: BLE001
            log.warning("database: %s", exc)
        db.dispose()
        loop.close()
