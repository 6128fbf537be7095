"""Helpers of the watch tests: short generated videos, a service started as a user would
(``python -m classicseg watch``), waiting on its API."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import cv2
import pytest

REPO = Path(__file__).resolve().parents[2]


def make_video(path, n_frames=80, fps=10.0, seed=0, width=320, height=240, n_objects=4):
    """A short fixed-camera scene (classicseg.synth) as an MP4: objects from the 6th frame."""
    from classicseg.synth import make_scene

    scene = make_scene(n_frames=n_frames, width=width, height=height, fps=fps, seed=seed, n_objects=n_objects,
                       warmup=5, drift=0.0)
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    for frame, _ in scene.frames():
        w.write(frame)
    w.release()
    return Path(path)


@pytest.fixture(scope="session")
def scene_video(tmp_path_factory):
    return make_video(tmp_path_factory.mktemp("video") / "scene.mp4")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def camera_yaml(name, video, **extra) -> str:
    keys = {"input": str(video), "preset": "surveillance-fast", "warmup": 0.3, "event_gap": 0.5, "pre_capture": 0.5,
            "post_capture": 0.5, **extra}
    lines = [f"  {name}:"] + [f"    {k}: {json.dumps(v)}" for k, v in keys.items()]
    return "\n".join(lines) + "\n"


def write_config(folder, cameras: str, port=None, **top) -> Path:
    folder = Path(folder)
    text = f"storage: {folder / 'store'}\nhttp: {'127.0.0.1:%d' % port if port else 'off'}\n"
    text += "".join(f"{k}: {json.dumps(v)}\n" for k, v in top.items())
    text += "cameras:\n" + cameras
    p = folder / "watch.yaml"
    p.write_text(text)
    return p


class Service:
    """``classicseg watch -c FILE`` in a child process (its own process group)."""

    def __init__(self, config: Path, port: int | None):
        self.config, self.port = config, port
        env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        self.log = open(config.parent / "service.log", "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "classicseg", "watch", "-c", str(config)], env=env,
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True, cwd=REPO)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path, timeout=5.0):
        with urllib.request.urlopen(self.url + path, timeout=timeout) as r:
            return json.loads(r.read())

    def wait(self, pred, timeout=30.0, what="condition"):
        end = time.time() + timeout
        last = None
        while time.time() < end:
            if self.proc.poll() is not None:
                raise AssertionError(f"service exited ({self.proc.returncode}): {self.text()[-2000:]}")
            try:
                last = pred()
                if last:
                    return last
            except OSError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what} (last {last!r}); log:\n{self.text()[-3000:]}")

    def text(self) -> str:
        return (self.config.parent / "service.log").read_text(errors="replace")

    def stop(self, sig=signal.SIGTERM, timeout=20.0) -> int:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig) if sig == signal.SIGKILL else self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        if sig == signal.SIGKILL:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)  # the camera processes too
            except ProcessLookupError:
                pass
        self.log.close()
        return self.proc.returncode


def events_db(config: Path):
    import sqlite3

    return sqlite3.connect(str(config.parent / "store" / "events.db"), timeout=10)
