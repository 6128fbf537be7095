"""Shared pieces of the background-subtraction stages.

* :class:`ScheduleParams` / :func:`learning_rate`: the learning-rate schedule every
  subtractor accepts (warm-up, then a set rate, or frozen).
* :func:`split_labels`: OpenCV's 0/127/255 output -> ``fg`` and ``shadow`` masks.
"""
from __future__ import annotations

from typing import Literal

import cv2
import numpy as np
from pydantic import Field, model_validator

from classicseg.stage import Params, Stage
from classicseg.types import Sample


def gray_of(sample: Sample) -> np.ndarray:
    """The sample's luminance (``gray`` slot), converted once and cached on the sample."""
    gray = sample.data.get("gray")
    if gray is None:
        gray = cv2.cvtColor(sample.image, cv2.COLOR_BGR2GRAY)
        sample["gray"] = gray
    return gray


SWITCH_FIELD = Field(
    None, gt=0, le=1,
    description="a global illumination switch: when this share of the frame turns foreground at once, "
    "re-learn the background from the frame, report an event and suppress the false alarm (null = off)",
)


class ScheduleParams(Params):
    input: Literal["bgr", "gray"] = Field(
        "bgr", description="model the colour frame, or its luminance (faster; shadows by brightness only)"
    )
    learning_rate: float = Field(
        -1.0, ge=-1.0, le=1.0,
        description="rate after warm-up: -1 lets the algorithm choose (1/history), 0 freezes the model",
    )
    warmup_frames: int = Field(0, ge=0, le=1_000_000, description="frames learned at warmup_rate before learning_rate applies")
    warmup_rate: float = Field(-1.0, ge=-1.0, le=1.0, description="rate during warm-up (-1 = automatic)")
    switch_fraction: float | None = SWITCH_FIELD
    freeze_after: int | None = Field(
        None, ge=1, le=10**12, description="stop learning (rate 0) from this frame on; null = never"
    )

    @model_validator(mode="after")
    def _check_schedule(self):
        if self.freeze_after is not None and self.freeze_after < self.warmup_frames:
            raise ValueError(
                f"freeze_after ({self.freeze_after}) must be >= warmup_frames ({self.warmup_frames})"
            )
        return self


def learning_rate(p: ScheduleParams, t: int) -> float:
    """Learning rate for the ``t``-th frame (0-based) under schedule ``p``."""
    if p.freeze_after is not None and t >= p.freeze_after:
        return 0.0
    if t < p.warmup_frames:
        return p.warmup_rate
    return p.learning_rate


def split_labels(raw: np.ndarray, shadow_value: int | None = 127) -> tuple[np.ndarray, np.ndarray]:
    """Split an OpenCV subtractor output into ``(fg, shadow)`` bool masks.

    Foreground is 255 only; ``shadow_value`` marks shadow (``None``: the algorithm
    marks no shadows and the shadow mask is empty).
    """
    fg = raw == 255
    shadow = np.zeros(raw.shape, bool) if shadow_value is None else raw == shadow_value
    return fg, shadow


def illumination_switch(sample: Sample, fg: np.ndarray, fraction: float | None) -> bool:
    """True when ``fg`` covers at least ``fraction`` of the frame: a global lighting change
    (lights switched, sun behind a cloud), not objects. Records an ``illumination`` event
    on the sample; the caller re-learns its model and reports no foreground for the frame."""
    if fraction is None:
        return False
    return switch_event(sample, float(fg.mean()), fraction)


def switch_event(sample: Sample, share: float, fraction: float | None) -> bool:
    """:func:`illumination_switch` given the foreground's share of the frame (the CUDA backend
    counts it on the GPU)."""
    if fraction is None or share < fraction:
        return False
    sample.data.setdefault("events", []).append(
        {"frame": sample.index + 1, "name": sample.name, "event": "illumination", "fg_fraction": round(share, 3)})
    return True


class BackgroundSubtractor(Stage):
    """Base of the stages that wrap an OpenCV ``BackgroundSubtractor``."""

    requires = ("image",)
    provides = ("fg", "shadow")
    Params = ScheduleParams

    @classmethod
    def provided(cls, params) -> tuple[str, ...]:
        """``fg``, ``shadow``, and ``events`` when ``switch_fraction`` turns a global lighting
        change into an ``illumination`` event."""
        return cls.provides + (("events",) if params.switch_fraction is not None else ())

    def make(self):  # pragma: no cover - abstract
        """Return a fresh OpenCV subtractor built from ``self.params``."""
        raise NotImplementedError

    @property
    def shadow_value(self) -> int | None:
        """The label this subtractor gives shadow pixels, or None when it marks none."""
        p = self.params
        return p.shadow_value if getattr(p, "detect_shadows", False) else None

    def reset(self) -> None:
        self.model = self.make()
        self.t = 0

    def process(self, sample: Sample) -> Sample:
        p = self.params
        img = sample.image if p.input == "bgr" else gray_of(sample)
        raw = self.model.apply(img, learningRate=learning_rate(p, self.t))
        self.t += 1
        fg, shadow = split_labels(raw, self.shadow_value)
        if illumination_switch(sample, fg, p.switch_fraction):
            self.model.apply(img, learningRate=1.0)  # the new lighting is the background now
            fg = np.zeros_like(fg)
            shadow = np.zeros_like(shadow)
        sample["fg"] = fg
        sample["shadow"] = shadow
        return sample

    def background(self) -> np.ndarray | None:
        """The current background image, where the algorithm provides one."""
        try:
            return self.model.getBackgroundImage()
        except Exception:  # some bgsegm models have none  # noqa: BLE001
            return None
