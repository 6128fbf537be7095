"""The versions and the machine a comparison ran with (for its report)."""
from __future__ import annotations

import os
import platform
import sys
from importlib import metadata

__all__ = ["environment"]

#: Distributions whose versions decide masks or speed.
PACKAGES = ("numpy", "opencv-contrib-python-headless", "opencv-python-headless", "scipy", "scikit-image", "numba",
            "PyMaxflow", "pydensecrf2", "pybgs", "dask")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(threads: int | None = None, workers: int | None = None, scheduler: str | None = None) -> dict:
    """``{"versions": {...}, "machine": {...}}`` of this process."""
    from classicseg import __version__

    versions = {"classicseg": __version__, "python": sys.version.split()[0]}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    try:
        import cv2

        versions["opencv (cv2)"] = cv2.__version__
    except ImportError:  # pragma: no cover - a hard dependency
        pass
    machine = {"system": platform.platform(), "cpu": _cpu_model(), "cpus": os.cpu_count(),
               "opencv threads per worker": threads, "workers": workers}
    if scheduler:
        machine["dask scheduler"] = scheduler
    return {"versions": versions, "machine": {k: v for k, v in machine.items() if v is not None}}
