"""The stage contract every pipeline step follows, and the one check of a chain of stages.

A stage is a small stateful object around a pure function. It declares

* ``name``: the registry name used in config files (``bgsub.mog2``),
* ``Params``: a pydantic model, the single source of truth for its parameters
  (types, defaults, ranges, one-line docs),
* ``requires`` / ``provides``: the sample slots it reads and writes
  (see :data:`classicseg.types.SLOTS`); :meth:`Stage.provided` may add slots that depend
  on the parameters (a subtractor with ``switch_fraction`` also writes ``events``),
* ``feedback``: slots of the *finished* previous sample (after every later stage) that it
  reads on the next frame, handed to it by :meth:`Stage.observe` (``vos.propagate`` reads
  the final mask that a refinement stage after it wrote),
* ``needs``: inputs a run must hand it besides the frames: ``"init_mask"`` (the object's
  mask on the first frame, through :meth:`Stage.set_init_mask`),
* ``extras``: ``(module, extra)`` pairs of optional packages it imports, checked before
  the first frame (``("maxflow", "vos")``: ``pip install 'classicseg[vos]'``),
* ``latency``: how many frames it holds back (0 for causal stages; a stage with latency
  0 must return exactly ``[process(sample)]`` from ``step``, which lets the pipeline
  call ``process`` directly).

``process(sample)`` adds slots to the sample and returns it. A stage that needs
look-ahead overrides ``step``/``flush`` instead and returns samples as they become
ready (in order). ``reset()`` forgets all state (a new sequence).

A plain function can be a step too (:func:`as_stage`): ``f(image) -> mask`` by default,
or ``f(sample)`` with declared slots.
"""
from __future__ import annotations

import importlib.util
import inspect
from abc import ABC, abstractmethod
from typing import Any, Callable, ClassVar, Iterable

import numpy as np
from pydantic import BaseModel, ConfigDict

from classicseg.types import SLOTS, Sample

__all__ = ["Params", "Stage", "FunctionStage", "as_stage", "check_chain", "missing_extras", "NEEDS"]

#: What a stage may need from a run besides the frames (``Stage.needs``).
NEEDS = {"init_mask": "the object's mask on the first frame (Stage.set_init_mask)"}


class Params(BaseModel):
    """Base class of every stage's parameters: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Stage(ABC):
    name: ClassVar[str] = ""
    Params: ClassVar[type[Params]] = Params
    requires: ClassVar[tuple[str, ...]] = ("image",)
    provides: ClassVar[tuple[str, ...]] = ()
    feedback: ClassVar[tuple[str, ...]] = ()
    needs: ClassVar[tuple[str, ...]] = ()
    extras: ClassVar[tuple[tuple[str, str], ...]] = ()
    latency: ClassVar[int] = 0
    #: Paper or documentation the stage implements (shown by ``classicseg stages``).
    cite: ClassVar[str] = ""
    #: Rough bytes of state it keeps per frame pixel (models, buffers), for the memory check
    #: made before the first frame (:meth:`memory_per_pixel`).
    bytes_per_pixel: ClassVar[int] = 32
    #: Smallest frame side (pixels) it works on, checked before the first frame (:meth:`min_side`).
    min_frame_side: ClassVar[int] = 1

    def __init__(self, params: Params | None = None, **kwargs) -> None:
        if params is None:
            params = self.Params(**kwargs)
        elif kwargs:
            params = params.model_copy(update=kwargs)
        self.params = params
        self.reset()

    # -- the contract -----------------------------------------------------
    def reset(self) -> None:
        """Forget all per-sequence state."""

    @abstractmethod
    def process(self, sample: Sample) -> Sample:
        """Add this stage's slots to ``sample`` and return it."""

    def step(self, sample: Sample) -> list[Sample]:
        """Feed one sample; return the samples that are now complete, in order."""
        return [self.process(sample)]

    def flush(self) -> list[Sample]:
        """End of stream: return the samples still held back."""
        return []

    def observe(self, sample: Sample) -> None:
        """Receive a finished sample (after every stage) when ``feedback`` is declared."""

    def set_init_mask(self, ids: np.ndarray) -> None:
        """The object ids on the first frame, for stages whose ``needs`` has ``init_mask``."""
        raise TypeError(f"{self.name or type(self).__name__} takes no initial mask")

    def min_side(self) -> int:
        """Smallest frame side it works on with these parameters (default: :attr:`min_frame_side`)."""
        return self.min_frame_side

    def memory_per_pixel(self) -> int:
        """Rough bytes of state per frame pixel with these parameters (default:
        :attr:`bytes_per_pixel`); checked against the memory left before the first frame."""
        return self.bytes_per_pixel

    @classmethod
    def provided(cls, params: Params) -> tuple[str, ...]:
        """The slots this stage writes with ``params`` (default: ``provides``)."""
        return cls.provides

    # -- helpers ------------------------------------------------------------
    @classmethod
    def doc(cls) -> str:
        """The first line of the class docstring."""
        return (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.model_dump().items())
        return f"{type(self).__name__}({args})"


def check_declarations(cls: type[Stage]) -> list[str]:
    """Problems with what a stage class declares (slot and need names), for registration."""
    errors = []
    for attr in ("requires", "provides", "feedback"):
        for slot in getattr(cls, attr):
            if slot not in SLOTS:
                errors.append(f"{cls.__name__}.{attr} names unknown slot {slot!r} (known: {', '.join(SLOTS)})")
    for need in cls.needs:
        if need not in NEEDS:
            errors.append(f"{cls.__name__}.needs names unknown need {need!r} (known: {', '.join(NEEDS)})")
    if "init_mask" in cls.needs and cls.set_init_mask is Stage.set_init_mask:
        errors.append(f"{cls.__name__} needs an init_mask but does not implement set_init_mask")
    return errors


