"""The qualitative grid: on the frames where the methods disagree most, the input, the ground
truth and every method's mask, side by side.

Disagreement on a frame is the share of pairs of methods whose masks differ, averaged over
the pixels (so one method that is far off everywhere, such as a model that has not
started, weighs as one method, not as the whole frame). Up to :data:`SAMPLES` frames per sequence are examined (evenly spaced over the
frames every method wrote and, with ground truth, that the benchmark scores, the first
tenth left out: there the models are still starting, and every method disagrees with
every other in uninteresting ways), so building the grid reads a bounded number of masks
however long the sequences are. With one
method only, its worst-scored frames are shown instead.

Masks are drawn against the ground truth when there is one: white where the method and
the ground truth agree on foreground, red for false positives, blue for misses, dark grey
where the benchmark ignores the pixel (CDnet unknown / outside the ROI, DAVIS void).
"""
from __future__ import annotations

import base64
import logging
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger("classicseg")

__all__ = ["GridRow", "pick_frames", "SAMPLES", "THUMB_WIDTH"]

#: Frames examined per sequence.
SAMPLES = 40
#: Width of the pictures in the grid (px).
THUMB_WIDTH = 200

_TP, _FP, _FN, _IGN = (255, 255, 255), (60, 60, 230), (230, 120, 40), (70, 70, 70)  # BGR


@dataclass
class GridRow:
    sequence: str
    frame: int
    contested: float | None               # share of method pairs that differ, mean over pixels
    input: str | None                     # data URI
    gt: str | None
    cells: list = field(default_factory=list)   # (method, data URI or None, caption)


def _uri(img: np.ndarray, fmt: str = ".png") -> str:
    params = [cv2.IMWRITE_JPEG_QUALITY, 80] if fmt == ".jpg" else [cv2.IMWRITE_PNG_COMPRESSION, 3]
    ok, buf = cv2.imencode(fmt, img, params)
    if not ok:  # pragma: no cover
        return ""
    mime = "jpeg" if fmt == ".jpg" else "png"
    return f"data:image/{mime};base64," + base64.b64encode(buf.tobytes()).decode("ascii")


def _thumb(img: np.ndarray, nearest: bool) -> np.ndarray:
    h, w = img.shape[:2]
    if w <= THUMB_WIDTH:
        return img
    size = (THUMB_WIDTH, max(1, round(h * THUMB_WIDTH / w)))
    return cv2.resize(img, size, interpolation=cv2.INTER_NEAREST if nearest else cv2.INTER_AREA)


def _read_fg(path) -> np.ndarray | None:
    from classicseg.io.images import read_image

    try:
        return read_image(path, cv2.IMREAD_GRAYSCALE) > 0
    except Exception:  # noqa: BLE001 - a missing or broken mask leaves a gap in the grid
        return None


def _ground_truth(seq: dict, number: int):
    """``(picture, positive, ignored)`` of the sequence's ground truth at ``number``, or Nones."""
    gt, bench = seq.get("gt"), seq.get("benchmark")
    try:
        if bench == "cdnet":
            from classicseg.io.frames import numbered_images
            from classicseg.metrics.cdnet import read_label_image

            files = numbered_images(Path(gt) / "groundtruth")
            if number not in files:
                return None, None, None
            lab = read_label_image(files[number])
            return cv2.cvtColor(lab, cv2.COLOR_GRAY2BGR), lab == 255, (lab == 170) | (lab == 85)
        if bench == "davis":
            from classicseg.io.frames import numbered_images
            from classicseg.io.masks import VOID, read_indexed_mask

            files = numbered_images(gt)
            if number not in files:
                return None, None, None
            ids = read_indexed_mask(files[number])
            pos, void = (ids > 0) & (ids != VOID), ids == VOID
            pic = np.zeros((*ids.shape, 3), np.uint8)
            pic[pos] = 255
            pic[void] = _IGN
            return pic, pos, void
    except Exception as exc:  # noqa: BLE001 - the grid shows what it can
        log.warning("report: ground truth of %s frame %d not shown: %s", seq.get("sequence"), number, exc)
    return None, None, None


