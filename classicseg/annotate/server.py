"""``classicseg annotate``: a local page to label a video from a box, scribbles and the
frames worth correcting.

The server is the standard library's :class:`http.server.ThreadingHTTPServer`, bound to
127.0.0.1 by default; the page (``static/index.html`` and ``static/app.js``, plain
HTML/JS, nothing fetched from the network) talks to it in JSON:

==========================  ==============================================================
``GET /``                   the page
``GET /api/state``          frames, size, keyframes, suggested frames, per-frame uncertainty
``GET /frame/<i>``          frame ``i`` as JPEG
``GET /mask/<i>``           its current mask as an RGBA PNG (DAVIS colours, clear background)
``GET /scribbles/<i>``      its strokes as an RGBA PNG
``POST /api/seed``          ``{"frame", "id", "box": [x, y, w, h]}`` and/or ``"strokes":
                            [{"label": "fg"|"bg"|"erase", "radius", "points": [[x, y]...]}]``:
                            the frame's mask from its seeds (:func:`~classicseg.stages.vos.seeds.seed_ids`,
                            correcting the propagated mask); the frame becomes a keyframe
``POST /api/undo``          the last seed action is undone
``POST /api/propagate``     recompute the spans the changed keyframes touch
                            (:class:`~classicseg.keyframes.Keyframed`), then the suggestions
``POST /api/save``          ``{"format": "davis"|"coco"|"cvat"|"mot"}``: write every frame's mask
                            (each file atomically) and the keyframes (``OUTPUT/keyframes``)
==========================  ==============================================================

All state changes and saves hold one lock, and every file is written through a temporary
file renamed into place, so concurrent saves, or a server killed while saving, leave no
half-written mask. Keyframes found in ``OUTPUT/keyframes`` when the server starts are
loaded, so a session can be continued.
"""
from __future__ import annotations

import io
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path

import cv2
import numpy as np

from classicseg.errors import ClassicsegError, SourceError

__all__ = ["Project", "make_server", "OUTPUT_FILES"]

log = logging.getLogger("classicseg")

#: Where ``save`` writes each format inside the output folder.
OUTPUT_FILES = {"davis": "masks", "coco": "annotations.json", "cvat": "annotations.xml", "mot": "boxes.txt"}
_BRUSH_LABELS = {"fg": None, "bg": 255, "erase": 0}


@dataclass
class _FrameEdits:
    base: np.ndarray | None               # the mask before the first edit (propagated), or None
    boxes: dict = field(default_factory=dict)
    scribbles: np.ndarray | None = None


