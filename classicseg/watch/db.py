"""The events database: one row per event, in SQLite (WAL mode, in the storage folder) or
PostgreSQL, through SQLAlchemy Core.

The program creates the schema and migrates an older one: the version lives in the
``classicseg_meta`` table, and :data:`MIGRATIONS` holds the statements that take version
``n`` to ``n + 1``. Rows are written by each camera's process through a :class:`Writer`
(a thread, so a slow or unreachable database never holds up detection: operations wait
in order and are retried) and read by the web server.
"""
from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections import deque
from typing import Any, Callable

from sqlalchemy import (Column, Float, Index, Integer, MetaData, String, Table, Text, and_, create_engine, delete,
                        event, func, insert, inspect, or_, select, text, update)
from sqlalchemy.exc import SQLAlchemyError

from classicseg.errors import ClassicsegError, ConfigError

log = logging.getLogger("classicseg")

__all__ = ["Database", "Writer", "SCHEMA_VERSION", "MIGRATIONS", "events"]

#: the schema this code writes
SCHEMA_VERSION = 2

metadata = MetaData()
events = Table(
    "events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("camera", String(64), nullable=False),
    Column("kind", String(32), nullable=False),        # motion, zone, enter, leave, dwell, illumination, gap, disk_full
    Column("zone", String(128)),
    Column("start", Float, nullable=False),             # wall clock, seconds since the epoch
    Column("end", Float),                               # NULL while the event is open
    Column("stream_start", Float),                      # seconds into the stream
    Column("stream_end", Float),
    Column("start_frame", Integer),
    Column("end_frame", Integer),
    Column("peak_share", Float),                        # largest foreground share of the frame (or zone)
    Column("track_ids", Text),                          # JSON list
    Column("snapshot", String(512)),                    # relative to the storage folder
    Column("clip", String(512)),
    Column("status", String(16), nullable=False),       # open, closed, interrupted
    Column("detail", Text),                             # JSON: what else the event carried
    Column("updated", Float),                           # last sign of life of an open event (schema 2)
    Index("ix_events_camera_start", "camera", "start"),
    Index("ix_events_kind", "kind"),
    Index("ix_events_status", "status"),                # schema 2
)
meta = Table("classicseg_meta", metadata, Column("key", String(64), primary_key=True), Column("value", String(256)))

#: statements taking schema ``n`` to ``n + 1``
MIGRATIONS: dict[int, list[str]] = {
    1: ['ALTER TABLE events ADD COLUMN updated FLOAT',
        'CREATE INDEX IF NOT EXISTS ix_events_status ON events (status)'],
}


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")        # readers never block the writers
    cur.execute("PRAGMA synchronous=NORMAL")      # with WAL: durable at checkpoints, never corrupt
    cur.execute("PRAGMA busy_timeout=10000")      # cameras write one at a time
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


