"""Every BGSLibrary background subtractor (SuBSENSE, PAWCS, LOBSTER, ViBe, ...) through pybgs.

``bgsub.bgslibrary`` runs any algorithm the installed ``pybgs`` exposes (26 when it is
built against OpenCV 4; the others need OpenCV 2 or 3), chosen with ``algorithm``; the
algorithm's own parameters are given beside it under their BGSLibrary names
(``fRelLBSPThreshold``, ``nBGSamples``, ...), checked against the names and types the
algorithm declares, and handed to it through its configuration file (the only way
BGSLibrary takes parameters, see :mod:`classicseg.io.bgsconfig`).

pybgs is optional: it builds against the system OpenCV (``apt-get install
libopencv-dev cmake``, then ``pip install --no-deps --no-build-isolation pybgs``).
Without it the stage is listed but refuses to run with a one-line error naming that
step. The module is imported only when the stage is used (importing it costs ~0.2 s).

Output conventions: a pixel is foreground when the algorithm writes 255 (as the CDnet
comparator counts it); algorithms that return a colour mask (AdaptiveBackgroundLearning
thresholds each channel) are foreground where any channel is 255; the shadow labels of
KNN (127) and IndependentMultimodal (80) go to the ``shadow`` mask. IndependentMultimodal's
"persistence" label (180: a stopped object being absorbed) is neither.

Randomised algorithms (ViBe, TwoPoints, LOBSTER, SuBSENSE, PAWCS, KNN) draw from C's
``rand()`` and OpenCV's RNG; both are seeded with ``seed`` before the first frame, so a
run repeats exactly and equals pybgs called directly after the same seeding. KDE and
SigmaDelta read uninitialised memory in pybgs 3.3: their masks vary from run to run,
also when pybgs is called directly.

References
----------
A. Sobral, "BGSLibrary: An OpenCV C++ Background Subtraction Library", WVC 2013.
A. Sobral, A. Vacavant, "A comprehensive review of background subtraction algorithms
evaluated with synthetic and real videos", CVIU 122, 2014.
P.-L. St-Charles, G.-A. Bilodeau, R. Bergevin, "SuBSENSE: A universal change detection
method with local adaptive sensitivity", IEEE TIP 24(1), 2015 (and PAWCS, WACV 2015).
O. Barnich, M. Van Droogenbroeck, "ViBe: A universal background subtraction algorithm for
video sequences", IEEE TIP 20(6), 2011.
"""
from __future__ import annotations

import ctypes
import importlib.util
import weakref
from functools import lru_cache

import numpy as np
from pydantic import ConfigDict, Field, field_validator, model_validator

from classicseg.errors import ClassicsegError
from classicseg.registry import nearest, register
from classicseg.stage import Params, Stage
from classicseg.types import Sample

#: The one-line install step, shown whenever pybgs is needed and missing.
INSTALL = ("apt-get install libopencv-dev cmake g++, then pip install setuptools wheel && "
           "pip install --no-deps --no-build-isolation pybgs (it builds against the system OpenCV)")

#: Labels other than 255 that an algorithm gives shadow pixels.
SHADOW_LABELS = {"KNN": 127, "IndependentMultimodal": 80}

#: Algorithms whose first frame only initialises the model (pybgs leaves that output unset).
FIRST_FRAME_UNSET = frozenset({"SigmaDelta"})

#: Algorithms that crash when destroyed before they have seen enough frames (pybgs 3.3 frees
#: memory it allocates only then): frames they need, from their configuration.
_SAFE_TO_DESTROY_AFTER = {
    "KDE": lambda cfg: cfg.get("framesToLearn", 10) + 1,
    **{name: (lambda cfg: 1) for name in ("LBAdaptiveSOM", "LBFuzzyAdaptiveSOM", "LBFuzzyGaussian",
                                          "LBMixtureOfGaussians", "LBSimpleGaussian", "VuMeter")},
}


def available() -> bool:
    """Whether pybgs can be imported (checked without importing it)."""
    return importlib.util.find_spec("pybgs") is not None


@lru_cache(maxsize=1)
def _pybgs():
    if not available():
        raise ClassicsegError(f"bgsub.bgslibrary needs pybgs, which is not installed: {INSTALL}")
    try:
        import pybgs
    except ImportError as exc:  # built against an OpenCV that is gone, say
        raise ClassicsegError(f"pybgs is installed but cannot be imported ({exc}); reinstall it: {INSTALL}") from None
    return pybgs