class Project:
    """One video being annotated: its frames, keyframes, propagated masks and suggestions.

    Parameters
    ----------
    frames : list of (name, image)
        The video's frames.
    output : path
        Where ``save`` writes (see :data:`OUTPUT_FILES`) and keyframes are kept.
    pipe : Pipeline, optional
        The propagation pipeline (default: the ``vos`` preset).
    """

    def __init__(self, frames: list[tuple[str, np.ndarray]], output, pipe=None) -> None:
        from classicseg.keyframes import Keyframed
        from classicseg.pipeline import Pipeline

        if not frames:
            raise SourceError("annotate: the input has no frames")
        self.frames = frames
        self.output = Path(output)
        self.pipe = pipe or Pipeline.load(preset="vos")
        self.kf = Keyframed(self.pipe, frames)
        self.lock = threading.RLock()
        self.edits: dict[int, _FrameEdits] = {}
        self.history: list[tuple[int, _FrameEdits | None, np.ndarray | None]] = []
        self.uncertainty = [0.0] * len(frames)
        self.suggested: list[int] = []
        self.last_propagation: dict = {}
        self._load_keyframes()

    # -- state -------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int]:
        return self.frames[0][1].shape[:2]

    def _load_keyframes(self) -> None:
        from classicseg.keyframes import find_keyframe_files, load_keyframes

        folder = self.output / "keyframes"
        if folder.is_dir() and any(folder.glob("*.png")):
            keys = load_keyframes(find_keyframe_files(folder), [n for n, _ in self.frames], self.shape)
            for k, ids in keys.items():
                self.kf.set(k, ids)

    def mask(self, j: int) -> np.ndarray | None:
        """Frame ``j``'s current ids (a keyframe's own, else the propagated one), or None."""
        if j in self.kf.keys:
            return self.kf.keys[j]
        try:
            return self.kf.result(j).ids
        except ClassicsegError:
            return None

    def state(self) -> dict:
        with self.lock:
            h, w = self.shape
            return {"frames": len(self.frames), "names": [n for n, _ in self.frames], "width": w, "height": h,
                    "keyframes": sorted(self.kf.keys), "stale": self.kf.stale() if self.kf.keys else [],
                    "suggested": self.suggested, "uncertainty": [round(float(u), 4) for u in self.uncertainty],
                    "undo": len(self.history), "last_propagation": self.last_propagation,
                    "output": str(self.output)}

    def _check_frame(self, j) -> int:
        if not isinstance(j, int) or isinstance(j, bool) or not 0 <= j < len(self.frames):
            raise ClassicsegError(f"frame {j!r} does not exist (the video has {len(self.frames)} frames: "
                                  f"0..{len(self.frames) - 1})")
        return j

    # -- editing -----------------------------------------------------------------
    def seed(self, j: int, oid: int = 1, box=None, strokes=()) -> dict:
        """Add a box and/or strokes on frame ``j`` for object ``oid``; its mask is recomputed
        from all of the frame's seeds and it becomes a keyframe."""
        from classicseg.io.seeds import Seeds
        from classicseg.stages.vos.seeds import seed_ids

        j = self._check_frame(j)
        if not isinstance(oid, int) or not 1 <= oid <= 254:
            raise ClassicsegError(f"object id must be 1..254, got {oid!r}")
        h, w = self.shape
        with self.lock:
            prev = self.edits.get(j)
            ed = _FrameEdits(self.mask(j) if prev is None else prev.base,
                             dict(prev.boxes) if prev else {},
                             prev.scribbles.copy() if prev and prev.scribbles is not None else np.zeros((h, w), np.uint8))
            if box is not None:
                if not (isinstance(box, list) and len(box) == 4):
                    raise ClassicsegError(f"box must be [x, y, w, h], got {box!r}")
                ed.boxes[oid] = tuple(int(round(v)) for v in box)
            for st in strokes:
                label = st.get("label")
                if label not in _BRUSH_LABELS:
                    raise ClassicsegError(f"stroke label must be fg, bg or erase, got {label!r}")
                value = oid if label == "fg" else _BRUSH_LABELS[label]
                r = int(st.get("radius", 4))
                pts = np.asarray(st.get("points", []), np.float64).reshape(-1, 2)
                if len(pts) == 0:
                    continue
                pts = np.round(pts).astype(np.int32)
                cv2.polylines(ed.scribbles, [pts], False, int(value), max(1, 2 * r), lineType=cv2.LINE_8)
                for x, y in pts[[0, -1]]:
                    cv2.circle(ed.scribbles, (int(x), int(y)), r, int(value), -1)
            seeds = Seeds(boxes=sorted(ed.boxes.items()), scribbles=ed.scribbles)
            if not seeds and ed.base is None:
                raise ClassicsegError(f"frame {j}: no box and no foreground stroke yet: nothing says where the "
                                      f"object is")
            ids = seed_ids(self.frames[j][1], seeds, base=ed.base) if seeds else ed.base
            self.history.append((j, prev, self.kf.keys.get(j)))
            self.edits[j] = ed
            if ids is None or not ids.any():
                self.kf.remove(j)
            else:
                self.kf.set(j, ids)
            return {"frame": j, "keyframe": j in self.kf.keys, "area": int(np.count_nonzero(ids)) if ids is not None
                    else 0}

    def undo(self) -> dict:
        with self.lock:
            if not self.history:
                raise ClassicsegError("nothing to undo")
            j, prev, key = self.history.pop()
            if prev is None:
                self.edits.pop(j, None)
            else:
                self.edits[j] = prev
            if key is None:
                self.kf.remove(j)
            else:
                self.kf.set(j, key)
            return {"frame": j}

    def propagate(self) -> dict:
        """Recompute what the keyframe changes touched, then uncertainty and suggestions."""
        from classicseg.annotate.suggest import Video, embed, suggest, transition_costs

        with self.lock:
            if not self.kf.keys:
                raise ClassicsegError("no keyframe yet: draw a box or strokes on a frame first")
            t0 = time.perf_counter()
            done = self.kf.propagate()
            seconds = time.perf_counter() - t0
            self.edits = {j: e for j, e in self.edits.items() if j in self.kf.keys}
            n = len(self.frames)
            results = [self.kf.result(j) for j in range(n)]
            self.uncertainty = [r.uncertainty for r in results]
            if not hasattr(self, "_emb"):
                self._emb = np.stack([embed(f) for _, f in self.frames])
            changed = set(done) | set(self.kf.keys)
            costs = transition_costs([f for _, f in self.frames], [r.ids for r in results], self.uncertainty,
                                     self._emb, previous=getattr(self, "_costs", None), changed=changed)
            self._costs = costs
            free = n - len(self.kf.keys)
            self.suggested = ([k for _, k in suggest([Video(costs, self._emb, set(self.kf.keys))], min(5, free))]
                              if free > 0 else [])
            self.last_propagation = {"recomputed": len(done), "seconds": round(seconds, 3)}
            return {**self.last_propagation, "suggested": self.suggested}

    def save(self, fmt: str = "davis") -> dict:
        """Write every frame's mask as ``fmt`` and the keyframes; returns what was written."""
        from classicseg.io.formats import FORMATS, export, write_davis

        if fmt not in FORMATS:
            raise ClassicsegError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
        with self.lock:
            if self.kf.stale():
                self.propagate()
            items = []
            for j, (name, _) in enumerate(self.frames):
                ids = self.mask(j)
                items.append((name, ids if ids is not None else np.zeros(self.shape, np.uint8)))
            target = export(fmt, items, self.output / OUTPUT_FILES[fmt])
            keep = {f"{self.frames[k][0]}.png" for k in self.kf.keys}
            write_davis(self.output / "keyframes", [(self.frames[k][0], ids) for k, ids in sorted(self.kf.keys.items())])
            for p in (self.output / "keyframes").glob("*.png"):
                if p.name not in keep:  # a keyframe undone since the last save
                    p.unlink()
            return {"format": fmt, "path": str(target), "frames": len(items), "keyframes": len(self.kf.keys)}

    # -- pictures ----------------------------------------------------------------
    def frame_jpeg(self, j: int) -> bytes:
        ok, buf = cv2.imencode(".jpg", self.frames[self._check_frame(j)][1], [cv2.IMWRITE_JPEG_QUALITY, 90])
        return buf.tobytes()

    @staticmethod
    def _rgba(ids: np.ndarray | None, shape, alpha: int) -> bytes:
        from PIL import Image

        from classicseg.io.masks import davis_palette

        out = np.zeros((*shape, 4), np.uint8)
        if ids is not None:
            pal = np.asarray(davis_palette())
            out[..., :3] = pal[ids]
            out[..., 3] = np.where(ids > 0, alpha, 0)
        buf = io.BytesIO()
        Image.fromarray(out, "RGBA").save(buf, format="PNG")
        return buf.getvalue()

    def mask_png(self, j: int) -> bytes:
        with self.lock:
            return self._rgba(self.mask(self._check_frame(j)), self.shape, 255)

    def scribbles_png(self, j: int) -> bytes:
        with self.lock:
            ed = self.edits.get(self._check_frame(j))
            ids = None
            if ed is not None and ed.scribbles is not None:
                ids = ed.scribbles.copy()
                ids[ids == 255] = 254  # background strokes drawn in the palette's index 254 colour
            return self._rgba(ids, self.shape, 255)


