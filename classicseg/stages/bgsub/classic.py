"""Two textbook background models that OpenCV and pybgs (on OpenCV 4) do not offer.

* :func:`approximate_median` (``bgsub.median``): McFarlane & Schofield's approximate median,
  the background moving one grey level per frame towards each new frame. Three lines of
  arithmetic, a model a student can reason about, and robust to objects that pass.
* :class:`Eigenbackground` (``bgsub.eigen``): Oliver, Rosario & Pentland's eigenspace model,
  the background as the mean and first principal components of a set of frames; a frame
  minus its reconstruction from that space is what the background cannot explain.

Both read the colour frame (a pixel is foreground when any channel is off by more than the
threshold) or its luminance (``input: gray``).
"""
from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from classicseg.errors import ClassicsegError
from classicseg.registry import register
from classicseg.stage import Params, Stage
from classicseg.stages.bgsub.base import gray_of
from classicseg.types import Sample


def _frame_of(sample: Sample, mode: str) -> np.ndarray:
    """The frame as the model sees it: ``(H, W, C)`` uint8 (C = 3 for ``bgr``, 1 for ``gray``)."""
    img = sample.image if mode == "bgr" else gray_of(sample)
    return img if img.ndim == 3 else img[:, :, None]


def approximate_median(frame: np.ndarray, background: np.ndarray, threshold: int, step: int = 1) -> np.ndarray:
    """One step of the approximate median background: the foreground, and ``background`` updated in place.

    Parameters
    ----------
    frame : ndarray of uint8, shape (H, W) or (H, W, C)
    background : ndarray of int16, the same shape
        The running estimate; each value moves ``step`` towards the frame (up where the frame is
        brighter, down where it is darker), so that over time it settles where half the frames
        are brighter and half darker: the per-pixel median.
    threshold : int
        A pixel is foreground when any channel differs from the background by more than this.
    step : int
        Grey levels the background moves per frame (faster adaptation, noisier model).

    Returns
    -------
    ndarray of bool, shape (H, W)

    References
    ----------
    N. J. B. McFarlane, C. P. Schofield, "Segmentation and tracking of piglets in images",
    Machine Vision and Applications 8(3), 1995.
    """
    f = np.asarray(frame)
    if f.shape != background.shape:
        raise ClassicsegError(f"approximate_median: the frame is {f.shape} but the background is {background.shape}")
    diff = f.astype(np.int16) - background
    fg = np.abs(diff) > threshold
    background += np.sign(diff).astype(np.int16) * np.int16(step)
    return fg.any(axis=-1) if fg.ndim == 3 else fg


class MedianParams(Params):
    input: Literal["bgr", "gray"] = Field("bgr", description="model the colour frame, or its luminance")
    threshold: int = Field(30, ge=0, le=254, description="difference from the background (grey levels, any "
                                                        "channel) that counts as foreground")
    step: int = Field(1, ge=1, le=64, description="grey levels the background moves towards each frame")


@register
class ApproximateMedian(Stage):
    """Approximate median background (McFarlane & Schofield 1995): one grey level per frame towards the frame."""

    name = "bgsub.median"
    Params = MedianParams
    requires = ("image",)
    provides = ("fg",)
    cite = ("N. J. B. McFarlane, C. P. Schofield, Segmentation and tracking of piglets in images, "
            "Machine Vision and Applications 8(3), 1995")

    def memory_per_pixel(self) -> int:
        return 16

    def reset(self) -> None:
        self.model: np.ndarray | None = None

    def process(self, sample: Sample) -> Sample:
        f = _frame_of(sample, self.params.input)
        if self.model is None or self.model.shape != f.shape:
            self.model = f.astype(np.int16)  # the first frame is the first estimate
        sample["fg"] = approximate_median(f, self.model, self.params.threshold, self.params.step)
        return sample

    def background(self) -> np.ndarray | None:
        """The current background estimate (uint8), or None before the first frame."""
        return None if self.model is None else np.clip(self.model, 0, 255).astype(np.uint8).squeeze()


