"""Mask formats in and out: DAVIS indexed PNGs, COCO instance segmentation (RLE), CVAT for
video 1.1 XML, MOT boxes.

Each writer takes *items*: ``(frame name, ids)`` pairs in frame order, ``ids`` a
``uint8 (H, W)`` object-id map (0 = background). Each reader returns what a run takes as
keyframes: frame position -> ids (masks), or frame position -> :class:`~classicseg.io.seeds.Seeds`
(MOT boxes, which give GrabCut seeds). Frames are matched by name (COCO ``file_name``
stems) or by 0-based position (CVAT ``frame``; MOT frames are 1-based).

* **davis**: one indexed PNG per frame with the DAVIS palette (``<name>.png``).
* **coco**: one JSON file: ``images`` (id = position + 1, ``file_name`` = ``<name>.jpg``
  unless the frames' own file names are given), one ``annotations`` item per object and
  frame (``segmentation`` as compressed RLE from ``pycocotools``, ``area``, ``bbox``,
  ``iscrowd`` 0, ``category_id`` = the object id, and ``object_id``), one category per
  object id.
* **cvat**: CVAT for video 1.1 (``<annotations><version>1.1</version><meta><task>...``),
  one ``<track>`` per object holding a ``<mask>`` per frame where the object is present
  (CVAT's run-length encoding inside the mask's box: counts of 0s and 1s alternating,
  starting with 0s, row by row) and an ``outside="1"`` mask on the frame after it
  disappears. ``keyframe="1"`` marks the frames to take as keyframes on import (all
  written frames; when reading a file without the attribute, every frame counts).
* **mot**: ``frame,id,x,y,w,h,conf,-1,-1,-1`` per object and frame (1-based frames).
"""
from __future__ import annotations

import json
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Iterable

import numpy as np

from classicseg.errors import ClassicsegError, ConfigError, SourceError
from classicseg.io.images import atomic_write_bytes, atomic_write_text, ensure_writable_dir
from classicseg.io.masks import encode_indexed_png
from classicseg.io.seeds import Seeds

__all__ = ["FORMATS", "write_davis", "coco_dict", "read_coco", "cvat_xml", "read_cvat", "cvat_rle",
           "mot_lines", "read_mot", "export", "read_annotations", "read_mask_folder", "boxes_of"]

FORMATS = ("davis", "coco", "cvat", "mot")


def _objects(ids: np.ndarray) -> list[int]:
    return [int(v) for v in np.unique(ids) if v != 0]


def boxes_of(ids: np.ndarray) -> dict[int, tuple[int, int, int, int]]:
    """Object id -> tight box ``(x, y, w, h)`` of each object of an id map."""
    out = {}
    for oid in _objects(ids):
        ys, xs = np.nonzero(ids == oid)
        out[oid] = (int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1))
    return out


# ------------------------------------------------------------------------- DAVIS
def write_davis(folder, items: Iterable[tuple[str, np.ndarray]]) -> int:
    """Indexed PNGs ``<name>.png`` (each written atomically); returns how many."""
    folder = ensure_writable_dir(folder)
    n = 0
    for name, ids in items:
        atomic_write_bytes(folder / f"{name}.png", encode_indexed_png(ids))
        n += 1
    return n


# ------------------------------------------------------------------------- COCO
def _mask_api():
    try:
        from pycocotools import mask as mask_api
    except ImportError:
        raise ConfigError("COCO files need pycocotools: pip install 'classicseg[annotate]'") from None
    return mask_api


def coco_dict(items: Iterable[tuple[str, np.ndarray]], file_names: list[str] | None = None) -> dict:
    """COCO instance segmentation (module docstring) of ``items``."""
    mask_api = _mask_api()
    images, anns, cats = [], [], set()
    for pos, (name, ids) in enumerate(items):
        h, w = ids.shape
        images.append({"id": pos + 1, "file_name": file_names[pos] if file_names else f"{name}.jpg",
                       "width": int(w), "height": int(h), "frame_index": pos})
        for oid in _objects(ids):
            rle = mask_api.encode(np.asfortranarray((ids == oid).astype(np.uint8)))
            x, y, bw, bh = (float(v) for v in mask_api.toBbox(rle))
            anns.append({"id": len(anns) + 1, "image_id": pos + 1, "category_id": oid, "object_id": oid,
                         "segmentation": {"size": [int(h), int(w)], "counts": rle["counts"].decode("ascii")},
                         "area": float(mask_api.area(rle)), "bbox": [x, y, bw, bh], "iscrowd": 0})
            cats.add(oid)
    return {"info": {"description": "classicseg masks"}, "images": images, "annotations": anns,
            "categories": [{"id": c, "name": f"object {c}", "supercategory": "object"} for c in sorted(cats)]}


