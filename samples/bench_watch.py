"""Load benchmark of ``classicseg watch`` (a benchmark, not a test): how many 640x480 cameras
at 10 frames/s a preset sustains with no dropped frames, the CPU share of recording and
of the web server, and memory over a long looped run.

Each camera is a generated 640x480 scene (classicseg.synth) played at 10 frames/s and
looped, so it behaves like a camera that delivers frames on time and drops what the
pipeline cannot take. For N = 1, 2, ... cameras the service runs for ``--seconds``; a
count passes when no camera dropped more than ``--tolerance`` of its frames after its
warm-up (the first frame compiles numba kernels). CPU per process comes from
/proc/<pid>/stat; the recording share is the camera process's CPU with recording on
minus with it off (``pre_capture``/``post_capture`` 0 and no events), the web server's
is the supervisor's CPU while ``--clients`` MJPEG clients watch every camera.

    nice -n 10 python samples/bench_watch.py --preset surveillance-fast --max-cameras 6
    nice -n 10 python samples/bench_watch.py --memory 1000000 --size 320x240   # frames at full speed

Run it niced on a shared machine; it prints a table and writes JSON with --json.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TICK = os.sysconf("SC_CLK_TCK")


def make_video(path: Path, seconds: float = 20, fps: float = 10, seed: int = 0, size=(640, 480)) -> Path:
    import cv2

    from classicseg.synth import make_scene

    n = int(seconds * fps)
    scene = make_scene(n_frames=n, width=size[0], height=size[1], fps=fps, seed=seed, n_objects=6, warmup=10)
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    for frame, _ in scene.frames():
        w.write(frame)
    w.release()
    return path


def cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except (OSError, IndexError):
        return 0.0


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def watch_clients(url: str, stop: threading.Event) -> None:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            while not stop.is_set():
                if not r.read1(65536):
                    return
    except Exception:  # noqa: BLE001 - the service stopping ends the stream
        pass


def run_service(videos: list[Path], preset: str, seconds: float, record: bool, clients: int, warm: float) -> dict:
    folder = Path(tempfile.mkdtemp(prefix="bench-watch-"))
    port = free_port()
    lines = [f"storage: {folder / 'store'}", f"http: 127.0.0.1:{port}", "min_free_gb: 0", "cameras:"]
    for i, v in enumerate(videos):
        lines += [f"  cam{i}:", f"    input: {v}", f"    preset: {preset}", "    loop: true", "    threads: 1",
                  "    event_gap: 1"]
        if record:
            lines += ["    pre_capture: 2", "    post_capture: 3"]
        else:
            lines += ["    pre_capture: 0", "    post_capture: 0", "    threshold: 1.0", "    min_frames: 1000"]
    cfg = folder / "watch.yaml"
    cfg.write_text("\n".join(lines) + "\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    log = open(folder / "service.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "classicseg", "watch", "-c", str(cfg)], env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    stop = threading.Event()
    try:
        end = time.time() + 60
        while time.time() < end:
            try:
                cams = get(base + "/api/cameras")
                if all(c["state"] == "running" for c in cams):
                    break
            except OSError:
                pass
            time.sleep(0.5)
        time.sleep(warm)  # numba compiles on the first frames
        for c in cams:
            for _ in range(clients):
                threading.Thread(target=watch_clients, args=(base + c["stream"], stop), daemon=True).start()
        before = {c["name"]: c for c in get(base + "/api/cameras")}
        pids = {c["name"]: c["pid"] for c in before.values()}
        cpu0 = {n: cpu_seconds(p) for n, p in pids.items()}
        sup0 = cpu_seconds(proc.pid)
        t0 = time.time()
        time.sleep(seconds)
        dt = time.time() - t0
        after = {c["name"]: c for c in get(base + "/api/cameras")}
        out = {"cameras": len(videos), "seconds": round(dt, 1), "record": record, "clients_per_camera": clients}
        rows = []
        for n in pids:
            frames = after[n]["frames"] - before[n]["frames"]
            dropped = after[n]["dropped"] - before[n]["dropped"]
            rows.append({"camera": n, "frames": frames, "dropped": dropped,
                         "dropped_share": round(dropped / max(frames + dropped, 1), 4),
                         "fps": round(frames / dt, 2), "cpu": round((cpu_seconds(pids[n]) - cpu0[n]) / dt, 3),
                         "rss_mb": round(rss_mb(pids[n]), 1), "restarts": after[n]["restarts"]})
        out["per_camera"] = rows
        out["supervisor_cpu"] = round((cpu_seconds(proc.pid) - sup0) / dt, 3)
        events = get(base + "/api/events?limit=1000")
        out["events"] = len(events)
        return out
    finally:
        stop.set()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def memory_run(video: Path, preset: str, frames: int) -> dict:
    """The camera's sinks in this process over a looped file at full speed: RSS growth."""
    from dataclasses import replace

    import cv2

    from classicseg import session
    from classicseg.config import zones_of
    from classicseg.watch.config import CameraConfig, camera_spec
    from classicseg.watch.db import Database, Writer
    from classicseg.watch.hooks import Hooks
    from classicseg.watch.recorder import LiveSink, Recorder

    class Viewers:
        value = 1

    cv2.setNumThreads(1)
    folder = Path(tempfile.mkdtemp(prefix="bench-watch-mem-"))
    cam = CameraConfig(input=str(video), preset=preset, loop=True, event_gap=1, max_storage_gb=0.2)
    spec = camera_spec(cam)
    spec = replace(spec, source=spec.source.model_copy(update={"realtime": False, "live": False}))
    db = Database(f"sqlite:///{folder / 'events.db'}")
    db.migrate()
    writer = Writer(db)
    rec = Recorder("mem", cam, folder, writer, Hooks({}), 10.0, zones_of(spec), min_free_bytes=0, db=db,
                   retention_s=10)
    live = LiveSink(lambda *a: None, Viewers(), 10.0)
    marks = []
    t0 = time.time()

    def on_sample(s):
        if s.index % 10000 == 0 or s.index == 2000:
            marks.append((s.index, round(rss_mb(os.getpid()), 1), round(time.time() - t0, 1)))
            print(f"  frame {s.index}: rss {marks[-1][1]} MB, {marks[-1][2]} s", file=sys.stderr, flush=True)

    res = session.run(session.Request(input=str(video), spec=spec, sinks=(rec, live), max_frames=frames,
                                      on_sample=on_sample, on_source=rec.set_source))
    writer.close()
    after_warm = next((m for m in marks if m[0] >= 2000), marks[0])
    return {"frames": res.frames, "seconds": round(time.time() - t0, 1), "rss_marks": marks,
            "rss_growth_mb_after_2k": round(marks[-1][1] - after_warm[1], 1), "events": len(db.query(limit=100000))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", default="surveillance-fast")
    ap.add_argument("--max-cameras", type=int, default=6)
    ap.add_argument("--start", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--warm", type=float, default=8)
    ap.add_argument("--tolerance", type=float, default=0.01, help="dropped share still counted as none (jitter)")
    ap.add_argument("--clients", type=int, default=1, help="MJPEG clients per camera")
    ap.add_argument("--cpu-split", action="store_true", help="also run 1 camera without recording / clients")
    ap.add_argument("--memory", type=int, default=0, help="frames of a looped in-process run (memory growth)")
    ap.add_argument("--size", default="640x480", help="frame size of the generated videos, WxH")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-watch-videos-"))
    results = {"preset": a.preset, "runs": []}
    size = tuple(int(v) for v in a.size.lower().split("x"))
    if a.memory:
        video = make_video(work / "v0.mp4", seconds=30, fps=10, seed=0, size=size)
        results["memory"] = memory_run(video, a.preset, a.memory)
        print(json.dumps(results["memory"], indent=1))
    else:
        videos = [make_video(work / f"v{i}.mp4", seed=i, size=size) for i in range(a.max_cameras)]
        if a.cpu_split:
            for record, clients in ((False, 0), (True, 0), (True, a.clients)):
                r = run_service(videos[:1], a.preset, a.seconds, record, clients, a.warm)
                results["runs"].append(r)
                c = r["per_camera"][0]
                print(f"1 camera, record={record}, clients={clients}: camera cpu {c['cpu']:.3f}, supervisor cpu "
                      f"{r['supervisor_cpu']:.3f}, fps {c['fps']}, dropped {c['dropped']}", flush=True)
        else:
            for n in range(a.start, a.max_cameras + 1):
                r = run_service(videos[:n], a.preset, a.seconds, True, a.clients, a.warm)
                results["runs"].append(r)
                worst = max(c["dropped_share"] for c in r["per_camera"])
                fps = min(c["fps"] for c in r["per_camera"])
                print(f"{n} camera(s): min fps {fps}, worst dropped share {worst:.3f}, camera cpu "
                      f"{[c['cpu'] for c in r['per_camera']]}, supervisor cpu {r['supervisor_cpu']}, "
                      f"events {r['events']}", flush=True)
                if worst > a.tolerance:
                    print(f"frames drop at {n} cameras: {a.preset} sustains {n - 1}", flush=True)
                    results["sustained"] = n - 1
                    break
            else:
                results["sustained"] = f">= {a.max_cameras}"
    if a.json:
        a.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
