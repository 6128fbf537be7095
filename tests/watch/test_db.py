"""The events database on SQLite and on a real PostgreSQL server started by the test."""
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

pytest.importorskip("sqlalchemy", reason="classicseg[watch] is not installed")
pytest.importorskip("tornado", reason="classicseg[watch] is not installed")
from sqlalchemy import text

from classicseg.watch.db import SCHEMA_VERSION, Database, Writer

V1 = """CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, camera VARCHAR(64) NOT NULL,
kind VARCHAR(32) NOT NULL, zone VARCHAR(128), start FLOAT NOT NULL, "end" FLOAT, stream_start FLOAT,
stream_end FLOAT, start_frame INTEGER, end_frame INTEGER, peak_share FLOAT, track_ids TEXT,
snapshot VARCHAR(512), clip VARCHAR(512), status VARCHAR(16) NOT NULL, detail TEXT)"""


def _exercise(db: Database) -> None:
    assert db.migrate() == 0
    assert db.migrate() == SCHEMA_VERSION  # a second start finds it current
    a = db.insert({"camera": "road", "kind": "motion", "start": 100.0, "status": "open", "track_ids": [1, 2],
                   "updated": 103.5, "clip": "clips/road/a.mp4"})
    b = db.insert({"camera": "road", "kind": "enter", "zone": "door", "start": 101.0, "end": 101.0,
                   "status": "closed", "detail": {"box": [1, 2, 3, 4]}})
    c = db.insert({"camera": "yard", "kind": "motion", "start": 102.0, "status": "open"})
    db.update(b, {"snapshot": "snapshots/road/b.jpg"})
    assert [r["id"] for r in db.query()] == [c, b, a]
    assert [r["id"] for r in db.query(camera="road", kind="enter")] == [b]
    assert [r["id"] for r in db.query(since=101.5)] == [c, a]  # started later, or still open
    got = db.get(b)
    assert got["detail"] == {"box": [1, 2, 3, 4]} and got["snapshot"] == "snapshots/road/b.jpg"
    assert db.get(a)["track_ids"] == [1, 2]
    assert db.close_open("road") == 1
    ra = db.get(a)
    assert (ra["status"], ra["end"]) == ("interrupted", 103.5)  # closed at its last sign of life
    assert db.get(c)["status"] == "open"
    db.drop_clip("clips/road/a.mp4")
    assert db.get(a)["clip"] is None
    db.delete([a])
    assert db.get(a) is None
    w = Writer(db)
    ids = []
    for i in range(20):
        w.put(lambda d, i=i: ids.append(d.insert({"camera": "w", "kind": "motion", "start": float(i),
                                                   "status": "closed"})))
    w.close()
    assert len(ids) == 20 and [r["start"] for r in db.query(camera="w", limit=5)] == [19.0, 18.0, 17.0, 16.0, 15.0]
    assert db.integrity_check() == "ok"


def test_sqlite_in_wal_mode(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'events.db'}")
    _exercise(db)
    with db.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"


def test_an_older_schema_is_migrated_and_a_newer_one_refused(tmp_path):
    import sqlite3

    path = tmp_path / "events.db"
    con = sqlite3.connect(path)
    con.execute(V1)
    con.execute("INSERT INTO events (camera, kind, start, status) VALUES ('road', 'motion', 5.0, 'closed')")
    con.commit()
    con.close()
    db = Database(f"sqlite:///{path}")
    assert db.migrate() == 1
    assert db.get(1)["camera"] == "road" and "updated" in db.get(1)  # kept, with the new column
    db.insert({"camera": "road", "kind": "motion", "start": 6.0, "status": "open", "updated": 7.0})
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE classicseg_meta SET value='99' WHERE key='schema_version'"))
    from classicseg.errors import ConfigError

    with pytest.raises(ConfigError, match="has schema 99, newer than this classicseg's"):
        db.migrate()


def test_writer_retries_until_the_database_works_again(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'events.db'}")
    db.migrate()
    fails = {"n": 3}

    def flaky(d):
        if fails["n"]:
            fails["n"] -= 1
            raise OSError(28, "No space left on device")
        d.insert({"camera": "x", "kind": "motion", "start": 1.0, "status": "closed"})

    w = Writer(db)
    w.put(flaky)
    w.put(lambda d: d.insert({"camera": "x", "kind": "motion", "start": 2.0, "status": "closed"}))
    assert w.flush(15.0)
    w.close()
    assert [r["start"] for r in db.query(camera="x", oldest_first=True)] == [1.0, 2.0]  # in order, nothing lost


# -- a real PostgreSQL server --------------------------------------------------------
def _pg_bin():
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return os.path.dirname(found[-1]) if found else None


@pytest.fixture(scope="module")
def postgres():
    bindir = _pg_bin()
    if bindir is None:
        pytest.skip("PostgreSQL is not installed (apt-get install -y postgresql gives initdb and pg_ctl)")
    pytest.importorskip("psycopg", reason="psycopg is not installed (pip install 'classicseg[watch]')")
    user = None
    if os.geteuid() == 0:  # initdb refuses root: run the server as an unprivileged user
        for name in ("postgres", "nobody"):
            try:
                user = pwd.getpwnam(name)
                break
            except KeyError:
                continue
        if user is None:
            pytest.skip("running as root and no unprivileged user (postgres, nobody) to run PostgreSQL as")
    root = tempfile.mkdtemp(prefix="classicseg-pg-", dir="/tmp")
    os.chmod(root, 0o755)
    data = os.path.join(root, "data")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    def as_user(argv):
        if user is not None:
            return subprocess.run(argv, capture_output=True, text=True, timeout=60,
                                  preexec_fn=lambda: (os.setgid(user.pw_gid), os.setuid(user.pw_uid)),
                                  env={"PATH": "/usr/bin:/bin", "HOME": root, "LC_ALL": "C"})
        return subprocess.run(argv, capture_output=True, text=True, timeout=60)

    if user is not None:
        os.chown(root, user.pw_uid, user.pw_gid)
    r = as_user([f"{bindir}/initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8"])
    if r.returncode:
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"initdb failed: {r.stderr.strip()[-300:]}")
    r = as_user([f"{bindir}/pg_ctl", "-D", data, "-l", os.path.join(root, "log"), "-w", "-t", "30", "-o",
                 f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off", "start"])
    if r.returncode:
        log = open(os.path.join(root, "log")).read()[-500:] if os.path.exists(os.path.join(root, "log")) else ""
        shutil.rmtree(root, ignore_errors=True)
        pytest.skip(f"PostgreSQL did not start: {r.stderr.strip()[-300:]} {log}")
    try:
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={port} user=postgres dbname=postgres", autocommit=True) as c:
            c.execute("CREATE DATABASE watch")
        yield f"postgresql://postgres@127.0.0.1:{port}/watch"
    finally:
        as_user([f"{bindir}/pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"])
        shutil.rmtree(root, ignore_errors=True)


def test_postgresql(postgres, tmp_path):
    from classicseg.watch.config import load

    cfg_file = tmp_path / "watch.yaml"
    video = tmp_path / "v.mp4"
    video.write_bytes(b"")
    cfg_file.write_text(f"storage: {tmp_path}\ndatabase: {postgres}\ncameras:\n  a:\n    input: {video}\n")
    from classicseg.watch.config import database_url

    url = database_url(load(cfg_file))
    assert url.startswith("postgresql+psycopg://")
    db = Database(url)
    t0 = time.time()
    _exercise(db)
    assert time.time() - t0 < 30
    db.dispose()
