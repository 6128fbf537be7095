"""The per-frame record that flows through a pipeline.

Masks inside the engine are ``bool (H, W)`` arrays; 0/255 ``uint8`` appears only at
the edges (sources and sinks).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

@dataclass(frozen=True)
class Slot:
    """What one slot of a sample holds.

    ``kind`` says how :func:`check_slot` checks a value: ``image`` (uint8 ``(H, W, 3)``),
    ``gray`` (uint8 ``(H, W)``), ``mask`` (bool ``(H, W)``), ``prob`` (float32 ``(H, W)``
    in [0, 1]), ``ids`` (uint8 ``(H, W)``), ``flow`` (float32 ``(H, W, 2)``), ``prior``
    (float32 probability or uint8 ids, ``(H, W)``) or ``list`` (a Python list).
    ``source`` is True for slots that come with the frame rather than from a stage
    (``image``; ``prior`` when the run is given one). ``cache`` slots hold something any
    stage may compute from others and store for the next (``gray``); they are never
    declared.
    """

    doc: str
    kind: str
    source: bool = False
    cache: bool = False


#: The slots a sample can carry. Stages declare which they require and provide (checked
#: when a stage class is registered and again before the first frame is decoded).
SLOTS: dict[str, Slot] = {
    "image": Slot("BGR uint8 (H, W, 3) frame, as decoded", "image", source=True),
    "gray": Slot("uint8 (H, W) luminance (a cache: read it with stages.bgsub.base.gray_of)", "gray", cache=True),
    "fg": Slot("bool (H, W) foreground mask", "mask"),
    "shadow": Slot("bool (H, W) shadow mask (never part of fg)", "mask"),
    "roi": Slot("bool (H, W) region of interest", "mask"),
    "blobs": Slot("list[Blob] connected components of fg, or detections", "list"),
    "tracks": Slot("list[(id, (x, y, w, h))] confirmed identities seen in this frame", "list"),
    "events": Slot("list[dict] events of this frame (motion start/end, zone enter/leave/dwell, illumination switch)",
                   "list"),
    "active": Slot("list[dict] the open motion events this frame keeps alive: key, share, boxes, ids "
                   "(events.motion; consumers follow an event's peak with it)", "list"),
    "flow": Slot("float32 (H, W, 2) backward optical flow: pixel (x, y) of this frame came from (x+dx, y+dy) of "
                 "the previous one", "flow"),
    "occlusion": Slot("bool (H, W) pixels whose flow fails the forward-backward check (not visible in the previous "
                      "frame)", "mask"),
    "prob": Slot("float32 (H, W) foreground probability in [0, 1]", "prob"),
    "ids": Slot("uint8 (H, W) object ids (0 = background)", "ids"),
    "prior": Slot("another model's answer for this frame (classicseg.io.priors): float32 (H, W) probability in "
                  "[0, 1] or uint8 (H, W) ids; comes with the frame when a run is given a prior", "prior",
                  source=True),
}


def check_slot(name: str, value: Any, shape: tuple[int, int] | None = None) -> str | None:
    """Why ``value`` is not what slot ``name`` holds (``None`` when it is).

    ``shape`` is the frame's ``(H, W)``; per-pixel slots must match it.
    """
    slot = SLOTS.get(name)
    if slot is None:
        return f"unknown slot {name!r}"
    if slot.kind == "list":
        return None if isinstance(value, list) else f"{name}: expected a list, got {type(value).__name__}"
    a = value
    if not isinstance(a, np.ndarray):
        return f"{name}: expected a numpy array, got {type(value).__name__}"
    want = {"image": (np.uint8, 3), "gray": (np.uint8, 2), "mask": (np.bool_, 2), "prob": (np.float32, 2),
            "ids": (np.uint8, 2), "flow": (np.float32, 3)}.get(slot.kind)
    if slot.kind == "prior":
        want = (a.dtype.type if a.dtype in (np.float32, np.uint8) else np.float32, 2)
    dtype, ndim = want
    if a.dtype != dtype or a.ndim != ndim:
        return f"{name}: expected {np.dtype(dtype).name} with {ndim} dimensions, got {a.dtype} {a.shape}"
    if shape is not None and a.shape[:2] != tuple(shape):
        return f"{name}: is {a.shape[1]}x{a.shape[0]} but the frame is {shape[1]}x{shape[0]}"
    if slot.kind == "flow" and a.shape[2] != 2:
        return f"{name}: expected (H, W, 2), got {a.shape}"
    if slot.kind == "image" and a.shape[2] != 3:
        return f"{name}: expected (H, W, 3), got {a.shape}"
    return None


@dataclass(frozen=True)
class Blob:
    """One connected component of a foreground mask."""

    label: int
    x: int
    y: int
    w: int
    h: int
    area: int
    cx: float
    cy: float

    @property
    def box(self) -> tuple[int, int, int, int]:
        """``(x, y, w, h)`` in pixels."""
        return (self.x, self.y, self.w, self.h)


@dataclass
class Sample:
    """One frame and everything the pipeline has computed for it.

    Attributes
    ----------
    index : int
        0-based position in the source.
    name : str
        Stem used for output files (``in000123`` for CDnet, ``00012`` for DAVIS).
    image : ndarray
        BGR uint8 frame.
    data : dict
        Slot name -> value (see :data:`SLOTS`).
    time : float or None
        Stream time in seconds: a video's position (frame / fps), seconds since a camera
        or stream was opened; None when the source has no clock (frames in memory, image
        folders without a frame rate).
    wall : float or None
        Wall-clock time (``time.time()``) when the frame was read.
    """

    index: int
    name: str
    image: np.ndarray
    data: dict[str, Any] = field(default_factory=dict)
    time: float | None = None
    wall: float | None = None

    def __post_init__(self) -> None:
        self.data.setdefault("image", self.image)

    def __getitem__(self, slot: str) -> Any:
        return self.data[slot]

    def __setitem__(self, slot: str, value: Any) -> None:
        self.data[slot] = value

    def __contains__(self, slot: str) -> bool:
        return slot in self.data

    @property
    def shape(self) -> tuple[int, int]:
        return self.image.shape[:2]