def fit_eigenbackground(frames: np.ndarray, n_components: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean and first principal axes of a stack of frames.

    Parameters
    ----------
    frames : ndarray, shape (N, P)
        N frames of P values each (N >= 2).
    n_components : int
        Axes kept (at most N - 1).

    Returns
    -------
    mean : ndarray of float32, shape (P,)
    axes : ndarray of float32, shape (K, P)
        Orthonormal rows, K <= min(n_components, N - 1): directions with (numerically) no
        variance are left out, so identical frames give K = 0 (the mean alone).
    """
    x = np.asarray(frames, np.float32)
    if x.ndim != 2 or x.shape[0] < 2:
        raise ClassicsegError(f"fit_eigenbackground: needs a (N >= 2, P) stack, got shape {x.shape}")
    mean = x.mean(axis=0)
    # the N x N Gram matrix instead of the P x P covariance (Turk & Pentland's trick): N is small
    c = x - mean
    w, v = np.linalg.eigh(c @ c.T)
    k = min(n_components, x.shape[0] - 1)
    order = np.argsort(w)[::-1][:k]
    w, v = w[order], v[:, order]
    keep = w > max(float(w[0]), 0.0) * 1e-6  # directions the frames do not vary along carry no axis
    w, v = w[keep], v[:, keep]
    axes = (v.T @ c) / np.sqrt(w)[:, None]
    return mean, axes.astype(np.float32)


def eigen_residual(frame: np.ndarray, mean: np.ndarray, axes: np.ndarray) -> np.ndarray:
    """``|frame - reconstruction|``: the part of a flattened frame the eigenbackground cannot explain.

    Parameters
    ----------
    frame : ndarray, shape (P,)
    mean : ndarray, shape (P,)
    axes : ndarray, shape (K, P)

    Returns
    -------
    ndarray of float32, shape (P,)
    """
    c = np.asarray(frame, np.float32) - mean
    return np.abs(c - (axes @ c) @ axes)


class EigenParams(Params):
    input: Literal["bgr", "gray"] = Field("gray", description="model the colour frame, or its luminance")
    n_frames: int = Field(50, ge=2, le=1000, description="frames the eigenspace is learned from (the first ones, "
                                                         "then the latest ones at every update)")
    n_components: int = Field(10, ge=1, le=999, description="principal components kept (fewer than n_frames)")
    threshold: int = Field(30, ge=0, le=254, description="residual (grey levels, any channel) that counts as "
                                                        "foreground")
    update_every: int = Field(0, ge=0, le=1_000_000, description="re-learn the eigenspace from the latest "
                                                               "n_frames frames every this many frames (0: never)")

    @model_validator(mode="after")
    def _fits(self):
        if self.n_components >= self.n_frames:
            raise ValueError(f"n_components ({self.n_components}) must be below n_frames ({self.n_frames})")
        return self


@register
class Eigenbackground(Stage):
    """Eigenbackground (Oliver, Rosario & Pentland 2000): the residual of each frame's projection on the
    principal components of background frames. No foreground until ``n_frames`` have been seen."""

    name = "bgsub.eigen"
    Params = EigenParams
    requires = ("image",)
    provides = ("fg",)
    cite = ("N. M. Oliver, B. Rosario, A. P. Pentland, A Bayesian computer vision system for modeling "
            "human interactions, TPAMI 22(8), 2000")

    def memory_per_pixel(self) -> int:
        p = self.params
        channels = 3 if p.input == "bgr" else 1
        return channels * (p.n_frames + 4 * (p.n_components + 2))

    def reset(self) -> None:
        self.frames: list[np.ndarray] = []
        self.mean: np.ndarray | None = None
        self.axes: np.ndarray | None = None
        self.since = 0
        self.shape: tuple[int, ...] | None = None

    def process(self, sample: Sample) -> Sample:
        p = self.params
        f = _frame_of(sample, p.input)
        if self.shape is None:
            self.shape = f.shape
        elif self.shape != f.shape:
            raise ClassicsegError(f"bgsub.eigen: frame {sample.index} is {f.shape[1]}x{f.shape[0]}, "
                                  f"the earlier ones {self.shape[1]}x{self.shape[0]}")
        learning = self.mean is None or p.update_every > 0
        if learning:
            self.frames.append(f.copy())
            del self.frames[:-p.n_frames]
        self.since += 1
        if self.mean is None and len(self.frames) == p.n_frames or (
                self.mean is not None and p.update_every and self.since >= p.update_every):
            self.mean, self.axes = fit_eigenbackground(np.stack([x.reshape(-1) for x in self.frames]),
                                                       p.n_components)
            self.since = 0
        if self.mean is None:
            fg = np.zeros(f.shape[:2], bool)
        else:
            res = eigen_residual(f.reshape(-1), self.mean, self.axes).reshape(f.shape)
            fg = (res > p.threshold).any(axis=-1)
        if self.mean is not None and not p.update_every:
            self.frames = []  # the model is fixed: the frames it came from are not needed any more
        sample["fg"] = fg
        return sample

    def background(self) -> np.ndarray | None:
        """The mean background image (uint8), once learned."""
        if self.mean is None:
            return None
        return np.clip(self.mean.reshape(self.shape), 0, 255).astype(np.uint8).squeeze()