def _load_json(path) -> object:
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise SourceError(f"{path.name} is not valid JSON: {exc}") from None


def read_coco(path, names: list[str], shape: tuple[int, int]) -> dict[int, np.ndarray]:
    """A COCO instance-segmentation file as frame position -> ids.

    Images are matched to frames by the stem of ``file_name``; each annotation's object id
    is its ``object_id`` (else its ``category_id``). Segmentations may be RLE (compressed
    or not) or polygons.

    Raises
    ------
    SourceError
        Not a COCO file, an annotation whose ``image_id`` is not among ``images``, an image
        that names no frame of the input, an image of another size.
    """
    mask_api = _mask_api()
    path = Path(path)
    d = _load_json(path)
    if not isinstance(d, dict) or not isinstance(d.get("images"), list) or not isinstance(d.get("annotations"), list):
        raise SourceError(f"{path.name}: not a COCO file (expected 'images' and 'annotations' lists)")
    where = {n: i for i, n in enumerate(names)}
    h, w = shape
    images = {}
    for im in d["images"]:
        stem = Path(str(im.get("file_name", ""))).stem
        if stem not in where:
            raise SourceError(f"{path.name}: image {im.get('id')} ({im.get('file_name')!r}) is no frame of the input "
                              f"(frames {names[0]}..{names[-1]})")
        if (im.get("height"), im.get("width")) not in ((h, w), (None, None)):
            raise SourceError(f"{path.name}: image {im.get('id')} is {im.get('width')}x{im.get('height')} but the "
                              f"frames are {w}x{h}")
        images[im["id"]] = where[stem]
    out: dict[int, np.ndarray] = {}
    for a in d["annotations"]:
        if a.get("image_id") not in images:
            raise SourceError(f"{path.name}: annotation {a.get('id')} has image_id {a.get('image_id')}, which is not "
                              f"among the file's images (ids {sorted(images)[:5]}...)")
        seg = a.get("segmentation")
        if isinstance(seg, list):
            rle = mask_api.merge(mask_api.frPyObjects(seg, h, w))
        elif isinstance(seg, dict) and isinstance(seg.get("counts"), list):
            rle = mask_api.frPyObjects(seg, h, w)
        elif isinstance(seg, dict) and "counts" in seg:
            rle = {"size": seg["size"], "counts": seg["counts"].encode("ascii")}
        else:
            raise SourceError(f"{path.name}: annotation {a.get('id')} has no segmentation")
        with warnings.catch_warnings():  # pycocotools 2.0.x on NumPy 2: a copy=False deprecation in decode
            warnings.simplefilter("ignore", DeprecationWarning)
            m = mask_api.decode(rle).astype(bool)
        if m.shape != (h, w):
            raise SourceError(f"{path.name}: annotation {a.get('id')} is {m.shape[1]}x{m.shape[0]} but the frames "
                              f"are {w}x{h}")
        oid = int(a.get("object_id", a.get("category_id", 1)))
        if not 1 <= oid <= 254:
            raise SourceError(f"{path.name}: annotation {a.get('id')} has object id {oid}, expected 1..254")
        pos = images[a["image_id"]]
        ids = out.setdefault(pos, np.zeros((h, w), np.uint8))
        ids[m] = oid
    return out


# ------------------------------------------------------------------------- CVAT
def cvat_rle(mask: np.ndarray) -> tuple[list[int], tuple[int, int, int, int]]:
    """CVAT's mask encoding: counts alternating 0s and 1s (starting with 0s) over the
    mask's bounding box row by row, and the box ``(left, top, width, height)``."""
    ys, xs = np.nonzero(mask)
    top, left = int(ys.min()), int(xs.min())
    crop = mask[top:ys.max() + 1, left:xs.max() + 1].ravel()
    change = np.flatnonzero(np.diff(crop.astype(np.int8))) + 1
    bounds = np.concatenate([[0], change, [crop.size]])
    runs = np.diff(bounds).tolist()
    if crop[0]:
        runs = [0] + runs
    return runs, (left, top, int(xs.max() - left + 1), int(ys.max() - top + 1))


def _cvat_decode(runs: list[int], box, shape) -> np.ndarray:
    left, top, bw, bh = box
    flat = np.zeros(bw * bh, bool)
    pos, val = 0, False
    for r in runs:
        flat[pos:pos + r] = val
        pos += r
        val = not val
    out = np.zeros(shape, bool)
    out[top:top + bh, left:left + bw] = flat.reshape(bh, bw)[: shape[0] - top, : shape[1] - left]
    return out


