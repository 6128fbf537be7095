"""Events: motion from foreground or tracked objects (``events.motion``) and zone crossings of
tracked objects (``events.zones``).

Stages append plain dicts to the sample's ``events`` slot (the background subtractors add
``illumination`` events, see ``switch_fraction``). Every event names its ``frame`` (1-based),
``name`` and ``event``; the sinks add the frame's stream ``time`` and ``wall`` clock. A zone
is a named polygon in pixels::

    zones:
      - name: door                                   # used in the events
        polygon: [[0, 0], [100, 0], [100, 80], [0, 80]]   # [x, y] corners, inside the frame

``classicseg run --events`` writes them as JSON lines (``events.jsonl``) with a snapshot per
event; ``classicseg watch`` keeps them in a database with a clip each.
"""
from __future__ import annotations

from typing import Literal

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from classicseg.registry import register
from classicseg.stage import Params, Stage
from classicseg.stages.roi import polygon_mask
from classicseg.types import Sample

ZONES_DOC = "named polygons: [{name: door, polygon: [[x, y], [x, y], [x, y], ...]}] in pixels, inside the frame"


class Zone(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    name: str = Field(max_length=200, description="zone name, used in the events")
    polygon: list[tuple[float, float]] = Field(max_length=10_000, description="[[x, y], ...] in pixels, inside the frame")

    @field_validator("polygon")
    @classmethod
    def _three(cls, v):
        if len(v) < 3:
            raise ValueError(f"a zone needs at least 3 points, got {len(v)}")
        return v


def _box(x, y, w, h) -> list[float]:
    return [round(float(v), 1) for v in (x, y, w, h)]


def stream_time(sample: Sample, fps: float) -> float:
    """The sample's stream time, or its frame index at ``fps`` when the source has no clock."""
    return sample.time if sample.time is not None else sample.index / fps


class ZoneParams(Params):
    zones: list[Zone] = Field(min_length=1, max_length=1000, description=ZONES_DOC)
    dwell_frames: int = Field(250, ge=1, le=10**9, description="frames an object may stay in a zone before 'dwell' fires")
    still_px: float = Field(3.0, ge=0, le=10_000, description="per-frame centre motion under which an object counts as still")


@register
class ZoneEvents(Stage):
    """'enter', 'leave' and 'dwell' events of tracked objects in named zones (by box foot point)."""

    name = "events.zones"
    Params = ZoneParams
    requires = ("tracks",)
    provides = ("events",)

    def reset(self) -> None:
        self.masks = None
        self.inside: dict[tuple[str, int], int] = {}  # (zone, id) -> frames spent still inside
        self.last_centre: dict[int, tuple[float, float]] = {}
        self.last_box: dict[int, tuple[float, float, float, float]] = {}
        self.fired: set[tuple[str, int]] = set()

    def process(self, sample: Sample) -> Sample:
        if self.masks is None:  # a polygon outside the frame is an error here, on the first frame
            self.masks = {z.name: polygon_mask(sample.shape, z.polygon) for z in self.params.zones}
        h, w = sample.shape
        events = sample.data.setdefault("events", [])
        present = set()
        for tid, (x, y, bw, bh) in sample.data.get("tracks", ()):
            fx, fy = min(max(int(x + bw / 2), 0), w - 1), min(max(int(y + bh), 0), h - 1)  # foot point
            cx, cy = x + bw / 2, y + bh / 2
            px, py = self.last_centre.get(tid, (cx, cy))
            still = abs(cx - px) + abs(cy - py) <= self.params.still_px
            self.last_centre[tid] = (cx, cy)
            self.last_box[tid] = (x, y, bw, bh)
            for name, m in self.masks.items():
                key = (name, tid)
                if m[fy, fx]:
                    present.add(key)
                    if key not in self.inside:
                        self.inside[key] = 0
                        events.append(self._event(sample, "enter", name, tid, (x, y, bw, bh)))
                    self.inside[key] = self.inside[key] + 1 if still else 0
                    if self.inside[key] >= self.params.dwell_frames and key not in self.fired:
                        self.fired.add(key)
                        events.append(self._event(sample, "dwell", name, tid, (x, y, bw, bh)))
        for key in [k for k in self.inside if k not in present]:
            del self.inside[key]
            self.fired.discard(key)
            # the box it left with: this frame's when it is still seen outside, else its last one
            events.append(self._event(sample, "leave", key[0], key[1], self.last_box.get(key[1])))
        seen = {tid for tid, _ in sample.data.get("tracks", ())}
        for tid in [t for t in self.last_box if t not in seen and not any(k[1] == t for k in self.inside)]:
            del self.last_box[tid]
            self.last_centre.pop(tid, None)
        return sample

    @staticmethod
    def _event(sample, kind, zone, tid, box):
        e = {"frame": sample.index + 1, "name": sample.name, "event": kind, "zone": zone, "id": tid}
        if box is not None:
            e["box"] = _box(*box)
        return e


class MotionParams(Params):
    threshold: float = Field(0.005, gt=0, le=1, description="foreground share of the frame (of a zone, for zone "
                                                            "events) that counts as motion")
    min_frames: int = Field(2, ge=1, le=100_000, description="frames in a row with motion before an event starts (its start is "
                                                 "the first of them)")
    event_gap: float = Field(2.0, ge=0, le=86_400, description="seconds without motion that end an event (it ends at its last "
                                                    "frame with motion)")
    trigger: Literal["auto", "foreground", "objects"] = Field(
        "auto", description="what counts as motion: foreground share, tracked objects, or auto (objects when the "
                            "pipeline tracks, else foreground)")
    zones: list[Zone] = Field(default_factory=list, max_length=1000, description="also a 'zone' event per zone with motion (or an "
                                                                "object's foot point) inside; " + ZONES_DOC)
    warmup: float = Field(2.0, ge=0, le=86_400, description="seconds at the start of the stream in which no event starts (the "
                                                 "background model is still learning the scene)")
    fps: float = Field(25.0, gt=0, le=1000, description="frame rate that turns event_gap into frames when the frames carry "
                                               "no time stamp")


@register
class MotionEvents(Stage):
    """Motion events with a start and an end, from foreground or tracked objects, per frame and per zone.

    ``start`` once foreground (or a tracked object) passes ``threshold`` for ``min_frames``
    frames, ``end`` after ``event_gap`` seconds without it (the classic motion-daemon event, on
    a better mask).

    The ``end`` event carries the event's span (``start_frame``/``start_time``, ``end_frame``/
    ``end_time``), ``peak_share`` and ``peak_frame`` and every track id seen; while an event
    is open, the ``active`` slot lists the frame's share, boxes and ids for it (the frame to
    snapshot is the peak). A run that ends with an event open leaves it to the consumer to
    close (:class:`classicseg.io.events.EventTracker` closes it at its last motion).
    """

    name = "events.motion"
    Params = MotionParams
    requires = ("fg",)
    provides = ("events", "active")

    def reset(self) -> None:
        self.masks: dict[str, np.ndarray] | None = None
        self.state: dict[str, dict] = {}
        self.t0: float | None = None

    def _regions(self, shape) -> dict[str, np.ndarray | None]:
        if self.masks is None:
            self.masks = {z.name: polygon_mask(shape, z.polygon) for z in self.params.zones}
            self.areas = {n: max(int(m.sum()), 1) for n, m in self.masks.items()}
        return {"motion": None, **{f"zone:{n}": m for n, m in self.masks.items()}}

    def process(self, sample: Sample) -> Sample:
        p = self.params
        fg = sample["fg"]
        h, w = sample.shape
        t = stream_time(sample, p.fps)
        self.t0 = t if self.t0 is None else self.t0
        warm = t - self.t0 >= p.warmup
        tracks = sample.data.get("tracks")
        objects = p.trigger == "objects" or (p.trigger == "auto" and tracks is not None)
        blobs = sample.data.get("blobs")
        events = sample.data.setdefault("events", [])
        active_out = sample.data.setdefault("active", [])
        for key, region in self._regions((h, w)).items():
            zone = key[5:] if region is not None else None
            if region is None:
                share = np.count_nonzero(fg) / fg.size
            else:
                share = np.count_nonzero(fg & region) / self.areas[zone]
            ids, boxes = [], []
            for tid, (x, y, bw, bh) in tracks or ():
                fx, fy = min(max(int(x + bw / 2), 0), w - 1), min(max(int(y + bh), 0), h - 1)
                if region is None or region[fy, fx]:
                    ids.append(int(tid))
                    boxes.append(_box(x, y, bw, bh))
            moving = warm and (bool(ids) if objects else share >= p.threshold)
            score = (len(ids), share)  # the peak: most objects, then most foreground
            if not objects and moving:
                boxes = _fg_boxes(fg if region is None else fg & region, blobs, region)
            st = self.state.setdefault(key, {"open": False, "run": 0})
            if moving:
                st["run"] += 1
                if st["run"] == 1:
                    st["first"] = (sample.index + 1, t, sample.name)
                st["last"] = (sample.index + 1, t)
                if not st["open"] and st["run"] >= p.min_frames:
                    st.update(open=True, start=st["first"], peak=(share, sample.index + 1), score=score, ids=set())
                    e = {"frame": st["first"][0], "name": st["first"][2], "event": "start", "kind": "motion" if zone is None
                         else "zone", "key": key, "start_time": round(st["first"][1], 3), "share": round(share, 5)}
                    if zone is not None:
                        e["zone"] = zone
                    if boxes:
                        e["box"] = boxes[0]
                    events.append(e)
                if st["open"]:
                    if score > st["score"]:
                        st["peak"], st["score"] = (share, sample.index + 1), score
                    st["ids"].update(ids)
                    active_out.append({"key": key, "share": round(share, 5), "boxes": boxes, "ids": ids})
            else:
                st["run"] = 0
                if st["open"] and t - st["last"][1] >= p.event_gap:
                    events.append(self._end(sample, key, zone, st))
                    st["open"] = False
        return sample

    @staticmethod
    def _end(sample: Sample, key: str, zone: str | None, st: dict) -> dict:
        e = {"frame": sample.index + 1, "name": sample.name, "event": "end", "kind": "motion" if zone is None
             else "zone", "key": key, "start_frame": st["start"][0], "start_time": round(st["start"][1], 3),
             "end_frame": st["last"][0], "end_time": round(st["last"][1], 3),
             "peak_share": round(st["peak"][0], 5), "peak_frame": st["peak"][1], "ids": sorted(st["ids"])}
        if zone is not None:
            e["zone"] = zone
        return e


def _fg_boxes(fg: np.ndarray, blobs, region) -> list[list[float]]:
    """Boxes of the moving things: the blobs (inside the region) when the pipeline finds
    them, else the foreground's bounding box."""
    if blobs:
        out = [_box(*b.box) for b in blobs if region is None or region[min(int(b.cy), fg.shape[0] - 1),
                                                                         min(int(b.cx), fg.shape[1] - 1)]]
        if out:
            return sorted(out, key=lambda b: -b[2] * b[3])
    x, y, w, h = cv2.boundingRect(fg.view(np.uint8))
    return [_box(x, y, w, h)] if w and h else []
