"""The CUDA backend: OpenCV's ``cv2.cuda`` module (needs an OpenCV built with CUDA).

GPU data lives in the sample's ``gpu`` slot, a dict ``slot name -> cv2.cuda_GpuMat``
(``image`` BGR, ``gray``, and masks as uint8 0/255). A GPU adapter reads its input from
there (uploading the host frame the first time), writes its output there, and, when
the next stage runs on the CPU or a sink comes next, downloads its outputs into the
ordinary ``fg``/``shadow`` slots as bool masks, once.

Implemented on the GPU: ``bgsub.mog2`` (``cv2.cuda.createBackgroundSubtractorMOG2``,
same parameters, learning-rate schedule and illumination-switch handling; the 0/127/255
labels are split with ``cv2.cuda.threshold``, or on the host when they are downloaded), ``morph.open`` and ``morph.close``
(``cv2.cuda.createMorphologyFilter``), ``morph.median`` (``cv2.cuda.createMedianFilter``),
``flow.farneback`` (``cv2.cuda.cvtColor``,
``cv2.cuda.resize`` and ``cv2.cuda.FarnebackOpticalFlow``; the flow is downloaded, as the
stages that read it run on the CPU).
"""
from __future__ import annotations

import cv2
import numpy as np

from classicseg.backends.cpu import Backend
from classicseg.stage import Stage
from classicseg.stages.flow import scaled_size, upscale_flow, write_flow
from classicseg.types import Sample

__all__ = ["CUDABackend", "gpu_slots"]


_FRAMES = ("image", "gray")  # GPU copies of the frame itself, never downloaded


def gpu_slots(sample: Sample) -> dict:
    """The sample's ``gpu`` slot (created empty on first use)."""
    g = sample.data.get("gpu")
    if g is None:
        g = sample.data["gpu"] = {}
    return g


def _upload(array: np.ndarray):
    m = cv2.cuda_GpuMat()
    m.upload(np.ascontiguousarray(array))
    return m


def _gpu_image(sample: Sample, gray: bool):
    g = gpu_slots(sample)
    if "image" not in g:
        g["image"] = _upload(sample.image)
    if not gray:
        return g["image"]
    if "gray" not in g:
        g["gray"] = cv2.cuda.cvtColor(g["image"], cv2.COLOR_BGR2GRAY)
    return g["gray"]


def _gpu_mask(sample: Sample, slot: str):
    g = gpu_slots(sample)
    if slot not in g:
        g[slot] = _upload(sample[slot].view(np.uint8) * np.uint8(255))
    return g[slot]


class _GpuStage(Stage):
    """A GPU twin of a CPU stage: same name, params, slots; output kept on the GPU."""

    def __init__(self, cpu_stage: Stage, backend: "CUDABackend") -> None:
        self.cpu = cpu_stage
        self.name = cpu_stage.name
        self.requires = cpu_stage.requires
        self.provides = cpu_stage.provides
        self.backend = backend
        self.download_after = True  # set by CUDABackend.prepare
        super().__init__(cpu_stage.params)

    def _finish(self, sample: Sample, slots) -> Sample:
        if self.download_after:  # the host owns these slots from here on (a CPU stage may change them)
            g = gpu_slots(sample)
            # this stage's masks and any an earlier GPU stage left there (MOG2's shadow before a filter)
            for s in [*slots, *(k for k in g if k not in slots and k not in _FRAMES)]:
                sample[s] = g.pop(s).download() > 0
        return sample

    def __repr__(self) -> str:
        return f"cuda:{self.cpu!r}"


class _GpuMOG2(_GpuStage):
    def reset(self) -> None:
        p = self.params
        from classicseg.stages.bgsub.opencv import configure_mog2

        self.model = configure_mog2(cv2.cuda.createBackgroundSubtractorMOG2(p.history, p.var_threshold,
                                                                            p.detect_shadows), p)
        self.stream = cv2.cuda.Stream_Null()
        self.t = 0

    def process(self, sample: Sample) -> Sample:
        from classicseg.stages.bgsub.base import learning_rate, split_labels, switch_event

        p = self.params
        img = _gpu_image(sample, p.input == "gray")
        raw = self.model.apply(img, learning_rate(p, self.t), self.stream)
        self.t += 1
        h, w = sample.shape
        watch = p.switch_fraction is not None
        if self.download_after:  # a CPU stage or a sink is next: one download, split on the host
            fg, shadow = split_labels(raw.download(), p.shadow_value if p.detect_shadows else None)
            share = float(fg.mean()) if watch else 0.0
        else:  # labels are 0, shadow_value and 255: fg = raw > 254
            _, fg = cv2.cuda.threshold(raw, 254, 255, cv2.THRESH_BINARY)
            share = cv2.cuda.countNonZero(fg) / (h * w) if watch else 0.0
        if switch_event(sample, share, p.switch_fraction):
            self.model.apply(img, 1.0, self.stream)  # the new lighting is the background now
            # host masks; a GPU stage next uploads them
            sample["fg"], sample["shadow"] = np.zeros((h, w), bool), np.zeros((h, w), bool)
            return sample
        if self.download_after:
            sample["fg"], sample["shadow"] = fg, shadow
            return sample
        g = gpu_slots(sample)
        g["fg"] = fg
        if p.detect_shadows:  # shadow = (raw > shadow_value - 1) xor fg
            _, ge = cv2.cuda.threshold(raw, p.shadow_value - 1, 255, cv2.THRESH_BINARY)
            g["shadow"] = cv2.cuda.bitwise_xor(ge, fg)
        else:
            sample["shadow"] = np.zeros((h, w), bool)
        return sample


