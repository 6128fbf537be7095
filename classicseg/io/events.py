"""Following a run's events from start to end, the way a consumer needs them.

The stages write what happens on each frame: ``start`` and ``end`` of a motion event
(``events.motion``), instant events (zone ``enter``/``leave``/``dwell``, ``illumination``),
and, while a motion event is open, its share and boxes in the ``active`` slot.
:class:`EventTracker` turns that into one :class:`EventRecord` per event, with its span in
frames, stream time and wall clock, its peak, the track ids seen, and a copy of the peak
frame to draw its snapshot from (the triggering object highlighted). ``classicseg run``
writes the records as JSON lines; ``classicseg watch`` as database rows with clips.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

import numpy as np

from classicseg.types import Sample

__all__ = ["EventRecord", "EventTracker", "iso_time", "stamp"]


def iso_time(wall: float | None) -> str | None:
    """Epoch seconds as ISO 8601 in UTC with milliseconds (``2026-12-06T10:00:00.123Z``)."""
    if wall is None:
        return None
    return datetime.fromtimestamp(wall, timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def stamp(event: dict, sample: Sample) -> dict:
    """``event`` with the frame's stream ``time`` (seconds) and ``wall`` clock (ISO 8601)."""
    out = dict(event)
    if sample.time is not None:
        out.setdefault("time", round(sample.time, 3))
    if sample.wall is not None:
        out.setdefault("wall", iso_time(sample.wall))
    return out


@dataclass
class EventRecord:
    """One event from its start to its end (an instant event starts and ends on one frame)."""

    key: str
    kind: str
    zone: str | None
    start_frame: int
    start_time: float | None
    start_wall: float | None
    end_frame: int | None = None
    end_time: float | None = None
    end_wall: float | None = None
    peak_share: float | None = None
    peak_frame: int | None = None
    ids: list = field(default_factory=list)
    box: list | None = None
    instant: bool = False
    data: dict = field(default_factory=dict)
    #: the peak frame (a light copy of its sample) and the boxes to highlight on it
    peak: tuple | None = None
    #: set by the consumer (a database row id, the snapshot and clip paths)
    id: Any = None
    snapshot: str | None = None
    clip: str | None = None
    _score: tuple = (-1, -1.0)
    _last: tuple | None = None  # (frame, stream time, wall) of the last frame with motion

    def to_dict(self) -> dict:
        d = {k: v for k, v in self.data.items() if k not in ("frame", "name", "event")}
        d.update(kind=self.kind, zone=self.zone, start_frame=self.start_frame, end_frame=self.end_frame,
                 time=self.start_time, end_time=self.end_time, wall=iso_time(self.start_wall),
                 end_wall=iso_time(self.end_wall), peak_share=self.peak_share, ids=list(self.ids),
                 box=self.box, snapshot=self.snapshot, clip=self.clip)
        d.pop("start_time", None)
        return {k: v for k, v in d.items() if v is not None}


def _light_copy(sample: Sample) -> Sample:
    """What drawing the sample's overlay later needs, copied (the frame and masks) or kept."""
    data = {k: (v.copy() if isinstance(v, np.ndarray) else list(v)) for k, v in sample.data.items()
            if k in ("fg", "shadow", "blobs", "tracks")}
    return Sample(sample.index, sample.name, sample.image.copy(), data, sample.time, sample.wall)


