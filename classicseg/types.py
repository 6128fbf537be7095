"""The per-frame record that flows through a pipeline.

Masks inside the engine are ``bool (H, W)`` arrays; 0/255 ``uint8`` appears only at
the edges (sources and sinks).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Names of the slots a sample can carry, with what each holds. Stages declare
#: which slots they require and provide; the pipeline checks the chain before the
#: first frame is decoded.
SLOTS: dict[str, str] = {
    "image": "BGR uint8 (H, W, 3) frame, as decoded",
    "gray": "uint8 (H, W) luminance (a cache: read it with stages.bgsub.base.gray_of)",
    "fg": "bool (H, W) foreground mask",
    "shadow": "bool (H, W) shadow mask (never part of fg)",
    "roi": "bool (H, W) region of interest",
    "blobs": "list[Blob] connected components of fg, or detections",
    "tracks": "list[(id, (x, y, w, h))] confirmed identities seen in this frame",
    "events": "list[dict] events of this frame (zone enter/leave/dwell, illumination switch)",
    "flow": "float32 (H, W, 2) backward optical flow: pixel (x, y) of this frame came from (x+dx, y+dy) of the previous one",
    "occlusion": "bool (H, W) pixels whose flow fails the forward-backward check (not visible in the previous frame)",
    "prob": "float32 (H, W) foreground probability in [0, 1]",
    "ids": "uint8 (H, W) object ids (0 = background), written by the DAVIS mask sink",
    "prior": "another model's answer for this frame (classicseg.io.priors): float32 (H, W) probability in [0, 1] or uint8 (H, W) ids",
}


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
    """

    index: int
    name: str
    image: np.ndarray
    data: dict[str, Any] = field(default_factory=dict)

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
