"""A validated chain of stages and the loop that runs it over a source.

A :class:`Pipeline` is built from a validated spec (a preset or pipeline file) or from a
list of steps: :class:`~classicseg.stage.Stage` objects, registered stage names
(``"morph.open"``: its defaults) and plain functions (``f(image) -> mask``, see
:func:`~classicseg.stage.as_stage`). Either way the chain is checked before the first
frame: every slot a step reads must come from an earlier step or with the frames.

Reset is explicit and the same everywhere: :meth:`Pipeline.run` and :meth:`Pipeline.stream`
start from a fresh state (``reset=True``, the default: every stage forgets the previous
sequence); ``stream(..., reset=False)`` carries on with the current models (feeding a
live source in chunks). The frames may be a source (:func:`classicseg.io.sources.open_source`),
:class:`~classicseg.types.Sample` objects, or bare ``uint8`` arrays (``(H, W, 3)`` BGR or
``(H, W)`` grey), optionally as ``(name, array)`` pairs.
"""
from __future__ import annotations

import math
import time
from array import array
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

from classicseg.config import PipelineSpec, resolve
from classicseg.errors import ConfigError
from classicseg.interrupt import deferred
from classicseg.stage import Stage, as_stage, check_chain
from classicseg.types import SLOTS, Sample


class LatencyRecorder:
    """Per-frame latencies in constant memory: exact count, mean, min and max; percentiles
    from a histogram of 1 %-wide logarithmic bins (1 µs to 1000 s), so a percentile is within
    0.5 % of the exact (nearest-rank) value. :meth:`add` only appends to a small buffer that
    is folded into the histogram with numpy every 4096 values.
    """

    _LO = 1e-6
    _STEP = math.log(1.01)
    _N = int(math.log(1e9) / math.log(1.01)) + 2
    _CHUNK = 4096

    def __init__(self) -> None:
        import numpy as np

        self._count = 0
        self._total = 0.0
        self._min = math.inf
        self._max = 0.0
        self.bins = np.zeros(self._N, np.int64)
        self._buf = array("d")

    def add(self, seconds: float) -> None:
        buf = self._buf
        buf.append(seconds)
        if len(buf) >= self._CHUNK:
            self._fold()

    def _fold(self) -> None:
        import numpy as np

        if not self._buf:
            return
        a = np.frombuffer(self._buf, np.float64)
        self._count += a.size
        self._total += float(a.sum())
        self._min = min(self._min, float(a.min()))
        self._max = max(self._max, float(a.max()))
        with np.errstate(divide="ignore", invalid="ignore"):
            idx = np.floor(np.log(np.maximum(a, self._LO) / self._LO) / self._STEP) + 1
        idx[a <= self._LO] = 0
        self.bins += np.bincount(np.clip(idx, 0, self._N - 1).astype(np.int64), minlength=self._N)
        self._buf = array("d")

    def percentile(self, q: float) -> float:
        """The ``q``-th percentile (0..100, nearest rank) in seconds; NaN without values."""
        import numpy as np

        self._fold()
        if not self._count:
            return math.nan
        rank = max(1, math.ceil(q / 100.0 * self._count))
        i = int(np.searchsorted(np.cumsum(self.bins), rank))
        mid = self._LO * math.exp((i - 0.5) * self._STEP) if i else self._min
        return min(max(mid, self._min), self._max)

    @property
    def count(self) -> int:
        return self._count + len(self._buf)

    @property
    def max(self) -> float:
        self._fold()
        return self._max

    @property
    def mean(self) -> float:
        self._fold()
        return self._total / self._count if self._count else math.nan

    def summary_ms(self) -> dict[str, float]:
        """``{mean, p50, p95, max}`` in milliseconds (empty without values)."""
        self._fold()
        if not self._count:
            return {}
        vals = (self.mean, self.percentile(50), self.percentile(95), self.max)
        return {k: round(1000.0 * v, 3) for k, v in zip(("mean", "p50", "p95", "max"), vals)}