def cvat_xml(items: list[tuple[str, np.ndarray]], task_name: str = "classicseg") -> str:
    """CVAT for video 1.1 XML (module docstring) of ``items``."""
    n = len(items)
    h, w = items[0][1].shape if items else (0, 0)
    objs = sorted({o for _, ids in items for o in _objects(ids)})
    root = ET.Element("annotations")
    ET.SubElement(root, "version").text = "1.1"
    meta = ET.SubElement(root, "meta")
    task = ET.SubElement(meta, "task")
    for tag, val in (("id", "0"), ("name", task_name), ("size", str(n)), ("mode", "interpolation"),
                     ("overlap", "0"), ("bugtracker", ""), ("flipped", "False"), ("start_frame", "0"),
                     ("stop_frame", str(max(n - 1, 0))), ("frame_filter", "")):
        ET.SubElement(task, tag).text = val
    labels = ET.SubElement(task, "labels")
    for o in objs:
        lab = ET.SubElement(labels, "label")
        ET.SubElement(lab, "name").text = f"object {o}"
        ET.SubElement(lab, "type").text = "mask"
        ET.SubElement(lab, "attributes")
    size = ET.SubElement(task, "original_size")
    ET.SubElement(size, "width").text = str(w)
    ET.SubElement(size, "height").text = str(h)
    for t, o in enumerate(objs):
        track = ET.SubElement(root, "track", id=str(t), label=f"object {o}", source="auto")
        present = False
        last = None
        for f, (_, ids) in enumerate(items):
            m = ids == o
            if m.any():
                runs, (left, top, bw, bh) = cvat_rle(m)
                ET.SubElement(track, "mask", frame=str(f), keyframe="1", outside="0", occluded="0",
                              rle=", ".join(map(str, runs)), left=str(left), top=str(top), width=str(bw),
                              height=str(bh), z_order="0")
                present, last = True, (left, top, bw, bh)
            elif present:
                left, top, bw, bh = last
                ET.SubElement(track, "mask", frame=str(f), keyframe="1", outside="1", occluded="0",
                              rle=str(bw * bh), left=str(left), top=str(top), width=str(bw), height=str(bh),
                              z_order="0")
                present = False
    ET.indent(root, "  ")
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def read_cvat(path, n: int, shape: tuple[int, int]) -> dict[int, np.ndarray]:
    """The masks of a CVAT for video 1.1 file (tracks of ``<mask>``; shapes marked
    ``keyframe="0"`` and ``outside="1"`` are skipped) as frame position -> ids. A track's
    label ``object K`` gives id K; other labels are numbered in order of appearance."""
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as exc:
        raise SourceError(f"cannot read CVAT file {path.name}: {exc}") from None
    if root.tag != "annotations":
        raise SourceError(f"{path.name}: not a CVAT file (root <{root.tag}>, expected <annotations>)")
    out: dict[int, np.ndarray] = {}
    label_ids: dict[str, int] = {}
    for track in root.iter("track"):
        label = track.get("label", "")
        if label not in label_ids:
            num = label.rsplit(" ", 1)[-1]
            label_ids[label] = int(num) if label.startswith("object ") and num.isdigit() else (
                max(label_ids.values(), default=0) + 1)
        oid = label_ids[label]
        for m in track.iter("mask"):
            if m.get("outside", "0") == "1" or m.get("keyframe", "1") == "0":
                continue
            try:
                f = int(m.get("frame"))
                runs = [int(v) for v in m.get("rle", "").replace(" ", "").split(",") if v]
                box = tuple(int(float(m.get(k))) for k in ("left", "top", "width", "height"))
            except (TypeError, ValueError):
                raise SourceError(f"{path.name}: track {track.get('id')}: a <mask> with a bad frame, rle or "
                                  f"box") from None
            if not 0 <= f < n:
                raise SourceError(f"{path.name}: track {track.get('id')} has a mask on frame {f}, but the input "
                                  f"has {n} frames (0..{n - 1})")
            if sum(runs) != box[2] * box[3]:
                raise SourceError(f"{path.name}: track {track.get('id')}, frame {f}: the rle covers {sum(runs)} "
                                  f"pixels, its box {box[2]}x{box[3]}")
            ids = out.setdefault(f, np.zeros(shape, np.uint8))
            ids[_cvat_decode(runs, box, shape)] = oid
    return out