class Database:
    """The events table behind one engine (one per process)."""

    def __init__(self, url: str, connect_timeout: float = 5.0) -> None:
        self.url = url
        self.sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {"future": True}
        if self.sqlite:
            kwargs["connect_args"] = {"timeout": 10, "check_same_thread": False}
        else:
            kwargs["connect_args"] = {"connect_timeout": max(1, int(connect_timeout))}
            kwargs["pool_pre_ping"] = True
        try:
            self.engine = create_engine(url, **kwargs)
        except (SQLAlchemyError, ImportError, ValueError) as exc:
            raise ConfigError(f"database {_safe(url)}: {exc}") from None
        if self.sqlite:
            event.listen(self.engine, "connect", _sqlite_pragmas)

    # -- schema ----------------------------------------------------------------
    def migrate(self) -> int:
        """Create the schema or bring an older one up to :data:`SCHEMA_VERSION`; returns the
        version found (0: a new database).

        Raises
        ------
        ConfigError
            The database cannot be reached, or it was written by a newer classicseg.
        """
        try:
            with self.engine.begin() as conn:
                tables = set(inspect(conn).get_table_names())
                found = 0
                if "classicseg_meta" in tables:
                    v = conn.execute(select(meta.c.value).where(meta.c.key == "schema_version")).scalar()
                    found = int(v) if v is not None else 0
                elif "events" in tables:
                    found = 1  # the first schema had no meta table
                if found > SCHEMA_VERSION:
                    raise ConfigError(f"database {_safe(self.url)} has schema {found}, newer than this classicseg's "
                                      f"({SCHEMA_VERSION}): upgrade classicseg")
                if found == 0:
                    metadata.create_all(conn)
                else:
                    meta.create(conn, checkfirst=True)
                    for v in range(found, SCHEMA_VERSION):
                        for stmt in MIGRATIONS.get(v, ()):
                            conn.execute(text(stmt))
                        log.info("database schema %d -> %d", v, v + 1)
                conn.execute(delete(meta).where(meta.c.key == "schema_version"))
                conn.execute(insert(meta).values(key="schema_version", value=str(SCHEMA_VERSION)))
                return found
        except SQLAlchemyError as exc:
            raise ConfigError(f"database {_safe(self.url)}: cannot connect or set up: {_first_line(exc)}") from None

    def integrity_check(self) -> str:
        """SQLite's ``PRAGMA integrity_check`` (``ok``); ``ok`` for other databases."""
        if not self.sqlite:
            return "ok"
        with self.engine.connect() as conn:
            return str(conn.execute(text("PRAGMA integrity_check")).scalar())

    # -- writing ---------------------------------------------------------------
    def insert(self, row: dict) -> int:
        with self.engine.begin() as conn:
            return int(conn.execute(insert(events).values(**_row(row))).inserted_primary_key[0])

    def update(self, event_id: int, values: dict) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(events).where(events.c.id == event_id).values(**_row(values)))

    def touch(self, ids: list[int], when: float) -> None:
        if ids:
            with self.engine.begin() as conn:
                conn.execute(update(events).where(events.c.id.in_(ids)).values(updated=when))

    def drop_clip(self, clip: str) -> None:
        """A clip that could not be written: no row names it."""
        with self.engine.begin() as conn:
            conn.execute(update(events).where(events.c.clip == clip).values(clip=None))

    def close_open(self, camera: str | None = None, reason: str = "interrupted") -> int:
        """Close the events a stopped or killed process left open, at their last sign of life;
        returns how many."""
        cond = events.c.status == "open"
        if camera is not None:
            cond = and_(cond, events.c.camera == camera)
        with self.engine.begin() as conn:
            res = conn.execute(update(events).where(cond).values(
                end=func.coalesce(events.c.updated, events.c.start), status=reason))
            return int(res.rowcount or 0)

    def delete(self, ids: list[int]) -> None:
        if ids:
            with self.engine.begin() as conn:
                conn.execute(delete(events).where(events.c.id.in_(ids)))

    # -- reading ---------------------------------------------------------------
    def query(self, camera: str | None = None, since: float | None = None, kind: str | None = None,
              limit: int = 100, before: int | None = None, oldest_first: bool = False) -> list[dict]:
        q = select(events)
        conds = []
        if camera:
            conds.append(events.c.camera == camera)
        if since is not None:
            conds.append(or_(events.c.start >= since, events.c.end >= since, events.c.end.is_(None)))
        if kind:
            conds.append(events.c.kind.in_(kind.split(",")))
        if before is not None:
            conds.append(events.c.id < before)
        if conds:
            q = q.where(and_(*conds))
        q = q.order_by(events.c.start.asc() if oldest_first else events.c.start.desc(), events.c.id.desc())
        with self.engine.connect() as conn:
            return [_out(r._mapping) for r in conn.execute(q.limit(limit))]

    def get(self, event_id: int) -> dict | None:
        with self.engine.connect() as conn:
            r = conn.execute(select(events).where(events.c.id == event_id)).first()
            return _out(r._mapping) if r is not None else None

    def files(self, camera: str, older_than: float | None = None, limit: int = 500) -> list[dict]:
        """The camera's closed events, oldest first (retention), optionally only those before a time."""
        conds = [events.c.camera == camera, events.c.status != "open"]
        if older_than is not None:
            conds.append(events.c.start < older_than)
        q = select(events.c.id, events.c.start, events.c.snapshot, events.c.clip).where(and_(*conds))
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q.order_by(events.c.start.asc()).limit(limit))]

    def dispose(self) -> None:
        self.engine.dispose()