class EventTracker:
    """Turns the events of a run's samples into :class:`EventRecord` objects.

    ``on_open(record, event)`` is called when an event starts (an instant one too),
    ``on_close(record, event)`` when it ends (``event`` is None when :meth:`finish` closes it:
    the run ended with it open). ``keep_peak``: keep a copy of each event's peak frame
    (``record.peak``) for its snapshot. ``fps`` dates frames of a source with no clock.
    """

    def __init__(self, on_open: Callable | None = None, on_close: Callable | None = None, keep_peak: bool = True,
                 fps: float = 25.0) -> None:
        self.on_open, self.on_close = on_open, on_close
        self.keep_peak = keep_peak
        self.fps = fps
        self.open: dict[str, EventRecord] = {}

    def _wall_at(self, sample: Sample, t: float | None) -> float | None:
        if sample.wall is None:
            return None
        if t is None or sample.time is None:
            return sample.wall
        return sample.wall - (sample.time - t)

    def update(self, sample: Sample) -> None:
        frame = sample.index + 1
        for e in sample.data.get("events", ()):
            kind = e.get("event")
            if kind == "start":
                t = e.get("start_time", sample.time)
                rec = EventRecord(e.get("key", e.get("kind", "motion")), e.get("kind", "motion"), e.get("zone"),
                                  e.get("frame", frame), t, self._wall_at(sample, t), box=e.get("box"),
                                  data=dict(e))
                rec._last = (frame, sample.time, sample.wall)
                old = self.open.pop(rec.key, None)
                if old is not None:  # a second start without an end: close the first
                    self._close(old, None)
                self.open[rec.key] = rec
                self._peak(rec, sample, e.get("share", 0.0), [], [e["box"]] if e.get("box") else [])
                if self.on_open:
                    self.on_open(rec, e)
            elif kind == "end":
                rec = self.open.pop(e.get("key", e.get("kind", "motion")), None)
                if rec is None:
                    continue
                rec.data.update(e)
                rec.end_frame = e.get("end_frame", frame)
                rec.end_time = e.get("end_time", sample.time)
                rec.end_wall = self._wall_at(sample, rec.end_time)
                rec.peak_share = e.get("peak_share", rec.peak_share)
                rec.peak_frame = e.get("peak_frame", rec.peak_frame)
                rec.ids = list(e.get("ids", rec.ids))
                self._close(rec, e)
            else:
                zone, tid = e.get("zone"), e.get("id")
                key = ":".join(str(p) for p in (kind, zone, tid) if p is not None)
                rec = EventRecord(key, str(kind), zone, frame, sample.time, sample.wall, frame, sample.time,
                                  sample.wall, ids=[tid] if tid is not None else [], box=e.get("box"),
                                  instant=True, data=dict(e))
                share = e.get("fg_fraction")
                rec.peak_share, rec.peak_frame = share, frame
                if self.keep_peak:
                    rec.peak = (_light_copy(sample), [e["box"]] if e.get("box") else [])
                if self.on_open:
                    self.on_open(rec, e)
                if self.on_close:
                    self.on_close(rec, e)
        for a in sample.data.get("active", ()):
            rec = self.open.get(a["key"])
            if rec is None:
                continue
            rec._last = (frame, sample.time, sample.wall)
            rec.ids = sorted(set(rec.ids) | set(a.get("ids", ())))
            self._peak(rec, sample, a.get("share", 0.0), a.get("ids", ()), a.get("boxes", ()))

    def _peak(self, rec: EventRecord, sample: Sample, share: float, ids, boxes) -> None:
        score = (len(ids), share)
        if score <= rec._score:
            return
        rec._score = score
        rec.peak_share, rec.peak_frame = share, sample.index + 1
        if boxes:
            rec.box = list(boxes[0])
        if self.keep_peak:
            rec.peak = (_light_copy(sample), [list(b) for b in boxes])

    def _close(self, rec: EventRecord, e: dict | None, reason: str = "end of input") -> None:
        if e is None:
            rec.data["closed"] = reason
            if rec._last is not None:
                rec.end_frame, rec.end_time, rec.end_wall = rec._last
        if self.on_close:
            self.on_close(rec, e)

    def finish(self) -> list[EventRecord]:
        """Close every open event at its last frame with motion (the run ended); returns them."""
        closed = list(self.open.values())
        self.open.clear()
        for rec in closed:
            self._close(rec, None)
        return closed

    def split(self, sample: Sample) -> None:
        """Close every open event (``closed: split``) and open it again from ``sample``: a long
        event kept in parts, each with its own clip, row and snapshot. The stage's ``end``
        later closes the last part."""
        frame = sample.index + 1
        for key, rec in list(self.open.items()):
            del self.open[key]
            self._close(rec, None, "split")
            part = EventRecord(key, rec.kind, rec.zone, frame, sample.time, sample.wall, box=rec.box,
                               data={"continues_from_frame": rec.start_frame})
            part._last = (frame, sample.time, sample.wall)
            self.open[key] = part
            self._peak(part, sample, 0.0, [], [part.box] if part.box else [])
            if self.on_open:
                self.on_open(part, {"event": "start", "kind": rec.kind, "key": key, "continued": True})
