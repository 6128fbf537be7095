"""Cameras and streams that run for days: reconnect, stall, live mode.

A real local MJPEG-over-HTTP server (standard library only) is started, stopped and
restarted by the tests; the pipeline must resume on its own and keep its model.
"""
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np
import pytest

from classicseg.errors import SourceError
from classicseg.io.sources import open_source
from classicseg.stages.bgsub.opencv import MOG2


class MJPEGServer:
    """Serves ``multipart/x-mixed-replace`` JPEG frames: a square moving over a still scene."""

    def __init__(self, port: int = 0, fps: float = 60.0):
        self.port, self.fps = port, fps
        self.stalled = False  # connections stay open but no frame is sent
        self.httpd = None

    def start(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                i = 0
                try:
                    while not server.stopped:
                        if server.stalled:
                            time.sleep(0.05)
                            continue
                        f = np.full((48, 64, 3), 100, np.uint8)
                        x = (i * 2) % 56
                        f[20:28, x:x + 8] = 230
                        ok, buf = cv2.imencode(".jpg", f)
                        self.wfile.write(b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n"
                                         % len(buf) + buf.tobytes() + b"\r\n")
                        i += 1
                        time.sleep(1 / server.fps)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.stopped = False
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def stop(self):
        self.stopped = True
        self.httpd.shutdown()
        self.httpd.server_close()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/stream.mjpg"


def _take(it, n):
    return [next(it) for _ in range(n)]


def test_stream_reconnects_and_the_model_lives_on():
    server = MJPEGServer().start()
    try:
        src = open_source(server.url, open_timeout_ms=1000, read_timeout_ms=1000, reconnect_delay_s=0.2,
                          give_up_after_s=20)
        stage = MOG2(history=50)
        model = stage.model
        it = iter(src)
        for s in _take(it, 40):
            stage.process(s)
        server.stop()  # the camera goes away ...
        restart = threading.Timer(1.0, server.start)  # ... and comes back on the same port
        restart.start()
        after = _take(it, 40)
        for s in after:
            out = stage.process(s)
        assert src.reconnects >= 1
        assert stage.model is model and stage.t == 80  # same model, still counting frames
        # the background learned before the outage still holds: only the square is foreground
        assert out["fg"].mean() < 0.1
        assert [s.name for s in after][-1] > "000040"
    finally:
        server.stop()


def test_stream_that_never_opens():
    with pytest.raises(SourceError, match="cannot open stream http://127.0.0.1:9/none.mjpg"):
        open_source("http://127.0.0.1:9/none.mjpg", open_timeout_ms=500)


def test_stream_that_stalls_for_ever_gives_up(caplog):
    server = MJPEGServer().start()
    try:
        src = open_source(server.url, open_timeout_ms=500, read_timeout_ms=500, reconnect_delay_s=0.2,
                          give_up_after_s=2.0)
        it = iter(src)
        _take(it, 5)
        server.stalled = True
        t0 = time.monotonic()
        with pytest.raises(SourceError, match=r"no frame for \d+ s and it cannot be reopened; giving up"):
            _take(it, 1000)
        assert time.monotonic() - t0 < 15
        assert "reconnecting" in caplog.text
    finally:
        server.stop()


def test_live_mode_keeps_the_newest_frame_and_counts_drops():
    server = MJPEGServer(fps=100).start()
    try:
        src = open_source(server.url, open_timeout_ms=1000, read_timeout_ms=1000, live=True)
        it = iter(src)
        names = []
        for _ in range(5):
            names.append(next(it).name)
            time.sleep(0.15)  # a slow consumer
        assert src.dropped > 0
        nums = [int(n) for n in names]
        assert nums == sorted(nums) and nums[-1] - nums[0] > 4  # frames were skipped, order kept
    finally:
        server.stop()
