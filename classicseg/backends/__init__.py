"""Where stages run: ``cpu`` (OpenCV on the host) or ``cuda`` (OpenCV's ``cv2.cuda``).

This package is the only place that touches ``cv2.cuda``. A :class:`Backend` turns a
list of built stages into the list the pipeline runs (:meth:`Backend.prepare`): the
CPU backend returns it as it is; the CUDA backend swaps the stages it has a GPU
implementation for (``bgsub.mog2``, ``morph.open``, ``morph.close``, ``morph.median``,
``flow.farneback``) for adapters that
keep the frame and masks on the GPU in the sample's ``gpu`` slot (a dict of
``cv2.cuda_GpuMat``), and downloads them into the ordinary slots only where a CPU stage
or a sink comes next. Every other stage runs on the CPU as before.

``auto`` picks ``cuda`` when :func:`cuda_available`, else ``cpu`` with one log line.
"""
from __future__ import annotations

import logging

from classicseg.errors import ClassicsegError, ConfigError
from classicseg.backends.cpu import Backend, CPUBackend

__all__ = ["BACKENDS", "Backend", "CPUBackend", "cuda_available", "resolve_backend", "NO_CUDA_MESSAGE"]

BACKENDS = ("auto", "cpu", "cuda")
NO_CUDA_MESSAGE = (
    "backend cuda requested but OpenCV has no CUDA device: cv2 was built without CUDA "
    "(pip wheels are CPU-only) — see README 'CUDA'"
)

log = logging.getLogger("classicseg")


def cuda_available() -> bool:
    """Whether this OpenCV was built with CUDA and sees at least one device."""
    try:
        import cv2

        return hasattr(cv2, "cuda") and cv2.cuda.getCudaEnabledDeviceCount() > 0
    except Exception:  # noqa: BLE001 - a broken driver or stub module means no CUDA
        return False


def resolve_backend(name: str | Backend | None = "cpu") -> Backend:
    """The backend called ``name`` (``auto``, ``cpu`` or ``cuda``; None = ``cpu``).

    Raises
    ------
    ConfigError
        For an unknown name (with the nearest valid one).
    ClassicsegError
        For ``cuda`` when OpenCV has no CUDA device.
    """
    if isinstance(name, Backend):
        return name
    name = "cpu" if name is None else str(name)
    if name not in BACKENDS:
        from classicseg.registry import nearest

        raise ConfigError(f"unknown backend {name!r}{nearest(name, BACKENDS)}; backends: {', '.join(BACKENDS)}")
    if name == "cpu":
        return CPUBackend()
    if cuda_available():
        from classicseg.backends.cuda import CUDABackend

        return CUDABackend()
    if name == "cuda":
        raise ClassicsegError(NO_CUDA_MESSAGE)
    log.info("backend auto: OpenCV has no CUDA device, running on the CPU")
    return CPUBackend()
