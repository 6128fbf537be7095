"""One camera's process: its pipeline through :func:`classicseg.session.run` with the
recorder and the live picture as sinks, reporting to the supervisor through a queue.

Exit codes tell the supervisor what to do: 0 the input ended (a video file without
``loop``) or the camera was stopped; 2 a configuration problem (restarting would not help,
e.g. a zone outside the camera's frame); anything else (a stream that cannot be opened,
a crash, a signal) is restarted with back-off.
"""
from __future__ import annotations

import logging
import os
import queue
import signal
import sys
import threading
import time

log = logging.getLogger("classicseg")


def _setup_logging(name: str, level: int) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"classicseg watch [{name}]: %(levelname)s: %(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(level)
    log.propagate = False


def camera_main(name: str, cfg, q, viewers, level: int = logging.INFO) -> None:
    """The body of a camera's process (started by :class:`classicseg.watch.service.Supervisor`)."""
    _setup_logging(name, level)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())

    def send(msg) -> None:
        try:
            q.put_nowait(msg)
        except queue.Full:
            pass  # the supervisor is behind: the next frame or status replaces this one
        except (OSError, ValueError):
            pass

    try:
        code = _run(name, cfg, send, viewers, stop)
    except BaseException as exc:  # noqa: BLE001 - reported, then the process ends
        log.exception("camera %s crashed", name)
        send(("error", f"{type(exc).__name__}: {exc}", 1))
        code = 1
    send(("exit", code))
    try:
        q.close()
        q.join_thread()
    except Exception:  # noqa: BLE001
        pass
    logging.shutdown()
    os._exit(code)


def _run(name: str, cfg, send, viewers, stop: threading.Event) -> int:
    import cv2

    from classicseg import session
    from classicseg.config import zones_of
    from classicseg.errors import ClassicsegError, ConfigError
    from classicseg.watch.config import camera_spec, database_url
    from classicseg.watch.db import Database, Writer
    from classicseg.watch.hooks import Hooks
    from classicseg.io.storage import remove_partial_files
    from classicseg.watch.recorder import LiveSink, Recorder

    cam = cfg.cameras[name]
    cv2.setNumThreads(cam.threads)
    storage = cfg.storage
    db = Database(database_url(cfg))
    # what a killed predecessor left: open events (closed at their last sign of life), partial clips
    for attempt in range(20):
        try:
            n = db.close_open(name, "interrupted")
            break
        except Exception as exc:  # noqa: BLE001 - the database may be busy or not up yet
            if attempt == 19:
                raise ClassicsegError(f"database: cannot close the events a previous run left open: {exc}") from None
            time.sleep(0.5)
    if n:
        log.warning("closed %d event(s) left open by a previous run", n)
    parts = remove_partial_files(storage / "clips" / name)
    if parts:
        log.warning("removed %d half-written clip(s) of a previous run", parts)
    writer = Writer(db)
    hooks = Hooks({"on_event_start": cam.on_event_start, "on_event_end": cam.on_event_end}, cam.hook_timeout)
    try:
        spec = camera_spec(cam)
    except ConfigError as exc:
        send(("error", str(exc), 2))
        log.error("%s", exc)
        return 2
    zones = zones_of(spec)
    recorder = Recorder(name, cam, storage, writer, hooks, 10.0, zones, min_free_bytes=cfg.min_free_gb * 1e9, db=db)
    live = LiveSink(lambda jpeg, wall: send(("frame", jpeg, wall)), viewers, cam.live_fps, zones)
    source_box: list = []
    started = time.time()

    def on_source(src) -> None:
        source_box.append(src)
        recorder.set_source(src)

    def status() -> dict:
        src = source_box[0] if source_box else None
        last = recorder.last_wall
        return {"frames": live.frames, "dropped": getattr(src, "dropped", 0), "reconnects": getattr(src, "reconnects", 0),
                "skipped": getattr(src, "skipped", 0), "source_fps": getattr(src, "fps", None),
                "last_frame": last, "open_events": len(recorder.tracker.open), "events": recorder.events,
                "recording": recorder.clips.writer is not None, "clips": recorder.clips_done,
                "disk_paused": recorder.paused is not None, "db_pending": writer.pending,
                "live_encode_s": round(live.encode_seconds, 3), "started": started, "pid": os.getpid()}

    def heartbeat() -> None:
        while not stop.wait(1.0):
            send(("status", status()))

    threading.Thread(target=heartbeat, name="heartbeat", daemon=True).start()
    inp = int(cam.input) if isinstance(cam.input, int) or str(cam.input).isdigit() else cam.input
    log.info("starting: %s, pipeline %s", _safe(inp), spec.name)
    try:
        result = session.run(session.Request(input=inp, spec=spec, sinks=(recorder, live), stop=stop,
                                             on_source=on_source))
    except ClassicsegError as exc:
        send(("error", str(exc), exc.exit_code))
        log.error("%s", exc)
        return 2 if isinstance(exc, ConfigError) else exc.exit_code
    finally:
        writer.close()
        hooks.close()
        send(("status", status()))
    if stop.is_set():
        log.info("stopped after %d frames", result.frames)
        send(("stopped", result.summary))
    else:
        log.info("input ended after %d frames: camera finished", result.frames)
        send(("finished", result.summary))
    return 0


def _safe(inp) -> str:
    from classicseg.watch.config import redact

    return redact(str(inp))
