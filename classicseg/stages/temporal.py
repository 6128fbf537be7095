"""Temporal filtering of masks (``temporal.majority``)."""
from __future__ import annotations

import math
from collections import deque

import numpy as np
from pydantic import Field, model_validator

from classicseg.registry import register
from classicseg.stage import Params, Stage
from classicseg.types import Sample


def votes_needed(threshold: float, n: int) -> int:
    """A pixel is foreground when its vote count ``c > threshold * n``; for an integer
    ``c`` that is ``c > floor(threshold * n)`` (an integer bound keeps the comparison in
    uint8: a float one makes numpy cast the count to float64, 5x slower)."""
    return int(math.floor(threshold * n))


class MajorityParams(Params):
    window: int = Field(3, ge=1, le=31, description="frames in the sliding window")
    threshold: float = Field(
        0.5, ge=0, lt=1, description="a pixel is foreground when more than this share of the window votes for it"
    )
    centered: bool = Field(
        False,
        description="centre the window on the frame (looks window//2 frames ahead; adds that latency)",
    )

    @model_validator(mode="after")
    def _odd_centered(self):
        if self.centered and self.window % 2 == 0:
            raise ValueError(f"a centered window must be odd, got {self.window}")
        return self


@register
class Majority(Stage):
    """Temporal majority vote of each pixel's foreground label over a sliding window.

    Causal by default (the window is the current frame and the ones before it); with
    ``centered`` it holds ``window // 2`` frames back and votes over a window centred
    on each frame. Near the start and end, the vote is over the frames available.
    """

    name = "temporal.majority"
    Params = MajorityParams
    requires = ("fg",)
    provides = ("fg",)

    def memory_per_pixel(self) -> int:
        return 16 + self.params.window

    @property
    def latency(self) -> int:  # type: ignore[override]
        return self.params.window // 2 if self.params.centered else 0

    def reset(self) -> None:
        self.masks: deque[np.ndarray] = deque()
        self.waiting: deque[Sample] = deque()
        self.count: np.ndarray | None = None

    def _push(self, mask: np.ndarray) -> None:
        if self.count is None or self.count.shape != mask.shape:
            self.count = np.zeros(mask.shape, np.uint8)
            self.masks.clear()
        self.count += mask.view(np.uint8)
        self.masks.append(mask)

    def _pop(self) -> None:
        self.count -= self.masks.popleft().view(np.uint8)

    def _vote(self) -> np.ndarray:
        return self.count > votes_needed(self.params.threshold, len(self.masks))

    def process(self, sample: Sample) -> Sample:
        # causal form
        self._push(sample["fg"])
        if len(self.masks) > self.params.window:
            self._pop()
        sample["fg"] = self._vote()
        return sample

    def step(self, sample: Sample) -> list[Sample]:
        if not self.params.centered:
            return [self.process(sample)]
        half = self.params.window // 2
        self._push(sample["fg"])
        self.waiting.append(sample)
        if len(self.waiting) <= half:
            return []
        return [self._emit(half)]

    def _emit(self, ahead: int) -> Sample:
        """Emit the oldest waiting sample, whose window reaches ``ahead`` frames past it."""
        half = self.params.window // 2
        # keep at most `half` frames behind the emitted one
        while len(self.masks) > half + 1 + ahead:
            self._pop()
        out = self.waiting.popleft()
        out["fg"] = self._vote()
        return out

    def flush(self) -> list[Sample]:
        if not self.params.centered:
            return []
        out = []
        while self.waiting:
            ahead = len(self.waiting) - 1
            out.append(self._emit(ahead))
        return out