def _static(name: str) -> bytes:
    return resources.files("classicseg.annotate").joinpath("static", name).read_bytes()


_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css"}


def make_server(project: Project, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """A threading HTTP server for ``project`` (``port`` 0: any free port; read it from
    ``server.server_address``). Call ``serve_forever()`` on it."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "classicseg-annotate"

        def log_message(self, fmt, *args):  # quiet: the CLI prints what matters
            log.debug("annotate: " + fmt, *args)

        def _send(self, code: int, body: bytes, ctype: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def _json(self, obj, code: int = 200) -> None:
            self._send(code, json.dumps(obj).encode(), "application/json")

        def _index(self, prefix: str) -> int:
            try:
                return int(self.path.split("?")[0][len(prefix):])
            except ValueError:
                raise ClassicsegError(f"bad frame number in {self.path}") from None

        def do_GET(self):  # noqa: N802
            path = self.path.split("?")[0]
            try:
                if path in ("/", "/index.html"):
                    self._send(200, _static("index.html"), _TYPES[".html"])
                elif path == "/app.js":
                    self._send(200, _static("app.js"), _TYPES[".js"])
                elif path == "/api/state":
                    self._json(project.state())
                elif path.startswith("/frame/"):
                    self._send(200, project.frame_jpeg(self._index("/frame/")), "image/jpeg")
                elif path.startswith("/mask/"):
                    self._send(200, project.mask_png(self._index("/mask/")), "image/png")
                elif path.startswith("/scribbles/"):
                    self._send(200, project.scribbles_png(self._index("/scribbles/")), "image/png")
                else:
                    self._json({"error": f"not found: {path}"}, 404)
            except ClassicsegError as exc:
                self._json({"error": str(exc)}, 400)

        def do_POST(self):  # noqa: N802
            path = self.path.split("?")[0]
            try:
                n = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(n) or b"{}") if n else {}
                if not isinstance(body, dict):
                    raise ClassicsegError("expected a JSON object")
                if path == "/api/seed":
                    out = project.seed(body.get("frame"), body.get("id", 1), body.get("box"), body.get("strokes", []))
                elif path == "/api/undo":
                    out = project.undo()
                elif path == "/api/propagate":
                    out = project.propagate()
                elif path == "/api/save":
                    out = project.save(body.get("format", "davis"))
                else:
                    self._json({"error": f"not found: {path}"}, 404)
                    return
                self._json(out)
            except ValueError as exc:
                self._json({"error": f"bad request: {exc}"}, 400)
            except ClassicsegError as exc:
                self._json({"error": str(exc)}, 400)

    return ThreadingHTTPServer((host, port), Handler)