@lru_cache(maxsize=1)
def algorithms() -> tuple[str, ...]:
    """Names of the algorithms the installed pybgs exposes, sorted.

    Raises
    ------
    ClassicsegError
        pybgs is missing (the message names the install step).
    """
    mod = _pybgs()
    return tuple(sorted(n for n in dir(mod)
                        if isinstance(getattr(mod, n), type) and callable(getattr(getattr(mod, n), "apply", None))))


@lru_cache(maxsize=None)
def defaults(algorithm: str) -> dict:
    """``{parameter: default}`` of one algorithm, as the algorithm itself declares them."""
    from classicseg.io.bgsconfig import default_config

    values, probe = default_config(getattr(_pybgs(), algorithm))
    handle = _Handle(probe, algorithm, values)
    del probe
    handle.release()
    return values


def catalog() -> dict[str, dict]:
    """Every algorithm with its parameters and defaults (empty without pybgs)."""
    if not available():
        return {}
    return {name: defaults(name) for name in algorithms()}


def check_params(algorithm: str, values: dict) -> dict:
    """The algorithm's full configuration: its defaults updated with ``values``.

    Raises
    ------
    ValueError
        An unknown name (with the nearest valid one) or a value of the wrong type; every
        problem in one message.
    """
    known = defaults(algorithm)
    out = dict(known)
    errors = []
    for key, value in values.items():
        if key not in known:
            hint = nearest(key, known) or f" (its parameters: {', '.join(known) or 'none'})"
            errors.append(f"{algorithm} has no parameter {key!r}{hint}")
            continue
        kind = type(known[key])
        parsed = _as_number(value, kind)
        if parsed is None:
            what = "an integer" if kind is int else "a number"
            errors.append(f"{algorithm}.{key} must be {what} (default {known[key]}), got {value!r}")
        else:
            out[key] = parsed
    if errors:
        raise ValueError("; ".join(errors))
    return out


def _as_number(value, kind: type) -> int | float | None:
    """``value`` as an ``int`` (booleans are 0/1 switches) or a ``float``; None when it is
    not one (numbers written as text, such as YAML's ``1e-7``, are accepted)."""
    if isinstance(value, str):
        try:
            value = int(value) if kind is int else float(value)
        except ValueError:
            return None
    if isinstance(value, (bool, np.bool_)):
        return int(value) if kind is int else None
    if isinstance(value, (int, np.integer)):
        return kind(value)
    if isinstance(value, (float, np.floating)) and kind is float and np.isfinite(value):
        return float(value)
    return None


def split_output(raw: np.ndarray, algorithm: str) -> tuple[np.ndarray, np.ndarray]:
    """A pybgs foreground image -> ``(fg, shadow)`` bool masks.

    Parameters
    ----------
    raw : ndarray of uint8, shape (H, W) or (H, W, 3)
        What the algorithm's ``apply`` returned.
    algorithm : str
        Its name (selects the shadow label, :data:`SHADOW_LABELS`).

    Returns
    -------
    fg, shadow : ndarray of bool, shape (H, W)
        ``fg`` where the value is 255 (any channel of a colour mask); ``shadow`` where it is
        the algorithm's shadow label (empty when it has none).
    """
    raw = np.asarray(raw)
    if raw.ndim == 3:
        fg = (raw == 255).any(axis=2)
        shadow = np.zeros(fg.shape, bool)
    else:
        fg = raw == 255
        label = SHADOW_LABELS.get(algorithm)
        shadow = raw == label if label is not None else np.zeros(fg.shape, bool)
    return fg, shadow


def seed_rngs(seed: int) -> None:
    """Seed C's ``rand()`` and OpenCV's RNG *as pybgs sees them* (the system OpenCV it
    links, not the ``cv2`` wheel's), in the calling thread."""
    lib = ctypes.CDLL(_pybgs().__file__)      # dlsym searches pybgs and its dependencies
    lib.srand(ctypes.c_uint(seed))
    try:
        set_seed = lib._ZN2cv10setRNGSeedEi    # cv::setRNGSeed(int)
    except AttributeError:                     # another C++ ABI: rand() is the main source anyway
        return
    set_seed(ctypes.c_int(seed))


