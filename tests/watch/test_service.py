"""The service as a user runs it (``python -m classicseg watch -c FILE``), and its faults:
a camera process SIGKILLed, the whole service killed, a stream that stops and comes back,
100 clients on the live page, a video that ends; the page in a real browser."""
import os
import shutil
import signal
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np
import pytest

pytest.importorskip("sqlalchemy", reason="classicseg[watch] is not installed")
pytest.importorskip("tornado", reason="classicseg[watch] is not installed")

from tests.watch.conftest import Service, camera_yaml, events_db, free_port, make_video, write_config


def _fetch(url, timeout=5.0):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.headers.get("Content-Type"), r.read()


def _mjpeg_frames(url, n, timeout=20.0):
    """Read ``n`` JPEG parts of an MJPEG stream; returns them."""
    out, buf = [], b""
    with urllib.request.urlopen(url, timeout=timeout) as r:
        assert r.headers["Content-Type"].startswith("multipart/x-mixed-replace")
        end = time.time() + timeout
        while len(out) < n and time.time() < end:
            buf += r.read1(65536)
            while True:
                a = buf.find(b"\xff\xd8")
                b = buf.find(b"\xff\xd9", a + 2)
                if a < 0 or b < 0:
                    break
                out.append(buf[a:b + 2])
                buf = buf[b + 2:]
    return out


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    folder = tmp_path_factory.mktemp("service")
    loop_video = make_video(folder / "loop.mp4", n_frames=60, seed=1)
    once_video = make_video(folder / "once.mp4", n_frames=40, seed=2)
    port = free_port()
    cfg = write_config(folder, camera_yaml("yard", loop_video, loop=True,
                                           zones={"left": [[0, 120], [160, 120], [160, 240], [0, 240]]})
                       + camera_yaml("gate", once_video), port=port, min_free_gb=0, restart_delay=0.5)
    svc = Service(cfg, port)
    try:
        svc.wait(lambda: len(svc.get("/api/cameras")) == 2, 30, "the API")
        yield svc
    finally:
        code = svc.stop()
        assert code == 0, svc.text()[-2000:]


def test_page_api_snapshot_clip(service):
    ev = service.wait(lambda: [e for e in service.get("/api/events?camera=yard&kind=motion")
                               if e["end"] and e["clip"] and e["snapshot"]], 40, "a finished motion event")[-1]
    assert {"id", "camera", "kind", "start", "end", "snapshot", "clip"} <= set(ev)
    assert ev["start"].endswith("Z") and ev["camera"] == "yard"
    assert service.get(f"/api/events/{ev['id']}")["id"] == ev["id"]
    status, ctype, data = _fetch(service.url + ev["snapshot"])
    assert status == 200 and ctype == "image/jpeg" and cv2.imdecode(np.frombuffer(data, np.uint8), 1) is not None
    time.sleep(1.5)  # the clip's post-capture
    status, ctype, data = _fetch(service.url + ev["clip"])
    assert status == 200 and ctype == "video/mp4" and data[4:8] == b"ftyp"
    since = service.get(f"/api/events?since={ev['start']}&camera=yard")
    assert ev["id"] in [e["id"] for e in since]
    status, ctype, page = _fetch(service.url + "/")
    assert b"classicseg watch" in page and ctype.startswith("text/html")
    status, ctype, snap = _fetch(service.url + "/cameras/yard/snapshot.jpg")
    assert ctype == "image/jpeg" and cv2.imdecode(np.frombuffer(snap, np.uint8), 1).shape == (240, 320, 3)
    with pytest.raises(urllib.error.HTTPError) as info:
        _fetch(service.url + "/cameras/nope/snapshot.jpg")
    assert info.value.code == 404
    with pytest.raises(urllib.error.HTTPError) as info:  # the database is not served
        _fetch(service.url + "/media/events.db")
    assert info.value.code == 404


def test_a_video_that_ends_finishes_and_the_service_stays_up(service):
    cams = service.wait(lambda: {c["name"]: c for c in service.get("/api/cameras")
                                 if c["name"] == "gate" and c["state"] == "finished"}, 40, "gate to finish")
    assert cams["gate"]["restarts"] == 0
    rows = service.get("/api/events?camera=gate")
    assert rows and all(e["end"] for e in rows)  # its open event was closed at the end
    assert service.get("/api/cameras")  # still serving


def test_100_clients_on_the_live_page(service):
    results, errors = [], []

    def client(i):
        try:
            if i % 2:
                results.append(len(_mjpeg_frames(service.url + "/cameras/yard/stream.mjpg", 3)))
            else:
                status, _, body = _fetch(service.url + ("/api/events" if i % 4 else "/"), 20)
                results.append(status)
        except Exception as exc:  # noqa: BLE001
            errors.append(repr(exc))

    t0 = time.time()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors[:3]
    assert len(results) == 100 and results.count(3) == 50 and results.count(200) == 50
    assert time.time() - t0 < 40
    assert service.get("/api/cameras")[0]["state"] == "running"