def _row(values: dict) -> dict:
    out = dict(values)
    for k in ("track_ids", "detail"):
        if k in out and not isinstance(out[k], (str, type(None))):
            out[k] = json.dumps(out[k], default=str)
    return out


def _out(m) -> dict:
    d = dict(m)
    for k in ("track_ids", "detail"):
        try:
            d[k] = json.loads(d[k]) if d.get(k) else ([] if k == "track_ids" else {})
        except ValueError:
            pass
    return d


def _first_line(exc: BaseException) -> str:
    s = str(getattr(exc, "orig", None) or exc).strip()
    return s.splitlines()[0] if s else type(exc).__name__


def _safe(url: str) -> str:
    from classicseg.watch.config import redact

    return redact(url).replace("postgresql+psycopg://", "postgresql://")


class Writer:
    """A thread that applies database operations in order; an operation that fails (the
    database is down, the disk is full) is retried, with the ones behind it waiting, so
    nothing is lost while the process lives. ``put`` never blocks; past ``max_pending``
    operations the oldest are dropped with a warning."""

    def __init__(self, db: Database, max_pending: int = 100_000) -> None:
        self.db = db
        self.ops: deque = deque()
        self.max_pending = max_pending
        self.cv = threading.Condition()
        self.failing_since: float | None = None
        self.dropped = 0
        self._stop = False
        self.thread = threading.Thread(target=self._run, name="db-writer", daemon=True)
        self.thread.start()

    def put(self, op: Callable[[Database], None]) -> None:
        with self.cv:
            if len(self.ops) >= self.max_pending:
                self.ops.popleft()
                self.dropped += 1
                if self.dropped in (1, 10, 100) or self.dropped % 1000 == 0:
                    log.warning("database: %d operations dropped (it has been failing)", self.dropped)
            self.ops.append(op)
            self.cv.notify()

    @property
    def pending(self) -> int:
        return len(self.ops)

    def _run(self) -> None:
        delay = 0.5
        while True:
            with self.cv:
                while not self.ops and not self._stop:
                    self.cv.wait()
                if not self.ops:
                    return
                op = self.ops[0]
            try:
                op(self.db)
            except (SQLAlchemyError, ClassicsegError, OSError) as exc:
                if self.failing_since is None:
                    self.failing_since = time.time()
                    log.warning("database write failed, retrying (nothing is lost while this process runs): %s",
                                _first_line(exc))
                with self.cv:
                    if self._stop and time.time() - self.failing_since > 5:
                        return
                    self.cv.wait(delay)
                delay = min(delay * 2, 10.0)
                continue
            except Exception:  # noqa: BLE001 - a bug in one operation must not stop the others
                log.exception("database operation failed")
            if self.failing_since is not None:
                log.warning("database writes work again after %.0f s", time.time() - self.failing_since)
                self.failing_since = None
            delay = 0.5
            with self.cv:
                self.ops.popleft()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every operation is applied (or ``timeout``)."""
        end = time.monotonic() + timeout
        while self.ops and time.monotonic() < end and self.thread.is_alive():
            time.sleep(0.02)
        return not self.ops

    def close(self, timeout: float = 10.0) -> None:
        self.flush(timeout)
        with self.cv:
            self._stop = True
            self.cv.notify()
        self.thread.join(timeout=1.0)