class BGSLibraryParams(Params):
    """``algorithm`` and ``seed``; any other key is a parameter of the algorithm."""

    model_config = ConfigDict(extra="allow", frozen=True)

    algorithm: str = Field("SuBSENSE", description="the pybgs algorithm (see `classicseg stages bgsub.bgslibrary`); "
                           "its own parameters go beside it under their BGSLibrary names")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="seed of rand() and OpenCV's RNG before the first frame (runs repeat)")

    @field_validator("algorithm")
    @classmethod
    def _known(cls, v: str) -> str:
        names = algorithms()          # ClassicsegError naming the install step without pybgs
        if v not in names:
            raise ValueError(f"unknown pybgs algorithm {v!r}{nearest(v, names)}; pybgs {_pybgs().__version__} has: "
                             f"{', '.join(names)}")
        return v

    @model_validator(mode="after")
    def _own_params(self):
        check_params(self.algorithm, dict(self.model_extra or {}))
        return self

    def config(self) -> dict:
        """The algorithm's full configuration (defaults updated with the given parameters)."""
        return check_params(self.algorithm, dict(self.model_extra or {}))


class _Handle:
    """A pybgs object, the frames it has seen, and a safe way to let it go."""

    def __init__(self, model, algorithm: str, config: dict) -> None:
        self.model = model
        self.frames = 0
        need = _SAFE_TO_DESTROY_AFTER.get(algorithm)
        self.safe_after = need(config) if need else 0

    def release(self) -> None:
        """Destroy the object (its destructor's printing silenced), or keep it for the life
        of the process when destroying it now would crash (:data:`_SAFE_TO_DESTROY_AFTER`)."""
        model, self.model = self.model, None
        if model is None:
            return
        if self.frames < self.safe_after:
            ctypes.pythonapi.Py_IncRef(ctypes.py_object(model))   # never freed, never crashes
            return
        from classicseg.io.bgsconfig import quiet_stdout

        with quiet_stdout():
            del model


@register
class BGSLibrary(Stage):
    """Any BGSLibrary algorithm through pybgs (SuBSENSE, PAWCS, LOBSTER, ViBe, ...), its parameters checked."""

    name = "bgsub.bgslibrary"
    Params = BGSLibraryParams
    requires = ("image",)
    provides = ("fg", "shadow")
    cite = ("A. Sobral, BGSLibrary: an OpenCV C++ background subtraction library, WVC 2013; "
            "each algorithm's own paper (Sobral & Vacavant, CVIU 122, 2014 reviews them)")

    @classmethod
    def variants(cls) -> dict[str, dict]:
        """``{algorithm: {parameter: default}}`` for the listing (empty without pybgs)."""
        return catalog()

    @classmethod
    def variants_note(cls) -> str:
        """One line for the listing about where the variants come from."""
        if not available():
            return f"pybgs is not installed, so no algorithm is available: {INSTALL}"
        return f"{len(algorithms())} algorithms of pybgs {_pybgs().__version__} (parameters = defaults):"

    def reset(self) -> None:
        from classicseg.io.bgsconfig import build

        old = getattr(self, "_handle", None)
        if old is not None:
            self._finalizer.detach()
            old.release()
        p = self.params
        config = p.config()
        self._handle = _Handle(build(getattr(_pybgs(), p.algorithm), config), p.algorithm, config)
        self._finalizer = weakref.finalize(self, self._handle.release)
        self.t = 0

    def process(self, sample: Sample) -> Sample:
        from classicseg.io.bgsconfig import quiet_stdout

        img = np.ascontiguousarray(sample.image)
        if self.t == 0:
            seed_rngs(self.params.seed)
        with quiet_stdout():
            raw = self._handle.model.apply(img)
        self._handle.frames += 1
        if self.t == 0 and self.params.algorithm in FIRST_FRAME_UNSET:
            raw = np.zeros(img.shape[:2], np.uint8)
        self.t += 1
        sample["fg"], sample["shadow"] = split_output(raw, self.params.algorithm)
        return sample

    def background(self) -> np.ndarray | None:
        """The algorithm's current background image."""
        bg = self._handle.model.getBackgroundModel()
        return bg if bg is not None and bg.size else None