def _paint(fg: np.ndarray, pos: np.ndarray | None, ign: np.ndarray | None) -> np.ndarray:
    pic = np.zeros((*fg.shape, 3), np.uint8)
    if pos is None or pos.shape != fg.shape:
        pic[fg] = 255
        return pic
    pic[fg & pos] = _TP
    pic[fg & ~pos] = _FP
    pic[~fg & pos] = _FN
    if ign is not None:
        pic[ign & fg] = _IGN
        pic[ign & ~fg] = 0
    return pic


def _frame_score(seq: dict | None, number: int) -> float | None:
    pf = (seq or {}).get("per_frame") or {}
    frames = pf.get("frame") or []
    try:
        i = frames.index(number)
    except ValueError:
        return None
    if "J" in pf:
        j, f = pf["J"][i], pf["F"][i]
        return None if j is None or f is None else (j + f) / 2
    return pf.get("F", [None] * len(frames))[i]


def _spread(order: list[int], scores: dict[int, float], k: int, gap: int) -> list[int]:
    """The ``k`` highest-scoring frames at least ``gap`` frames apart."""
    picked: list[int] = []
    for n in sorted(order, key=lambda n: (-scores[n], n)):
        if all(abs(n - p) >= gap for p in picked):
            picked.append(n)
        if len(picked) == k:
            break
    return sorted(picked)


def pick_frames(folder, records: list[dict], per_sequence: int = 1) -> list[GridRow]:
    """The grid's rows: for each sequence, its ``per_sequence`` most disputed frames."""
    from classicseg.io.frames import frame_files, numbered_images, read_frame

    folder = Path(folder)
    seqs = list(dict.fromkeys(s["sequence"] for r in records for s in r.get("sequences", [])))
    rows: list[GridRow] = []
    for name in seqs:
        entries = [(r["method"], next((s for s in r.get("sequences", []) if s["sequence"] == name), None))
                   for r in records]
        ok = [(m, s) for m, s in entries if s is not None and s.get("status") != "failed"]
        if not ok:
            continue
        seq = ok[0][1]
        masks: dict[str, dict[int, str]] = {}
        for m, s in ok:
            masks[m] = numbered_images(folder / s["output"])
        with_masks = [m for m in masks if masks[m]]
        if not with_masks:
            continue
        common = sorted(set.intersection(*(set(masks[m]) for m in with_masks)))
        scored = next((s["per_frame"]["frame"] for _, s in ok if s.get("per_frame")), None)
        if scored:
            keep = set(scored)
            common = [n for n in common if n in keep] or common
        common = common[len(common) // 10:] if len(common) >= 10 else common[1:] or common  # models still starting
        if not common:
            continue
        idx = np.unique(np.linspace(0, len(common) - 1, min(SAMPLES, len(common))).round().astype(int))
        cand = [common[i] for i in idx]
        score: dict[int, float] = {}
        if len(with_masks) == 1:
            for n in cand:
                v = _frame_score(dict(ok)[with_masks[0]], n)
                score[n] = 1.0 - v if v is not None else 0.0
        else:
            for n in cand:
                fgs = [f for f in (_read_fg(masks[m][n]) for m in with_masks) if f is not None]
                if len(fgs) < 2 or any(f.shape != fgs[0].shape for f in fgs):
                    score[n] = -1.0
                    continue
                k = len(fgs)
                votes = np.sum(fgs, axis=0, dtype=np.float64)
                score[n] = float(np.mean(2.0 * votes * (k - votes))) / (k * (k - 1))
        gap = max(1, len(common) // (4 * per_sequence))
        files = frame_files(seq["input"]) if Path(seq["input"]).is_dir() else None
        for n in _spread(cand, score, per_sequence, gap):
            frame = read_frame(seq["input"], n, files)
            pic, pos, ign = _ground_truth(seq, n) if seq.get("gt") else (None, None, None)
            row = GridRow(name, n, score[n] if len(with_masks) > 1 and score[n] >= 0 else None,
                          _uri(_thumb(frame, False), ".jpg") if frame is not None else None,
                          _uri(_thumb(pic, True)) if pic is not None else None)
            for m, s in entries:
                fg = _read_fg(masks[m][n]) if m in masks and n in masks[m] else None
                if fg is None:
                    why = "failed" if s is not None and s.get("status") == "failed" else "no mask"
                    row.cells.append((m, None, why))
                    continue
                v = _frame_score(s, n)
                row.cells.append((m, _uri(_thumb(_paint(fg, pos, ign), True)), "" if v is None else f"{v:.3f}"))
            rows.append(row)
    return rows
