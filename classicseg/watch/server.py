"""The live page and the JSON API (tornado: one thread, asynchronous, so a hundred MJPEG
clients cost a hundred sockets, not a hundred threads).

=================================  ==============================================
``/``                              the cameras page (plain HTML and JavaScript)
``/cameras/<name>/stream.mjpg``    the live overlay as MJPEG
``/cameras/<name>/snapshot.jpg``   the latest live picture
``/api/cameras``                   state, frames/s, dropped frames, reconnects...
``/api/events?camera=&since=&kind=&limit=&before=``  events, newest first
``/api/events/<id>``               one event
``/media/clips/...``, ``/media/snapshots/...``   the files (range requests: clips seek)
=================================  ==============================================

Times in the API are ISO 8601 (UTC); ``since`` takes ISO 8601 or seconds since the epoch.
"""
from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime
from importlib import resources
from pathlib import Path

import tornado.httpserver
import tornado.iostream
import tornado.web

from classicseg.io.events import iso_time

log = logging.getLogger("classicseg")
logging.getLogger("tornado.access").setLevel(logging.WARNING)

__all__ = ["make_server", "event_json"]

BOUNDARY = b"classicsegframe"


def event_json(row: dict, storage: Path | None = None) -> dict:
    """A database row as the API shows it (times in ISO 8601, files as URLs). A clip still
    being recorded (not yet in place under ``storage``) shows as ``clip: null`` with
    ``recording: true``."""
    clip = row.get("clip")
    recording = bool(clip and storage is not None and not (storage / clip).is_file())
    out = {"id": row["id"], "camera": row["camera"], "kind": row["kind"], "zone": row.get("zone"),
           "start": iso_time(row.get("start")), "end": iso_time(row.get("end")),
           "stream_start": row.get("stream_start"), "stream_end": row.get("stream_end"),
           "start_frame": row.get("start_frame"), "end_frame": row.get("end_frame"),
           "peak_share": row.get("peak_share"), "track_ids": row.get("track_ids") or [], "status": row.get("status"),
           "snapshot": f"/media/{row['snapshot']}" if row.get("snapshot") else None,
           "clip": f"/media/{clip}" if clip and not recording else None, "recording": recording,
           "detail": row.get("detail") or {}}
    return out


def _since(value: str | None) -> float | None:
    if value in (None, ""):
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise tornado.web.HTTPError(400, reason=f"since: expected ISO 8601 or epoch seconds, got {value!r}") from None