@contextmanager
def finishing(sinks):
    """Close every sink when the block ends; abort them all when it raises (or a close does),
    so half-written outputs are discarded and finished files stay.

    An interrupt (``KeyboardInterrupt``: Ctrl-C, or SIGTERM through the CLI) is the user
    stopping a run that may have gone for hours: every sink is closed as at a normal end
    (the overlay video finished and playable, the tracks file in place) before it propagates.
    """
    try:
        yield
    except KeyboardInterrupt:
        with deferred():
            for sink in sinks:
                try:
                    sink.close()
                except Exception:  # noqa: BLE001 - keep closing the others
                    try:
                        sink.abort()
                    except Exception:  # noqa: BLE001
                        pass
        raise
    except BaseException:
        _abort_all(sinks)
        raise
    with deferred():  # a stop asked for now waits until the files are finished
        try:
            for sink in sinks:
                sink.close()
        except BaseException:
            _abort_all(sinks)
            raise


def _abort_all(sinks) -> None:
    for sink in sinks:
        try:
            sink.abort()
        except Exception:  # noqa: BLE001 - the original error matters more
            pass


def check_frames_for(stages, shape: tuple[int, ...], what: str = "the pipeline") -> None:
    """Before the first frame is processed: refuse frames smaller than a stage works on
    (:meth:`~classicseg.stage.Stage.min_side`) or whose per-pixel state (each stage's
    :meth:`~classicseg.stage.Stage.memory_per_pixel`) would not fit in the memory left.

    Raises
    ------
    SourceError
    """
    from classicseg.errors import SourceError
    from classicseg.io.limits import check_memory

    h, w = shape[:2]
    for s in stages:
        side = s.min_side()
        if min(h, w) < side:
            raise SourceError(f"frames of {w}x{h} are too small for stage {s.name or type(s).__name__}: it needs "
                              f"at least {side}x{side} pixels")
    per_pixel = sum(s.memory_per_pixel() for s in stages) + 3 * 16  # + frames decoded ahead
    check_memory(h * w * per_pixel, f"{w}x{h} frames through {what} (about {per_pixel} bytes per pixel)")


@dataclass
class RunStats:
    """What a run did: frames, wall time, each stage's share of it and per-frame latency.

    ``latency`` records one value per frame read from the source: the seconds from the
    moment the frame came out of the source to the moment the samples it completed were
    handed to the sinks (stages + writing). A stage that holds frames back
    (``Pipeline.latency`` > 0) delays a frame's mask by that many frames; that wait is not
    counted here (the frames drained at the end are in ``seconds`` but in no latency).
    """

    frames: int = 0
    seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)
    read_seconds: float = 0.0
    write_seconds: float = 0.0
    latency: LatencyRecorder = field(default_factory=LatencyRecorder, repr=False)

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    def shares(self) -> dict[str, float]:
        """Fraction of the wall time spent in each stage, in reading and in writing."""
        total = self.seconds or 1.0
        out = {k: v / total for k, v in self.stage_seconds.items()}
        out["(read)"] = self.read_seconds / total
        out["(write)"] = self.write_seconds / total
        return out

    def latency_ms(self) -> dict[str, float]:
        """Per-frame latency in milliseconds: mean, p50, p95 and max (empty without frames)."""
        return self.latency.summary_ms()

    def to_dict(self) -> dict:
        return {
            "frames": self.frames,
            "seconds": round(self.seconds, 4),
            "fps": round(self.fps, 2),
            "latency_ms": self.latency_ms(),
            "stage_seconds": {k: round(v, 4) for k, v in self.stage_seconds.items()},
            "stage_share": {k: round(v, 4) for k, v in self.shares().items()},
            "read_seconds": round(self.read_seconds, 4),
            "write_seconds": round(self.write_seconds, 4),
        }