class _GpuMorph(_GpuStage):
    op = cv2.MORPH_OPEN

    def reset(self) -> None:
        from classicseg.stages.morph import structuring_element

        p = self.params
        self.filter = cv2.cuda.createMorphologyFilter(self.op, cv2.CV_8UC1, structuring_element(p.radius, p.shape),
                                                      iterations=p.iterations)

    def process(self, sample: Sample) -> Sample:
        g = gpu_slots(sample)
        g["fg"] = self.filter.apply(_gpu_mask(sample, "fg"))
        return self._finish(sample, ("fg",))


class _GpuClose(_GpuMorph):
    op = cv2.MORPH_CLOSE


class _GpuMedian(_GpuStage):
    """``morph.median`` with ``cv2.cuda.createMedianFilter`` on the 0/255 mask."""

    def reset(self) -> None:
        self.filter = cv2.cuda.createMedianFilter(cv2.CV_8UC1, self.params.ksize)

    def process(self, sample: Sample) -> Sample:
        g = gpu_slots(sample)
        g["fg"] = self.filter.apply(_gpu_mask(sample, "fg"))
        return self._finish(sample, ("fg",))


class _GpuFarneback(_GpuStage):
    """``flow.farneback`` on the GPU: grey conversion, down-scaling and the flow itself
    (``cv2.cuda.FarnebackOpticalFlow``) stay there; the low-resolution flow is downloaded and
    brought to full size on the host, where the stages that read ``flow`` run."""

    def reset(self) -> None:
        p = self.params
        self.engine = cv2.cuda.FarnebackOpticalFlow.create(p.levels, p.pyr_scale, False, p.winsize, p.iterations,
                                                           p.poly_n, p.poly_sigma, 0)
        self.prev = None
        self.shape: tuple[int, int] | None = None

    def _flow(self, a, b) -> np.ndarray:
        h, w = self.shape
        return upscale_flow(self.engine.calc(a, b, None).download(), w, h)

    def process(self, sample: Sample) -> Sample:
        gray = _gpu_image(sample, True)
        h, w = sample.shape
        if self.params.scale != 1.0:
            gray = cv2.cuda.resize(gray, scaled_size(w, h, self.params.scale), interpolation=cv2.INTER_AREA)
        first = self.prev is None or self.shape != (h, w)
        self.shape = (h, w)
        write_flow(sample, self.params, None if first else self._flow, gray, self.prev)
        self.prev = gray
        return sample


_GPU_STAGES = {"bgsub.mog2": _GpuMOG2, "morph.open": _GpuMorph, "morph.close": _GpuClose, "morph.median": _GpuMedian,
               "flow.farneback": _GpuFarneback}


class CUDABackend(Backend):
    """OpenCV CUDA: MOG2, morphology, median filter and Farneback flow on the GPU, everything else on the CPU."""

    name = "cuda"
    is_gpu = True

    def prepare(self, stages: list) -> list:
        out = []
        for s in super().prepare(stages):
            cls = _GPU_STAGES.get(s.name)
            out.append(cls(s, self) if cls is not None else s)
        for i, s in enumerate(out):
            if isinstance(s, _GpuStage):
                nxt = out[i + 1] if i + 1 < len(out) else None
                s.download_after = not isinstance(nxt, _GpuStage)
        return out

    def upload(self, array: np.ndarray):
        return _upload(array)

    def download(self, data) -> np.ndarray:
        return data.download() if isinstance(data, cv2.cuda_GpuMat) else data

    def cvt_color(self, image, code: int):
        return cv2.cuda.cvtColor(image, code)

    def resize(self, image, size: tuple[int, int], interpolation: int = cv2.INTER_LINEAR):
        return cv2.cuda.resize(image, size, interpolation=interpolation)

    def morphology(self, op: int, mask_u8, kernel: np.ndarray, iterations: int = 1):
        f = cv2.cuda.createMorphologyFilter(op, cv2.CV_8UC1, kernel, iterations=iterations)
        return f.apply(mask_u8)

    def mog2(self, history: int, var_threshold: float, detect_shadows: bool):
        return cv2.cuda.createBackgroundSubtractorMOG2(history, var_threshold, detect_shadows)

    def farneback(self, prev, curr, pyr_scale=0.5, levels=3, winsize=15, iterations=3, poly_n=5,
                  poly_sigma=1.2, flags=0):
        fb = cv2.cuda.FarnebackOpticalFlow.create(levels, pyr_scale, False, winsize, iterations, poly_n,
                                                  poly_sigma, flags)
        return fb.calc(prev, curr, None)
