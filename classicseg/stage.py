"""The stage contract every pipeline step follows.

A stage is a small stateful object around a pure function. It declares

* ``name``: the registry name used in config files (``bgsub.mog2``),
* ``Params``: a pydantic model, the single source of truth for its parameters
  (types, defaults, ranges, one-line docs),
* ``requires`` / ``provides``: the sample slots it reads and writes
  (see :data:`classicseg.types.SLOTS`), checked before the first frame,
* ``latency``: how many frames it holds back (0 for causal stages; a stage with latency
  0 must return exactly ``[process(sample)]`` from ``step``, which lets the pipeline
  call ``process`` directly).

``process(sample)`` adds slots to the sample and returns it. A stage that needs
look-ahead overrides ``step``/``flush`` instead and returns samples as they become
ready (in order). ``reset()`` forgets all state (a new sequence).
"""
from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict

from classicseg.types import Sample


class Params(BaseModel):
    """Base class of every stage's parameters: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Stage:
    name: ClassVar[str] = ""
    Params: ClassVar[type[Params]] = Params
    requires: ClassVar[tuple[str, ...]] = ("image",)
    provides: ClassVar[tuple[str, ...]] = ()
    latency: ClassVar[int] = 0
    #: Paper or documentation the stage implements (shown by ``classicseg stages``).
    cite: ClassVar[str] = ""

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

    def process(self, sample: Sample) -> Sample:  # pragma: no cover - abstract
        raise NotImplementedError

    def step(self, sample: Sample) -> list[Sample]:
        """Feed one sample; return the samples that are now complete, in order."""
        return [self.process(sample)]

    def flush(self) -> list[Sample]:
        """End of stream: return the samples still held back."""
        return []

    # -- helpers ------------------------------------------------------------
    @classmethod
    def doc(cls) -> str:
        """The first line of the class docstring."""
        return (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.model_dump().items())
        return f"{type(self).__name__}({args})"