class Pipeline:
    """An ordered chain of stages.

    Build one from a spec (:meth:`from_spec`), a preset or config file
    (:meth:`load`), or a list of stage objects. ``stream`` turns frames into
    processed samples lazily; ``run`` drives a source into sinks and keeps
    timings.
    """

    def __init__(self, stages: list, ids: list[str] | None = None, spec: PipelineSpec | None = None,
                 backend=None):
        self.backend = backend  # a classicseg.backends.Backend, or None (plain CPU stages)
        self.stages = [_as_step(s) for s in stages]
        if not self.stages:
            raise ConfigError("a pipeline needs at least one step")
        self.ids = list(ids) if ids else _step_ids(self.stages)
        self.spec = spec
        self.timings = [0.0] * len(self.stages)
        errors = check_chain(((f"step {i} ({sid})", st, st.params) for i, (sid, st) in
                              enumerate(zip(self.ids, self.stages), start=1)),
                             [n for n, slot in SLOTS.items() if slot.source])
        if errors:
            raise ConfigError(errors)
        # a stage that holds no frame back returns exactly [process(sample)] from step()
        # (the stage contract), so only latency decides whether the buffered path is needed
        self._buffered = any(s.latency for s in self.stages)
        self._observers = [s for s in self.stages if s.feedback]

    @classmethod
    def from_spec(cls, spec: PipelineSpec, backend=None) -> "Pipeline":
        """Build the stages of ``spec`` on ``backend`` (a name or a Backend; default: the
        spec's ``backend`` key); the backend may swap stages for GPU twins."""
        from classicseg.backends import resolve_backend
        from classicseg.stage import missing_extras

        problems = missing_extras(s.stage for s in spec.steps)
        if problems:
            raise ConfigError([f"pipeline {spec.name!r}: {m}" for m in problems])
        be = resolve_backend(backend if backend is not None else spec.backend)
        return cls(be.prepare([s.build() for s in spec.steps]), [s.id for s in spec.steps], spec, be)

    @classmethod
    def load(cls, preset: str | None = None, config: str | None = None, sets=(), backend=None) -> "Pipeline":
        return cls.from_spec(resolve(preset, config, sets), backend)

    @property
    def latency(self) -> int:
        return sum(s.latency for s in self.stages)

    @property
    def needs(self) -> tuple[str, ...]:
        """What the stages need from a run besides the frames (``init_mask``)."""
        return tuple(dict.fromkeys(n for s in self.stages for n in s.needs))

    def reset(self, init_mask=None) -> None:
        """Forget all state; also reseed OpenCV's random generator (KNN, GSOC and LSBP
        draw from it) so that two runs on the same frames give the same masks.

        ``init_mask`` (object ids ``uint8 (H, W)`` or a bool mask of the first frame) goes
        to every stage that needs one (``vos.propagate``)."""
        import cv2

        cv2.setRNGSeed(0)
        for s in self.stages:
            s.reset()
        if init_mask is not None:
            takers = [s for s in self.stages if "init_mask" in s.needs]
            if not takers:
                raise ConfigError(f"no stage of {self!r} takes an initial mask (use the vos preset)")
            for s in takers:
                s.set_init_mask(init_mask)
        self.timings = [0.0] * len(self.stages)

    # -- processing -------------------------------------------------------------
    def _through(self, i: int, samples: list[Sample]) -> list[Sample]:
        clock = time.perf_counter
        stage = self.stages[i]
        out: list[Sample] = []
        for s in samples:
            t0 = clock()
            out.extend(stage.step(s))
            self.timings[i] += clock() - t0
        return out

    def push(self, sample: Sample) -> list[Sample]:
        """Feed one frame; return the samples completed by it (in frame order)."""
        if not self._buffered:
            clock = time.perf_counter
            timings = self.timings
            for i, stage in enumerate(self.stages):
                t0 = clock()
                sample = stage.process(sample)
                timings[i] += clock() - t0
            for st in self._observers:
                st.observe(sample)
            return [sample]
        batch = [sample]
        for i in range(len(self.stages)):
            batch = self._through(i, batch)
            if not batch:
                return []
        self._feed_back(batch)
        return batch

    def _feed_back(self, done: list[Sample]) -> None:
        for s in done:
            for st in self._observers:
                st.observe(s)

    def flush(self) -> list[Sample]:
        """End of stream: drain every stage that holds frames back."""
        out: list[Sample] = []
        for i, stage in enumerate(self.stages):
            pending = stage.flush()
            if i + 1 < len(self.stages):
                for j in range(i + 1, len(self.stages)):
                    pending = self._through(j, pending)
            out.extend(pending)
        # flushed samples of an earlier stage come before those of a later one
        # only if they are older; keep frame order
        out.sort(key=lambda s: s.index)
        self._feed_back(out)
        return out

    def stream(self, samples: Iterable, reset: bool = True, init_mask=None) -> Iterator[Sample]:
        """Process ``samples`` lazily, yielding each finished sample in order.

        Parameters
        ----------
        samples : iterable
            A source, samples, or bare frames (see the module docstring).
        reset : bool
            Start from a fresh state (default), or carry on with the current models.
        init_mask : ndarray, optional
            The first frame's object ids for the stages that need them (with ``reset``).
        """
        from classicseg.io.sources import as_samples

        if reset:
            self.reset(init_mask)
        elif init_mask is not None:
            raise ValueError("init_mask is given with reset=True (a new sequence)")
        first = True
        for s in as_samples(samples):
            if first:
                check_frames_for(self.stages, s.shape, repr(self))
                first = False
            yield from self.push(s)
        yield from self.flush()

    def run(
        self,
        source: Iterable,
        sinks: list = (),
        on_sample: Callable[[Sample], None] | None = None,
        progress=None,
        init_mask=None,
    ) -> RunStats:
        """Drive ``source`` through the pipeline into ``sinks``, from a fresh state.

        Each sink (:class:`classicseg.io.sinks.Sink`) has ``write(sample)``, ``close()`` and
        ``abort()``; on any error every sink is aborted (no half-written file is left) and
        the error re-raised. ``init_mask`` is handed to the stages that need one.
        """
        from classicseg.io.sources import as_samples

        self.reset(init_mask)
        stats = RunStats()
        clock = time.perf_counter
        start = clock()
        it = iter(as_samples(source))

        record_latency = stats.latency.add

        def emit(done: list[Sample]) -> float:
            t0 = clock()
            for s in done:
                with deferred():  # an interrupt waits until every sink has the frame
                    for sink in sinks:
                        sink.write(s)
                    stats.frames += 1
                if on_sample is not None:
                    on_sample(s)
            t1 = clock()
            stats.write_seconds += t1 - t0
            if progress is not None and done:
                progress.update(len(done))
            return t1

        try:
            with finishing(sinks):
                t0 = clock()
                first = True
                while True:
                    try:
                        sample = next(it)
                    except StopIteration:
                        stats.read_seconds += clock() - t0
                        break
                    if first:
                        check_frames_for(self.stages, sample.shape, repr(self))
                        first = False
                    t_in = clock()
                    stats.read_seconds += t_in - t0
                    t0 = emit(self.push(sample))
                    record_latency(t0 - t_in)
                emit(self.flush())
        except KeyboardInterrupt as exc:
            exc.stats = self._finish(stats, start)  # what the interrupted run did, for its summary
            raise
        return self._finish(stats, start)

    def _finish(self, stats: RunStats, start: float) -> RunStats:
        stats.seconds = time.perf_counter() - start
        stats.stage_seconds = dict(zip(self.ids, self.timings))
        return stats

    def __repr__(self) -> str:
        return f"Pipeline({', '.join(self.ids)})"


def _as_step(step) -> Stage:
    """A pipeline step: a Stage as it is, a registered name with its defaults, a function wrapped."""
    if isinstance(step, Stage):
        return step
    if isinstance(step, str):
        from classicseg import catalog

        return catalog.get(step)()
    if isinstance(step, type) and issubclass(step, Stage):
        return step()
    if callable(step):
        return as_stage(step)
    raise ConfigError(f"a pipeline step must be a Stage, a stage name or a function, got {type(step).__name__}")


def _step_ids(stages: list[Stage]) -> list[str]:
    """Each step's name, ``name#2`` for a repeat (as pipeline files number them)."""
    seen: dict[str, int] = {}
    out = []
    for s in stages:
        seen[s.name] = seen.get(s.name, 0) + 1
        out.append(s.name if seen[s.name] == 1 else f"{s.name}#{seen[s.name]}")
    return out