# ------------------------------------------------------------------------- MOT
def mot_lines(items: Iterable[tuple[str, np.ndarray]]) -> str:
    """MOT-style boxes (module docstring), one line per object and frame."""
    lines = []
    for pos, (_, ids) in enumerate(items):
        for oid, (x, y, w, h) in boxes_of(ids).items():
            lines.append(f"{pos + 1},{oid},{x},{y},{w},{h},1,-1,-1,-1")
    return "\n".join(lines) + ("\n" if lines else "")


def read_mot(path, n: int) -> dict[int, Seeds]:
    """MOT boxes as frame position -> box seeds (GrabCut turns them into masks)."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise SourceError(f"cannot read {path}: {exc.strerror or exc}") from None
    out: dict[int, Seeds] = {}
    for ln, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            f, oid, x, y, w, h = (float(v) for v in line.split(",")[:6])
        except ValueError:
            raise SourceError(f"{path.name} line {ln}: expected frame,id,x,y,w,h,...") from None
        pos = int(f) - 1
        if not 0 <= pos < n:
            raise SourceError(f"{path.name} line {ln}: frame {int(f)} does not exist (the input has {n} frames, "
                              f"1..{n} in MOT numbering)")
        out.setdefault(pos, Seeds()).boxes.append((int(oid), (round(x), round(y), round(w), round(h))))
    return out


# ------------------------------------------------------------------------- dispatch
def read_mask_folder(folder, images=None) -> tuple[list[tuple[str, np.ndarray]], list[str] | None]:
    """The mask PNGs of ``folder`` in natural order as ``(stem, ids)`` items, and (given the
    frames folder ``images``) each mask's frame file name.

    Raises
    ------
    SourceError
        No PNG, masks of different sizes, a mask without a frame in ``images``.
    """
    from classicseg.io.images import IMAGE_EXTS
    from classicseg.io.masks import VOID, read_indexed_mask
    from classicseg.io.sources import natural_key

    folder = Path(folder)
    files = sorted((p for p in folder.iterdir() if p.suffix.lower() == ".png" and not p.name.startswith(".")),
                   key=natural_key)
    if not files:
        raise SourceError(f"no mask PNGs in {folder}")
    items = []
    for p in files:
        ids = read_indexed_mask(p).copy()
        ids[ids == VOID] = 0
        if items and ids.shape != items[0][1].shape:
            raise SourceError(f"mask {p.name} is {ids.shape[1]}x{ids.shape[0]}, {files[0].name} "
                              f"{items[0][1].shape[1]}x{items[0][1].shape[0]}")
        items.append((p.stem, ids))
    names = None
    if images is not None:
        frames = {q.stem: q.name for q in Path(images).iterdir() if q.suffix.lower() in IMAGE_EXTS}
        missing = [n for n, _ in items if n not in frames]
        if missing:
            raise SourceError(f"mask {missing[0]}.png has no frame in {images}")
        names = [frames[n] for n, _ in items]
    return items, names



def export(fmt: str, items: list[tuple[str, np.ndarray]], output, file_names: list[str] | None = None) -> Path:
    """Write ``items`` as ``fmt`` (:data:`FORMATS`) to ``output`` (a folder for davis, a file
    otherwise; each file written atomically). Returns the path written."""
    output = Path(output)
    if fmt not in FORMATS:
        raise ConfigError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if not items:
        raise ClassicsegError("export: no masks to write")
    if fmt == "davis":
        write_davis(output, items)
        return output
    if output.is_dir():
        raise ClassicsegError(f"export --format {fmt}: {output} is a folder, give a file name")
    ensure_writable_dir(output.parent if str(output.parent) else Path("."))
    if fmt == "coco":
        atomic_write_text(output, json.dumps(coco_dict(items, file_names)))
    elif fmt == "cvat":
        atomic_write_text(output, cvat_xml(items, output.stem))
    else:
        atomic_write_text(output, mot_lines(items))
    return output


def read_annotations(path, names: list[str], shape: tuple[int, int]) -> dict[int, np.ndarray | Seeds]:
    """A COCO (``.json``), CVAT (``.xml``) or MOT (``.txt``) file as keyframes: frame
    position -> ids, or -> box seeds for MOT."""
    path = Path(path)
    suffix = path.suffix.lower()
    if not path.is_file():
        raise SourceError(f"annotation file not found: {path}")
    if suffix == ".json":
        return dict(read_coco(path, names, shape))
    if suffix == ".xml":
        return dict(read_cvat(path, len(names), shape))
    if suffix == ".txt":
        return dict(read_mot(path, len(names)))
    raise SourceError(f"{path.name}: expected a COCO .json, a CVAT .xml or a MOT .txt file")