def test_a_camera_process_killed_is_restarted(service):
    yard = service.wait(lambda: next((c for c in service.get("/api/cameras") if c["name"] == "yard"
                                      and c["state"] == "running"), None), 30, "yard running")
    before = yard["restarts"]
    os.kill(yard["pid"], signal.SIGKILL)
    back = service.wait(lambda: next((c for c in service.get("/api/cameras") if c["name"] == "yard"
                                      and c["restarts"] > before and c["state"] == "running"), None), 30,
                        "yard restarted")
    assert back["pid"] != yard["pid"] and "SIGKILL" in back["last_exit"]
    assert "killed by SIGKILL" in service.text()
    t_restart = time.time()
    service.wait(lambda: [e for e in service.get("/api/events?camera=yard&kind=motion")
                          if e["end"] and _epoch(e["start"]) > t_restart - 1], 40, "an event after the restart")
    with events_db(service.config) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        open_before = con.execute("SELECT count(*) FROM events WHERE camera='yard' AND status='open' "
                                  "AND start < ?", (t_restart - 5,)).fetchone()[0]
    assert open_before == 0  # what the killed process left open was closed
    clips = service.config.parent / "store" / "clips" / "yard"
    assert not [p for p in clips.rglob("*") if ".part" in p.name and p.stat().st_mtime < t_restart - 1]
    for p in clips.rglob("[!.]*.mp4"):  # every clip in place is complete (not the one being recorded)
        cap = cv2.VideoCapture(str(p))
        ok, _ = cap.read()
        cap.release()
        assert ok, p


def _epoch(iso):
    from datetime import datetime

    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def test_page_in_a_real_browser(service, chromium_browser):
    context = chromium_browser.new_context()  # JavaScript on: the live page updates itself
    try:
        page = context.new_page()
        page.goto(service.url + "/", wait_until="domcontentloaded", timeout=20000)
        assert page.title() == "classicseg watch"
        page.wait_for_function("() => { const i = document.getElementById('stream-yard');"
                               " return i && i.naturalWidth === 320; }", timeout=20000)
        page.wait_for_selector("tr.event", timeout=30000)
        row = page.locator("tr.event").first.inner_text()
        assert "yard" in row or "gate" in row
        page.screenshot(path=str(service.config.parent / "page.png"))
    finally:
        context.close()


# -- separate services -------------------------------------------------------------
def test_the_whole_service_killed_and_restarted(tmp_path, scene_video):
    port = free_port()
    cfg = write_config(tmp_path, camera_yaml("yard", scene_video, loop=True, event_gap=30), port=port)
    svc = Service(cfg, port)
    svc.wait(lambda: [e for e in svc.get("/api/events?kind=motion") if e["end"] is None], 40, "an open event")
    svc.stop(signal.SIGKILL)  # the service and its camera processes at once
    with events_db(cfg) as con:
        assert con.execute("SELECT count(*) FROM events WHERE status='open'").fetchone()[0] >= 1
    svc = Service(cfg, port)
    try:
        svc.wait(lambda: svc.get("/api/cameras"), 30, "the API again")
        old = svc.get("/api/events?kind=motion&limit=1000")
        closed = [e for e in old if e["status"] == "interrupted"]
        assert closed and all(e["end"] and e["end"] >= e["start"] for e in closed)
        assert "left open when the service last stopped" in svc.text()
        with events_db(cfg) as con:
            assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        assert svc.stop() == 0
    with events_db(cfg) as con:  # a clean stop closes what is open
        assert con.execute("SELECT count(*) FROM events WHERE status='open'").fetchone()[0] == 0
    assert not list((tmp_path / "store" / "clips").rglob(".*part*"))


class _Blinking(BaseHTTPRequestHandler):
    """MJPEG at 10 frames/s: a square that moves for 1.5 s, then nothing for 1.5 s."""

    stopped = False

    def log_message(self, *a):
        pass

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
        self.end_headers()
        try:
            while not _Blinking.stopped:
                i = int(time.time() * 10)
                f = np.full((48, 64, 3), 100, np.uint8)
                if (i // 15) % 2 == 0:
                    x = (i * 3) % 50
                    f[16:32, x:x + 12] = 230
                ok, buf = cv2.imencode(".jpg", f)
                self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(buf)
                                 + buf.tobytes() + b"\r\n")
                time.sleep(0.1)
        except (BrokenPipeError, ConnectionResetError):
            pass


def _serve(port):
    _Blinking.stopped = False
    httpd = ThreadingHTTPServer(("127.0.0.1", port), _Blinking)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd


def _halt(httpd):
    _Blinking.stopped = True
    httpd.shutdown()
    httpd.server_close()


def test_a_stream_that_stops_and_comes_back(tmp_path):
    cam_port, port = free_port(), free_port()
    httpd = _serve(cam_port)
    cfg = write_config(tmp_path, camera_yaml(
        "street", f"http://127.0.0.1:{cam_port}/stream.mjpg", threshold=0.01,
        set=["source.reconnect_delay_s=0.2", "source.open_timeout_ms=1000", "source.read_timeout_ms=1000"]),
        port=port)
    svc = Service(cfg, port)
    try:
        svc.wait(lambda: [e for e in svc.get("/api/events?kind=motion") if e["end"]], 40, "an event before the gap")
        _halt(httpd)
        time.sleep(3.0)
        t_back = time.time()
        httpd = _serve(cam_port)
        gap = svc.wait(lambda: svc.get("/api/events?kind=gap"), 30, "the gap recorded")[0]
        assert gap["detail"]["seconds"] >= 2.5 and gap["end"]
        svc.wait(lambda: [e for e in svc.get("/api/events?kind=motion") if e["end"]
                          and _epoch(e["start"]) > t_back], 30, "an event after the gap")
        cam = svc.get("/api/cameras")[0]
        assert cam["reconnects"] >= 1 and cam["restarts"] == 0
        assert "the stream stopped and came back" in svc.text()
    finally:
        _halt(httpd)
        svc.stop()