def check_chain(steps: Iterable[tuple[str, type[Stage], Params | None]], available: Iterable[str] = ("image",),
                providers: Callable[[str], list[str]] | None = None) -> list[str]:
    """Every slot a step requires must be provided by an earlier step or come with the frames.

    Parameters
    ----------
    steps : iterable of (label, stage class, params or None)
        In pipeline order; ``label`` names the step in messages (``stage 2 (morph.open)``).
        ``params`` None means "as declared" (``provides``).
    available : iterable of str
        Slots that come with the frames (``image``; ``prior`` when a run has one).
    providers : callable, optional
        ``providers(slot) -> stage names`` for a hint in the message.

    Returns
    -------
    list of str
        One message per step with missing inputs (empty when the chain is sound).
    """
    have = set(available)
    errors = []
    for label, cls, params in steps:
        missing = [s for s in cls.requires if s not in have]
        if missing:
            names = providers(missing[0]) if providers is not None else []
            hint = f" (add one of {', '.join(names[:4])} before it)" if names else ""
            if SLOTS.get(missing[0]) is not None and SLOTS[missing[0]].source and missing[0] != "image":
                hint = f" (it comes with the frames: give the run a {missing[0]})"
            errors.append(f"{label}: needs {', '.join(repr(m) for m in missing)}, which no earlier stage "
                          f"provides{hint}")
        have |= set(cls.provided(params) if params is not None else cls.provides)
    return errors


def missing_extras(classes: Iterable[type[Stage]]) -> list[str]:
    """One message per optional package that a stage needs and that is not installed."""
    out, seen = [], set()
    for cls in classes:
        for module, extra in cls.extras:
            if module in seen:
                continue
            seen.add(module)
            if importlib.util.find_spec(module) is None:
                out.append(f"{cls.name} needs the Python module {module!r}: pip install 'classicseg[{extra}]'")
    return out


# --------------------------------------------------------------------------- functions as stages
class FunctionParams(Params):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


class FunctionStage(Stage):
    """A plain function as a pipeline step (see :func:`as_stage`)."""

    Params = FunctionParams

    def __init__(self, fn: Callable, requires: tuple[str, ...], provides: tuple[str, ...], takes_sample: bool,
                 name: str) -> None:
        self.fn, self.takes_sample = fn, takes_sample
        self.name = name  # an instance attribute: function steps are not registered
        self.requires, self.provides = tuple(requires), tuple(provides)
        super().__init__(FunctionParams())

    def provided(self, params=None) -> tuple[str, ...]:  # type: ignore[override]
        return self.provides

    def process(self, sample: Sample) -> Sample:
        if self.takes_sample:
            out = self.fn(sample)
            if out is None or out is sample:
                return sample
        else:
            out = self.fn(*(sample[s] for s in self.requires))
        if isinstance(out, Sample):
            return out
        if len(self.provides) == 1:
            out = (out,)
        if not isinstance(out, tuple) or len(out) != len(self.provides):
            raise TypeError(f"step {self.name}: expected {len(self.provides)} value(s) for "
                            f"{', '.join(self.provides)}, got {type(out).__name__}")
        for slot, value in zip(self.provides, out):
            if SLOTS[slot].kind == "mask":
                value = np.asarray(value)
                value = value if value.dtype == bool else value > 0
            sample[slot] = value
        return sample

    def __repr__(self) -> str:
        return f"as_stage({self.name}, requires={self.requires}, provides={self.provides})"


def as_stage(fn: Callable | None = None, *, requires: Iterable[str] | None = None,
             provides: Iterable[str] = ("fg",), name: str | None = None) -> Any:
    """Wrap a plain function as a stage with declared slots (also usable as a decorator).

    * ``f(image) -> mask`` (the default): called with the frame, its result (any array;
      non-zero is foreground) becomes ``fg``;
    * ``requires=("image", "flow")``: called with those slots as positional arguments;
      ``provides=("fg", "prob")``: returns a tuple of that many values;
    * a function whose first parameter is named ``sample`` gets the whole
      :class:`~classicseg.types.Sample` and may set slots itself (return it or None) or
      return the values of ``provides``.

    Examples
    --------
    >>> from classicseg.pipeline import Pipeline                      # doctest: +SKIP
    >>> smooth = as_stage(lambda fg: cv2.medianBlur(fg.view(np.uint8), 5), requires=("fg",))  # doctest: +SKIP
    >>> pipe = Pipeline([MOG2(), smooth, lambda image: my_net(image) > 0.5])  # doctest: +SKIP
    """
    def wrap(f: Callable) -> FunctionStage:
        if not callable(f):
            raise TypeError(f"a pipeline step must be a Stage or a callable, got {type(f).__name__}")
        try:
            params = list(inspect.signature(f).parameters)
        except (TypeError, ValueError):
            params = []
        takes_sample = bool(params) and params[0] == "sample"
        req = tuple(requires) if requires is not None else ("image",)
        label = name or getattr(f, "__name__", "function")
        for s in (*req, *provides):
            if s not in SLOTS:
                raise ValueError(f"step {label}: unknown slot {s!r} (known: {', '.join(SLOTS)})")
        return FunctionStage(f, req, tuple(provides), takes_sample, f"fn:{label}")

    return wrap if fn is None else wrap(fn)