class _Base(tornado.web.RequestHandler):
    def initialize(self, ctx) -> None:
        self.ctx = ctx

    def set_default_headers(self) -> None:
        self.set_header("X-Content-Type-Options", "nosniff")

    def json(self, obj, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(json.dumps(obj, default=str))

    def write_error(self, status_code: int, **kwargs) -> None:
        self.json({"error": self._reason}, status_code)

    def camera(self, name: str):
        cs = self.ctx.sup.cameras.get(name)
        if cs is None:
            raise tornado.web.HTTPError(404, reason=f"no camera {name!r}")
        return cs

    async def db(self, fn, *args, **kw):
        return await asyncio.get_running_loop().run_in_executor(None, lambda: fn(*args, **kw))


class Page(_Base):
    def get(self) -> None:
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(self.ctx.page)


class Cameras(_Base):
    def get(self) -> None:
        self.json([cs.public() for cs in self.ctx.sup.cameras.values()])


class Events(_Base):
    async def get(self) -> None:
        camera = self.get_argument("camera", None) or None
        if camera and camera not in self.ctx.sup.cameras and camera not in self.ctx.sup.cfg.cameras:
            raise tornado.web.HTTPError(404, reason=f"no camera {camera!r}")
        try:
            limit = min(max(int(self.get_argument("limit", "100")), 1), 1000)
            before = self.get_argument("before", None)
            before = int(before) if before else None
        except ValueError:
            raise tornado.web.HTTPError(400, reason="limit and before are integers") from None
        rows = await self.db(self.ctx.db.query, camera, _since(self.get_argument("since", None)),
                             self.get_argument("kind", None) or None, limit, before)
        self.json([event_json(r, self.ctx.storage) for r in rows])


class Event(_Base):
    async def get(self, event_id: str) -> None:
        row = await self.db(self.ctx.db.get, int(event_id))
        if row is None:
            raise tornado.web.HTTPError(404, reason=f"no event {event_id}")
        self.json(event_json(row, self.ctx.storage))


class Snapshot(_Base):
    def get(self, name: str) -> None:
        cs = self.camera(name)
        if cs.jpeg is None:
            raise tornado.web.HTTPError(503, reason=f"camera {name}: no picture yet")
        self.set_header("Content-Type", "image/jpeg")
        self.set_header("Cache-Control", "no-store")
        if cs.jpeg_wall:
            self.set_header("X-Frame-Time", iso_time(cs.jpeg_wall))
        self.finish(cs.jpeg)


class Stream(_Base):
    async def get(self, name: str) -> None:
        cs = self.camera(name)
        self.set_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY.decode()}")
        self.set_header("Cache-Control", "no-store")
        with cs.viewers.get_lock():
            cs.viewers.value += 1
        self.ctx.clients += 1
        try:
            seq = -1
            self.write(b"--" + BOUNDARY + b"\r\n")
            while not self.ctx.closing:
                if cs.seq == seq or cs.jpeg is None:
                    waiter = self.ctx.waiter(cs.name)
                    try:
                        await asyncio.wait_for(waiter.wait(), 5.0)
                    except asyncio.TimeoutError:
                        pass  # send the same picture again: a client that left is noticed
                first = seq == -1
                jpeg, seq = cs.jpeg, cs.seq
                if jpeg is None:
                    continue
                # each picture ends with the next boundary: a browser shows a part once it sees its
                # end (the first one is sent twice, so a camera that sends no more still shows)
                part = (b"Content-Type: image/jpeg\r\nContent-Length: " + str(len(jpeg)).encode() + b"\r\n\r\n"
                        + jpeg + b"\r\n--" + BOUNDARY + b"\r\n")
                self.write(part + part if first else part)
                await self.flush()
        except tornado.iostream.StreamClosedError:
            pass
        finally:
            with cs.viewers.get_lock():
                cs.viewers.value -= 1
            self.ctx.clients -= 1


class _Context:
    def __init__(self, sup, db, storage: Path, loop) -> None:
        self.sup, self.db, self.storage, self.loop = sup, db, storage, loop
        self.page = resources.files("classicseg.watch").joinpath("page.html").read_text(encoding="utf-8")
        self.events: dict[str, asyncio.Event] = {}
        self.clients = 0
        self.closing = False

    def waiter(self, name: str) -> asyncio.Event:
        ev = self.events.get(name)
        if ev is None:
            ev = self.events[name] = asyncio.Event()
        return ev

    def new_frame(self, name: str) -> None:  # in the loop's thread
        ev = self.events.pop(name, None)
        if ev is not None:
            ev.set()


class _Server:
    def __init__(self, http: tornado.httpserver.HTTPServer, ctx: _Context) -> None:
        self.http, self.ctx = http, ctx

    def stop(self) -> None:
        self.ctx.closing = True
        self.http.stop()


def make_app(sup, db, storage) -> tuple[tornado.web.Application, _Context]:
    storage = Path(storage)
    ctx = _Context(sup, db, storage, None)
    a = {"ctx": ctx}
    app = tornado.web.Application([
        (r"/", Page, a),
        (r"/api/cameras", Cameras, a),
        (r"/api/events", Events, a),
        (r"/api/events/(\d+)", Event, a),
        (r"/cameras/([^/]+)/stream\.mjpg", Stream, a),
        (r"/cameras/([^/]+)/snapshot\.jpg", Snapshot, a),
        (r"/media/clips/(.*)", tornado.web.StaticFileHandler, {"path": str(storage / "clips")}),
        (r"/media/snapshots/(.*)", tornado.web.StaticFileHandler, {"path": str(storage / "snapshots")}),
    ], compress_response=False, xsrf_cookies=False)
    return app, ctx


def make_server(sup, db, storage, sock, loop) -> _Server:
    """Serve on the already bound ``sock`` in ``loop``; new pictures wake the MJPEG clients."""
    app, ctx = make_app(sup, db, storage)
    ctx.loop = loop
    sup.on_frame = lambda cs: loop.call_soon_threadsafe(ctx.new_frame, cs.name)
    http = tornado.httpserver.HTTPServer(app, idle_connection_timeout=60)
    http.add_sockets([sock])
    return _Server(http, ctx)
