"""Interactive seeds: boxes, clicks and scribbles, and the files that carry them.

A :class:`Seeds` is what a person gives on one frame:

* **boxes** ``(id, (x, y, w, h))``: the object with this id lies in the box (pixels,
  top-left corner and size, as ``--init-box X,Y,W,H``);
* **clicks** ``(id, x, y, positive)``: a positive click is a pixel of object ``id``, a
  negative one a pixel that is not;
* **scribbles** ``uint8 (H, W)``: 0 = no label, 1..254 = a stroke on that object,
  :data:`BACKGROUND` (255) = a stroke on the background.

Files (told apart by name, see :func:`keyframe_kind`):

* a scribble image (``--init-scribbles FILE.png``, ``<frame>.scribbles.png`` among
  keyframes): one object drawn with 0 = none, 1 = foreground, 2 = background (grey or
  indexed PNG); several objects as an indexed PNG whose indices are the object ids and
  255 the background (an image with index 255, or with an index above 2, is read this
  way; an image that holds only 0, 1 and 2 is the one-object convention, so two objects
  without a background stroke need a 255 stroke somewhere);
* a JSON file (``<frame>.json``): a list of ``{"box": [x, y, w, h], "id": 1}`` and
  ``{"click": [x, y], "id": 1, "positive": true}`` items (``id`` defaults to 1,
  ``positive`` to true).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from classicseg.errors import ClassicsegError, SourceError

__all__ = ["BACKGROUND", "Seeds", "parse_box", "read_scribbles", "scribbles_from_labels", "read_seed_json",
           "seeds_from_items", "keyframe_kind"]

#: Scribble label of a background stroke.
BACKGROUND = 255


@dataclass
class Seeds:
    """Boxes, clicks and scribbles given on one frame (module docstring)."""

    boxes: list[tuple[int, tuple[int, int, int, int]]] = field(default_factory=list)
    clicks: list[tuple[int, int, int, bool]] = field(default_factory=list)
    scribbles: np.ndarray | None = None
    origin: str = "seeds"  #: how error messages name them (a file, an option)

    def __bool__(self) -> bool:
        return bool(self.boxes or self.clicks or (self.scribbles is not None and self.scribbles.any()))

    @property
    def ids(self) -> list[int]:
        """The object ids the seeds name, sorted."""
        found = {i for i, _ in self.boxes} | {c[0] for c in self.clicks if c[3]}
        if self.scribbles is not None:
            found |= {int(v) for v in np.unique(self.scribbles) if 0 < v < BACKGROUND}
        return sorted(found)

    def check(self, shape: tuple[int, int], what: str | None = None) -> "Seeds":
        """Raise :class:`~classicseg.errors.ClassicsegError` for a box of zero size or
        outside a frame of ``shape`` ``(H, W)``, a click outside it, an id out of 1..254,
        or scribbles of another size; returns the seeds with boxes clipped to the frame."""
        h, w = shape
        what = what or self.origin
        boxes = []
        for oid, (x, y, bw, bh) in self.boxes:
            text = f"{x},{y},{bw},{bh}"
            if not 1 <= oid < BACKGROUND:
                raise ClassicsegError(f"{what}: box {text} has object id {oid}, expected 1..254")
            if bw <= 0 or bh <= 0:
                raise ClassicsegError(f"{what}: box {text} has zero size (width and height must be > 0)")
            x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + bw, w), min(y + bh, h)
            if x1 <= x0 or y1 <= y0:
                raise ClassicsegError(f"{what}: box {text} lies outside the {w}x{h} frame")
            boxes.append((oid, (x0, y0, x1 - x0, y1 - y0)))
        for oid, x, y, _ in self.clicks:
            if not 1 <= oid < BACKGROUND:
                raise ClassicsegError(f"{what}: click at {x},{y} has object id {oid}, expected 1..254")
            if not (0 <= x < w and 0 <= y < h):
                raise ClassicsegError(f"{what}: click at {x},{y} lies outside the {w}x{h} frame")
        if self.scribbles is not None and self.scribbles.shape != (h, w):
            sh = self.scribbles.shape
            raise ClassicsegError(f"{what}: scribbles are {sh[1]}x{sh[0]} but the frames are {w}x{h}")
        return Seeds(boxes, list(self.clicks), self.scribbles, self.origin)


def parse_box(text: str) -> tuple[int, int, int, int]:
    """``"X,Y,W,H"`` -> ints; raises :class:`~classicseg.errors.ClassicsegError` naming the text."""
    parts = str(text).replace(" ", "").split(",")
    try:
        vals = tuple(int(round(float(p))) for p in parts)
    except ValueError:
        vals = ()
    if len(vals) != 4:
        raise ClassicsegError(f"box {text!r}: expected X,Y,W,H (four numbers: top-left corner, width, height)")
    if vals[2] <= 0 or vals[3] <= 0:
        raise ClassicsegError(f"box {text!r} has zero size (width and height must be > 0)")
    return vals  # type: ignore[return-value]


def scribbles_from_labels(labels: np.ndarray, what: str = "scribbles", indexed: bool = True) -> np.ndarray:
    """Scribble labels as drawn (module docstring) -> 0 / ids / :data:`BACKGROUND`.

    ``indexed``: the values are palette indices (object ids allowed); otherwise only
    0, 1 and 2 are known."""
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ClassicsegError(f"{what}: expected a 2-D label image, got shape {labels.shape}")
    vals = np.unique(labels)
    if not indexed and not set(vals.tolist()) <= {0, 1, 2}:
        bad = [int(v) for v in vals if v not in (0, 1, 2)][:5]
        raise ClassicsegError(f"{what}: unknown labels {bad} (expected 0 = none, 1 = foreground, 2 = background, "
                              f"or an indexed PNG with object ids and 255 = background)")
    out = labels.astype(np.uint8)
    if vals.max(initial=0) <= 2 and BACKGROUND not in vals:
        out = np.where(labels == 2, BACKGROUND, labels).astype(np.uint8)
    if not ((out > 0) & (out < BACKGROUND)).any():
        raise ClassicsegError(f"{what}: no foreground stroke (label 1, or an object id)")
    return out


def read_scribbles(path, shape: tuple[int, int] | None = None) -> np.ndarray:
    """A scribble image (module docstring) as 0 / ids / :data:`BACKGROUND` ``uint8 (H, W)``.

    Raises :class:`~classicseg.errors.SourceError` for a missing or unreadable file and
    :class:`~classicseg.errors.ClassicsegError` for unknown labels, no foreground stroke or
    (given ``shape``) another size."""
    from PIL import Image

    path = Path(path)
    if not path.is_file():
        raise SourceError(f"scribble image not found: {path}")
    try:
        with Image.open(path) as im:
            mode = im.mode
            if mode in ("P", "L", "1"):
                labels = np.array(im, dtype=np.uint8)
            else:
                rgb = np.asarray(im.convert("RGB"))
                if not (np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2])):
                    from classicseg.io.masks import read_indexed_mask

                    labels, mode = read_indexed_mask(path), "P"  # DAVIS colours
                else:
                    labels = rgb[..., 0].copy()
    except (OSError, ValueError) as exc:
        raise SourceError(f"cannot read scribble image {path}: {exc}") from None
    if mode == "1":
        labels = labels.astype(np.uint8)
    if shape is not None and labels.shape != tuple(shape):
        raise ClassicsegError(f"scribble image {path.name} is {labels.shape[1]}x{labels.shape[0]} but the frames "
                              f"are {shape[1]}x{shape[0]}")
    return scribbles_from_labels(labels, f"scribble image {path.name}", indexed=mode == "P")


def seeds_from_items(items, what: str = "seeds") -> Seeds:
    """A JSON-like list of ``{"box": [x, y, w, h], "id": k}`` / ``{"click": [x, y], "id": k,
    "positive": bool}`` items as :class:`Seeds` (no frame check yet)."""
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list) or not items:
        raise ClassicsegError(f"{what}: expected a non-empty list of boxes and clicks")
    seeds = Seeds()
    for n, it in enumerate(items):
        if not isinstance(it, dict) or ("box" in it) == ("click" in it):
            raise ClassicsegError(f"{what}: item {n} must have either 'box': [x, y, w, h] or 'click': [x, y]")
        oid = it.get("id", 1)
        if not isinstance(oid, int) or isinstance(oid, bool):
            raise ClassicsegError(f"{what}: item {n}: id must be an integer, got {oid!r}")
        if "box" in it:
            b = it["box"]
            if not (isinstance(b, list) and len(b) == 4 and all(isinstance(v, (int, float)) for v in b)):
                raise ClassicsegError(f"{what}: item {n}: box must be [x, y, w, h], got {b!r}")
            seeds.boxes.append((oid, tuple(int(round(v)) for v in b)))  # type: ignore[arg-type]
        else:
            c = it["click"]
            if not (isinstance(c, list) and len(c) == 2 and all(isinstance(v, (int, float)) for v in c)):
                raise ClassicsegError(f"{what}: item {n}: click must be [x, y], got {c!r}")
            pos = it.get("positive", True)
            if not isinstance(pos, bool):
                raise ClassicsegError(f"{what}: item {n}: positive must be true or false, got {pos!r}")
            seeds.clicks.append((oid, int(round(c[0])), int(round(c[1])), pos))
    return seeds


def read_seed_json(path) -> Seeds:
    """A JSON list of boxes and clicks (module docstring) as :class:`Seeds`."""
    path = Path(path)
    try:
        items = json.loads(path.read_text())
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise SourceError(f"{path.name} is not valid JSON: {exc}") from None
    return seeds_from_items(items, path.name)


def keyframe_kind(path: Path) -> tuple[str, str] | None:
    """``(kind, frame stem)`` of a keyframe file, or None for a file that is none:
    ``<frame>.png`` mask, ``<frame>.scribbles.png`` scribbles, ``<frame>.json`` boxes/clicks."""
    name = path.name
    low = name.lower()
    if low.endswith(".scribbles.png"):
        return "scribbles", name[: -len(".scribbles.png")]
    if low.endswith(".png"):
        return "mask", path.stem
    if low.endswith(".json"):
        return "seeds", path.stem
    return None
