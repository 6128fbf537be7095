"""The annotate server: its JSON API, concurrent saves, and the page in a real headless Chromium."""
import json
import os
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from classicseg.annotate.server import Project, make_server
from classicseg.errors import ClassicsegError
from classicseg.io.masks import read_indexed_mask
from tests.stages.test_vos import _clip, _iou



@pytest.fixture
def served(tmp_path):
    frames, masks = _clip(n=10)
    project = Project([(f"{i:05d}", f) for i, f in enumerate(frames)], tmp_path / "out")
    server = make_server(project, "127.0.0.1", 0)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    host, port = server.server_address
    yield f"http://{host}:{port}", project, masks, tmp_path / "out"
    server.shutdown()
    server.server_close()


def _call(url, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _box(mask, pad=3):
    ys, xs = np.nonzero(mask)
    return [int(xs.min()) - pad, int(ys.min()) - pad, int(np.ptp(xs)) + 2 * pad + 1, int(np.ptp(ys)) + 2 * pad + 1]


def test_api_box_propagate_correct_save(served):
    url, project, masks, out = served
    assert project.kf is not None and url.startswith("http://127.0.0.1:")
    code, body = _call(url + "/")
    assert code == 200 and b"<canvas" in body
    state = json.loads(_call(url + "/api/state")[1])
    assert state["frames"] == 10 and state["width"] == 96 and state["keyframes"] == []
    code, body = _call(url + "/api/propagate", {})
    assert code == 400 and b"no keyframe yet" in body
    assert _call(url + "/api/seed", {"frame": 0, "id": 1, "box": _box(masks[0])})[0] == 200
    res = json.loads(_call(url + "/api/propagate", {})[1])
    assert res["recomputed"] == 9 and len(res["suggested"]) == 5
    code, body = _call(url + "/mask/5")
    assert code == 200 and body[:4] == b"\x89PNG"
    # correct frame 6 with a background stroke; only 1..5 and 7..9 are recomputed
    stroke = {"label": "bg", "radius": 3, "points": [[5, 5], [30, 5]]}
    assert _call(url + "/api/seed", {"frame": 6, "strokes": [stroke]})[0] == 200
    res = json.loads(_call(url + "/api/propagate", {})[1])
    assert res["recomputed"] == 8
    res = json.loads(_call(url + "/api/save", {"format": "davis"})[1])
    assert res["frames"] == 10
    for j in range(10):
        assert _iou(read_indexed_mask(out / "masks" / f"{j:05d}.png") > 0, masks[j]) > 0.8
    assert sorted(os.listdir(out / "keyframes")) == ["00000.png", "00006.png"]
    assert json.loads(_call(url + "/api/undo", {})[1]) == {"frame": 6}
    # bad requests: one-line errors
    code, body = _call(url + "/api/seed", {"frame": 99, "box": [1, 1, 5, 5]})
    assert code == 400 and json.loads(body)["error"] == "frame 99 does not exist (the video has 10 frames: 0..9)"
    code, body = _call(url + "/api/seed", {"frame": 2, "box": [200, 1, 5, 5]})
    assert code == 400 and "lies outside the 96x72 frame" in json.loads(body)["error"]
    code, body = _call(url + "/api/save", {"format": "yolo"})
    assert code == 400 and "format must be one of" in json.loads(body)["error"]


def test_concurrent_saves_leave_whole_files(served):
    url, project, masks, out = served
    project.seed(0, 1, _box(masks[0]))
    project.propagate()
    with ThreadPoolExecutor(6) as pool:
        codes = list(pool.map(lambda f: _call(url + "/api/save", {"format": f})[0], ["davis", "coco"] * 3))
    assert codes == [200] * 6
    names = sorted(os.listdir(out / "masks"))
    assert names == [f"{j:05d}.png" for j in range(10)]  # no temporary file left behind
    for n in names:
        read_indexed_mask(out / "masks" / n)  # each a whole PNG
    json.loads((out / "annotations.json").read_text())


def test_a_save_killed_midway_leaves_no_half_written_mask(tmp_path):
    """A server process killed while it writes: every mask on disk is either a whole new file
    or the old one, never a truncated PNG."""
    import multiprocessing as mp
    import signal
    import time

    frames, masks = _clip(n=6)
    out = tmp_path / "out"
    project = Project([(f"{i:05d}", f) for i, f in enumerate(frames)], out)
    project.seed(0, 1, _box(masks[0]))
    project.save("davis")  # the old files
    ctx = mp.get_context("fork")
    proc = ctx.Process(target=_save_forever, args=(project,))
    proc.start()
    time.sleep(1.5)
    os.kill(proc.pid, signal.SIGKILL)
    proc.join()
    for n in sorted(os.listdir(out / "masks")):
        if n.startswith("."):
            continue  # a temporary file the killed writer could not remove: never read as a mask
        read_indexed_mask(out / "masks" / n)
    assert sorted(n for n in os.listdir(out / "masks") if not n.startswith(".")) == [f"{j:05d}.png" for j in range(6)]


def _save_forever(project):
    while True:
        project.save("davis")


def test_project_errors(tmp_path):
    frames, _ = _clip(n=3)
    p = Project([(f"{i:05d}", f) for i, f in enumerate(frames)], tmp_path)
    with pytest.raises(ClassicsegError, match="nothing to undo"):
        p.undo()
    with pytest.raises(ClassicsegError, match="no object .give a box, a foreground stroke"):
        p.seed(1, 1, None, [{"label": "bg", "radius": 2, "points": [[3, 3]]}])
    with pytest.raises(ClassicsegError, match="stroke label must be fg, bg or erase"):
        p.seed(1, 1, None, [{"label": "paint", "points": [[3, 3]]}])
    with pytest.raises(ClassicsegError, match="object id must be 1..254"):
        p.seed(1, 300, [1, 1, 5, 5])


# --------------------------------------------------------------------------- browser
def _drag(page, canvas, a, b, steps=8):
    box = canvas.bounding_box()
    sx, sy = box["width"] / 96, box["height"] / 72
    page.mouse.move(box["x"] + a[0] * sx, box["y"] + a[1] * sy)
    page.mouse.down()
    page.mouse.move(box["x"] + b[0] * sx, box["y"] + b[1] * sy, steps=steps)
    page.mouse.up()


def _wait_done(page, label):
    page.wait_for_function(f"document.body.dataset.last === '{label}' && !document.body.dataset.error",
                           timeout=60000)
    page.evaluate("delete document.body.dataset.last")


def test_page_in_headless_chromium(served, chromium_browser):
    url, project, masks, out = served
    context = chromium_browser.new_context(viewport={"width": 900, "height": 500})  # JavaScript on
    try:
        page = context.new_page()
        page.goto(url + "/")
        page.wait_for_function("document.body.dataset.ready === '1'", timeout=30000)
        canvas = page.locator("#draw")
        # draw a box around the object on frame 0
        x, y, w, h = _box(masks[0])
        _drag(page, canvas, (x, y), (x + w, y + h))
        _wait_done(page, "box")
        assert project.kf.keys and 0 in project.kf.keys
        page.click("#propagate")
        _wait_done(page, "propagate")
        assert "frames in" in page.inner_text("#status")
        # go to frame 6 and correct it with a background stroke
        for _ in range(6):
            page.click("#next")
        page.wait_for_function("document.body.dataset.frame === '6'")
        page.click("button[data-tool=bg]")
        _drag(page, canvas, (5, 5), (40, 6))
        _wait_done(page, "bg")
        assert 6 in project.kf.keys
        page.click("#propagate")
        _wait_done(page, "propagate")
        page.select_option("#format", "coco")
        page.click("#save")
        _wait_done(page, "save")
        page.select_option("#format", "davis")
        page.click("#save")
        _wait_done(page, "save")
        page.screenshot(path=str(out / "page.png"))
    finally:
        context.close()
    names = sorted(os.listdir(out / "masks"))
    assert names == [f"{j:05d}.png" for j in range(10)]
    for j in range(10):
        assert _iou(read_indexed_mask(out / "masks" / f"{j:05d}.png") > 0, masks[j]) > 0.8
    coco = json.loads((out / "annotations.json").read_text())
    assert len(coco["images"]) == 10 and len(coco["annotations"]) == 10
    assert sorted(os.listdir(out / "keyframes")) == ["00000.png", "00006.png"]
