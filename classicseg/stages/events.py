"""Zone events from tracks (``events.zones``).

Stages append plain dicts to the sample's ``events`` slot (the background subtractors
add ``illumination`` events, see ``switch_fraction``); ``classicseg run`` writes them as
JSON lines (``events.jsonl``), with a snapshot image per event on request.
"""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from classicseg.registry import register
from classicseg.stage import Params, Stage
from classicseg.stages.roi import polygon_mask
from classicseg.types import Sample


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


class ZoneParams(Params):
    zones: list[Zone] = Field(min_length=1, max_length=1000, description="named polygons")
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
            events.append(self._event(sample, "leave", key[0], key[1], None))
        return sample

    @staticmethod
    def _event(sample, kind, zone, tid, box):
        e = {"frame": sample.index + 1, "name": sample.name, "event": kind, "zone": zone, "id": tid}
        if box is not None:
            e["box"] = [round(float(v), 1) for v in box]
        return e
