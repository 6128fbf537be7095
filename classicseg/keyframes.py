"""Masks given on several frames (keyframes), propagated both ways and merged.

Interactive use: a user runs ``vos``, finds frame 42 wrong, corrects its mask and gives
it back as a keyframe; the correction then spreads forward to the next keyframe and
backward to the previous one. :func:`run_keyframes` runs the pipeline (one that has a
stage with ``set_init_mask``, i.e. ``vos.propagate``)

* forward from each keyframe up to the frame before the next keyframe (the last one up
  to the end), and
* backward, on the frames in reverse order, from each keyframe down to the frame after
  the previous keyframe (the first one down to frame 0),

then takes, for each frame, the result of the nearer keyframe (``merge="nearest"``;
a tie goes to the earlier keyframe), or a distance-weighted vote of the two
(``merge="vote"``: ``w_a·q_a + w_b·q_b > 0.5`` with ``q = (fg + prob) / 2`` of each run and
``w`` proportional to the distance to the *other* keyframe). A keyframe's own frame is
its mask. ``--init-mask`` is the case of one keyframe on frame 0 (forward only).

Object ids are kept as given (ids 1 and 3 stay 1 and 3; no renumbering). All frames are
held in memory (the backward runs need them): fine for DAVIS-length clips, not for hours
of video.

:class:`Keyframed` keeps the runs between calls, so that after a correction only the frames
between the neighbouring keyframes are computed again (the annotate page, the simulated
annotator of ``samples/eval_annotate.py``). A keyframe can be given as a mask, as scribbles
or boxes/clicks (:mod:`classicseg.io.seeds`, turned into a mask by
:func:`~classicseg.stages.vos.seeds.seed_ids`), or come from a COCO / CVAT / MOT file
(:func:`resolve_keyframes`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Literal

import numpy as np

from classicseg.errors import ClassicsegError, ConfigError, SourceError
from classicseg.io.priors import PriorLike, as_prior, prior_of
from classicseg.io.sources import ArraySource, natural_key, trailing_number
from classicseg.io.masks import check_init_mask, read_init_mask
from classicseg.stages.vos.ids import assign_ids
from classicseg.types import Sample

__all__ = ["find_keyframe_files", "load_keyframes", "resolve_keyframes", "init_stage", "Keyframed", "FrameResult", "frame_uncertainty",
           "run_keyframes", "run_with_keyframes", "seed_from_prior",
           "prior_to_ids"]


def find_keyframe_files(folder, seeds: bool = False) -> dict[int, Path] | dict[int, dict[str, Path]]:
    """Frame number -> mask PNG of a keyframe folder (the number that ends each file's stem).

    With ``seeds``: frame number -> ``{kind: path}`` for every keyframe file, ``kind`` one of
    ``mask`` (``<frame>.png``), ``scribbles`` (``<frame>.scribbles.png``) and ``seeds``
    (``<frame>.json``, a list of boxes and clicks); see :mod:`classicseg.io.seeds`.

    Raises
    ------
    SourceError
        Missing folder, no keyframe file, a file without a number, two files of one kind
        for one number.
    """
    from classicseg.io.seeds import keyframe_kind

    folder = Path(folder)
    if not folder.is_dir():
        raise SourceError(f"keyframe folder not found: {folder}")
    found: dict[int, dict[str, Path]] = {}
    for p in sorted((p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")), key=natural_key):
        kind = keyframe_kind(p)
        if kind is None or (not seeds and kind[0] != "mask"):
            continue
        n = trailing_number(kind[1])
        if n is None:
            raise SourceError(f"keyframe {p}: no frame number in its name (name it like the frame, e.g. 00042.png)")
        have = found.setdefault(n, {})
        if kind[0] in have:
            raise SourceError(f"keyframes {have[kind[0]].name} and {p.name} are both frame {n}")
        have[kind[0]] = p
    if not found:
        raise SourceError(f"no keyframe PNGs in {folder}" if not seeds else
                          f"no keyframe files in {folder} (masks NNNNN.png, scribbles NNNNN.scribbles.png, "
                          f"boxes/clicks NNNNN.json)")
    if seeds:
        return found
    return {n: kinds["mask"] for n, kinds in found.items()}


def _frame_numbers(names: list[str]) -> list[int]:
    nums = [trailing_number(n) for n in names]
    if any(n is None for n in nums) or len(set(nums)) != len(nums):
        return list(range(len(names)))  # no usable numbers: 0-based positions
    return nums


def _positions(names: list[str]) -> dict[int, int]:
    """Frame number -> 0-based position (see :func:`load_keyframes`)."""
    return {n: i for i, n in enumerate(_frame_numbers(names))}


def load_keyframes(files: dict[int, Path], names: list[str], shape: tuple[int, int]) -> dict[int, np.ndarray]:
    """Read keyframe masks and map them to frame positions.

    Parameters
    ----------
    files : dict
        Frame number -> mask file (:func:`find_keyframe_files`). A number is matched to
        the number that ends a frame's name (``00042.png`` -> frame ``00042.jpg``, CDnet
        ``bin000042.png`` -> ``in000042.jpg``); frames without numbers are numbered by
        position from 0.
    names : list of str
        The frames' names, in order.
    shape : (int, int)
        The frames' ``(H, W)``.

    Returns
    -------
    dict
        0-based frame position -> ``uint8 (H, W)`` ids.

    Raises
    ------
    ClassicsegError
        A number past the input's frames, a mask of another size, a mask with no object.
    """
    numbers = _frame_numbers(names)
    where = _positions(names)
    out: dict[int, np.ndarray] = {}
    for n, path in sorted(files.items()):
        if n not in where:
            raise SourceError(f"keyframe {path.name}: no frame numbered {n} in the input (its {len(names)} frames "
                              f"are numbered {numbers[0]}..{numbers[-1]})")
        out[where[n]] = read_init_mask(path, shape)
    return out


def resolve_keyframes(path, frames: list[tuple[str, np.ndarray]], method: str = "grabcut") -> dict[int, np.ndarray]:
    """Keyframes of any kind as frame position -> ids.

    ``path`` is a keyframe folder (:func:`find_keyframe_files` with ``seeds``: a frame's
    scribbles and boxes/clicks correct its mask when the folder has one, and give a mask
    by themselves when not, :func:`~classicseg.stages.vos.seeds.seed_ids`) or an
    annotation file: COCO ``.json``, CVAT for video ``.xml`` (masks) or MOT ``.txt``
    (boxes, segmented by GrabCut), see :mod:`classicseg.io.formats`.
    """
    from classicseg.io.seeds import Seeds, read_scribbles, read_seed_json
    from classicseg.stages.vos.seeds import seed_ids

    def seed(k, seeds, base=None):
        return seed_ids(frames[k][1], seeds, base=base, method=method)

    names = [n for n, _ in frames]
    shape = frames[0][1].shape[:2]
    path = Path(path)
    if path.is_file():
        from classicseg.io.formats import read_annotations

        got = read_annotations(path, names, shape)
        if not got:
            raise SourceError(f"{path.name}: no annotation in it")
        return {k: seed(k, v) if isinstance(v, Seeds) else v for k, v in sorted(got.items())}
    found = find_keyframe_files(path, seeds=True)
    masks = load_keyframes({n: k["mask"] for n, k in found.items() if "mask" in k}, names, shape)
    seeded = {n: k for n, k in found.items() if "scribbles" in k or "seeds" in k}
    if seeded:
        where = _positions(names)
        for n, kinds in sorted(seeded.items()):
            what = ", ".join(p.name for p in kinds.values())
            if n not in where:
                raise SourceError(f"keyframe {what}: no frame numbered {n} in the input ({len(names)} frames)")
            pos = where[n]
            seeds = read_seed_json(kinds["seeds"]) if "seeds" in kinds else Seeds()
            if "scribbles" in kinds:
                seeds.scribbles = read_scribbles(kinds["scribbles"], shape)
            try:
                masks[pos] = seed(pos, seeds, masks.get(pos))
            except ClassicsegError as exc:
                raise type(exc)(f"keyframe {what}: {exc}") from None
    return masks


def init_stage(pipe):
    """The stage of ``pipe`` that takes a first-frame mask (has ``set_init_mask``)."""
    for s in pipe.stages:
        if "init_mask" in s.needs:
            return s
    raise ConfigError(f"keyframes: no stage of {pipe!r} takes an initial mask (use --preset vos)")


def prior_to_ids(prior: np.ndarray) -> np.ndarray:
    """A prior as object ids: id maps as they are, probabilities as ``prob > 0.5`` (id 1)."""
    prior = np.asarray(prior)
    if prior.dtype == np.uint8:
        return prior
    return (prior > 0.5).view(np.uint8) if prior.dtype == bool else (prior > 0.5).astype(np.uint8)


def seed_from_prior(samples: Iterable[Sample], pipe) -> Iterator[Sample]:
    """Yield ``samples`` (which carry priors); on the first one, give the stages of ``pipe``
    that need an initial mask its prior as that mask (``vos`` with ``--prior`` and no
    ``--init-mask``). Runs lazily, so it happens after :meth:`Pipeline.run` has reset the
    stages."""
    first = True
    for s in samples:
        if first:
            ids = prior_to_ids(s["prior"])
            check_init_mask(ids, s.shape, f"prior of the first frame ({s.name}), used as the initial mask,")
            for stage in pipe.stages:
                if "init_mask" in stage.needs:
                    stage.set_init_mask(ids)
            first = False
        yield s


@dataclass
class FrameResult:
    """What one propagation run left on one frame: object ids, and the soft mask
    ``q = (fg + prob) / 2`` (float16) when a vote merge needs it."""

    ids: np.ndarray
    soft: np.ndarray | None = None
    uncertainty: float = 0.0


def frame_uncertainty(prob: np.ndarray | None, fg: np.ndarray) -> float:
    """How unsure a propagation was on a frame: the area where ``prob`` is between 0.2 and
    0.8, over the object's area (0 with no probability; 1 when the object is empty)."""
    area = int(np.count_nonzero(fg))
    if prob is None:
        return 0.0
    if area == 0:
        return 1.0
    return float(np.count_nonzero((prob > 0.2) & (prob < 0.8))) / area


def _as_ids(ids) -> np.ndarray:
    ids = np.asarray(ids)
    return ids.view(np.uint8) if ids.dtype == bool else ids.astype(np.uint8, copy=False)


Runner = Callable[[list[int], np.ndarray], dict[int, FrameResult]]


class Keyframed:
    """Keyframes on a clip, propagated both ways, recomputing only what a change touches.

    Each keyframe ``k`` owns a forward run over ``k .. next - 1`` and a backward run over
    ``k .. previous + 1`` (``next`` / ``previous``: the neighbouring keyframes, or the
    clip's ends). Adding a keyframe between ``a`` and ``b`` shortens ``a``'s forward and
    ``b``'s backward run (their frames up to the new keyframe are kept: a run is causal)
    and computes only the new keyframe's two runs; changing a keyframe's mask recomputes
    its two runs; removing one recomputes its neighbours' runs over the span it freed.

    Parameters
    ----------
    pipe : Pipeline
        A pipeline with a stage that takes an initial mask (the ``vos`` preset).
    frames : list of (name, image)
        All frames, in order (BGR uint8, one size).
    prior : folder, PriorFolder or callable, optional
        Per-frame priors (:mod:`classicseg.io.priors`), attached to every run.
    merge : {"nearest", "vote"}
        How a frame between two keyframes combines their runs (module docstring).
    runner : callable, optional
        ``runner(order, init_ids) -> {position: FrameResult}`` instead of running ``pipe``
        over ``order`` (positions in the order they are processed, the keyframe first).
    """

    def __init__(self, pipe, frames: list[tuple[str, np.ndarray]], prior: PriorLike | None = None,
                 merge: Literal["nearest", "vote"] = "nearest", runner: Runner | None = None) -> None:
        if merge not in ("nearest", "vote"):
            raise ValueError(f"merge must be 'nearest' or 'vote', got {merge!r}")
        if not frames:
            raise SourceError("keyframes: the input has no frames")
        if runner is None:
            init_stage(pipe)  # raises when no stage takes an initial mask
        self.pipe, self.frames, self.merge = pipe, frames, merge
        self.shape = frames[0][1].shape[:2]
        self.priors = None
        if prior is not None:
            fn = as_prior(prior)
            self.priors = [prior_of(fn, Sample(j, name, img)) for j, (name, img) in enumerate(frames)]
        self.runner = runner or self._run_pipe
        self.keys: dict[int, np.ndarray] = {}
        # keyframe -> direction (+1 forward, -1 backward) -> position -> result
        self.runs: dict[int, dict[int, dict[int, FrameResult]]] = {}
        self.timings = [0.0] * len(getattr(pipe, "stages", ()))

    def __len__(self) -> int:
        return len(self.frames)

    # -- keyframes -------------------------------------------------------------
    def set(self, k: int, ids) -> None:
        """Make frame position ``k`` a keyframe with these ids (replacing an earlier one)."""
        n = len(self.frames)
        if not 0 <= k < n:
            raise ClassicsegError(f"keyframe at frame position {k} is past the end of the input "
                                  f"({n} frames: 0..{n - 1})")
        ids = _as_ids(ids)
        check_init_mask(ids, self.shape, f"keyframe {self.frames[k][0]}")
        if k in self.keys and np.array_equal(self.keys[k], ids):
            return
        self.keys[k] = ids.copy()
        self.runs.pop(k, None)

    def remove(self, k: int) -> None:
        """Frame position ``k`` is no keyframe any more."""
        self.keys.pop(k, None)
        self.runs.pop(k, None)

    def _spans(self) -> dict[int, dict[int, list[int]]]:
        keys, n = sorted(self.keys), len(self.frames)
        out = {}
        for i, k in enumerate(keys):
            end = keys[i + 1] if i + 1 < len(keys) else n
            start = keys[i - 1] if i > 0 else -1
            out[k] = {1: list(range(k, end)), -1: list(range(k, start, -1))}
        return out

    def stale(self) -> list[int]:
        """The frame positions that :meth:`propagate` would compute, in order."""
        todo: set[int] = set()
        for k, dirs in self._spans().items():
            for d, order in dirs.items():
                have = self.runs.get(k, {}).get(d, {})
                if len(order) > 1 and not all(j in have for j in order):
                    todo.update(order[1:])
        return sorted(todo)

    def propagate(self, progress: Callable[[int], None] | None = None) -> list[int]:
        """Compute the runs that changes since the last call left missing; drop the frames
        a run no longer covers. Returns the frame positions computed (besides keyframes)."""
        if not self.keys:
            raise ClassicsegError("keyframes: no keyframe given")
        done: set[int] = set()
        spans = self._spans()
        for k in list(self.runs):
            if k not in spans:
                del self.runs[k]
        for k, dirs in spans.items():
            runs = self.runs.setdefault(k, {})
            for d, order in dirs.items():
                have = runs.get(d, {})
                if all(j in have for j in order):
                    runs[d] = {j: have[j] for j in order}  # a run is causal: its prefix stays
                    continue
                if len(order) == 1:
                    runs[d] = {k: FrameResult(self.keys[k])}
                    continue
                runs[d] = self.runner(order, self.keys[k])
                done.update(order[1:])
                if progress is not None:
                    progress(len(order) - 1)
        return sorted(done)

    # -- running ---------------------------------------------------------------
    def _run_pipe(self, order: list[int], init: np.ndarray) -> dict[int, FrameResult]:
        keep_soft = self.merge == "vote"
        out: dict[int, FrameResult] = {}
        for j, s in _run_one(self.pipe, self.frames, order, init, self.priors):
            prob = s.data.get("prob")
            fg = s["fg"]
            ids = s.data.get("ids")
            ids = assign_ids(fg, ids) if ids is not None else fg.view(np.uint8).copy()
            out[j] = FrameResult(ids, _soft(fg, prob).astype(np.float16) if keep_soft else None,
                                 frame_uncertainty(prob, fg))
        self.timings = [a + b for a, b in zip(self.timings, self.pipe.timings)]
        return out

    # -- results ---------------------------------------------------------------
    def result(self, j: int) -> FrameResult:
        """The merged result of frame position ``j`` (after :meth:`propagate`)."""
        if j in self.keys:
            return FrameResult(self.keys[j])
        cands = sorted(((abs(j - k), k, runs[d][j]) for k, runs in self.runs.items() for d in runs
                        if j in runs[d]), key=lambda c: (c[0], c[1]))
        if not cands:
            raise ClassicsegError(f"frame position {j} has not been propagated yet")
        d0, _, best = cands[0]
        if self.merge == "vote" and len(cands) > 1:
            d1, _, other = cands[1]
            w0 = d1 / (d0 + d1)
            q = w0 * best.soft.astype(np.float32) + (1 - w0) * other.soft.astype(np.float32)
            fg = q > 0.5
            ids = np.where(best.ids > 0, best.ids, other.ids)
            return FrameResult(assign_ids(fg, ids), q.astype(np.float16),
                               w0 * best.uncertainty + (1 - w0) * other.uncertainty)
        return best

    def samples(self) -> list[Sample]:
        """One sample per frame, in order, with ``ids``, ``fg`` (``prob`` for a vote merge,
        ``prior`` with priors)."""
        out = []
        for j, (name, img) in enumerate(self.frames):
            r = self.result(j)
            s = Sample(j, name, img)
            s["ids"], s["fg"] = r.ids, r.ids > 0
            if r.soft is not None:
                s["prob"] = r.soft.astype(np.float32)
            if self.priors is not None:
                s["prior"] = self.priors[j]
            out.append(s)
        return out


def _run_one(pipe, frames, order: list[int], init: np.ndarray, priors) -> Iterator[tuple[int, Sample]]:
    src = ArraySource(kind="folder", name="keyframes", items=[frames[j] for j in order], prefetch=0)

    def with_priors(samples):
        for s in samples:
            if priors is not None:
                s["prior"] = priors[order[s.index]]
            yield s

    for s in pipe.stream(with_priors(src), init_mask=init):
        yield order[s.index], s


def _soft(fg: np.ndarray, prob: np.ndarray | None) -> np.ndarray:
    fg = fg.astype(np.float32)
    return fg if prob is None else 0.5 * (fg + prob)


def run_keyframes(pipe, frames: list[tuple[str, np.ndarray]], keyframes: dict[int, np.ndarray],
                  prior: PriorLike | None = None, merge: Literal["nearest", "vote"] = "nearest",
                  progress: Callable[[int], None] | None = None) -> list[Sample]:
    """Propagate several keyframe masks both ways through ``pipe`` and merge per frame.

    Parameters
    ----------
    pipe : Pipeline
        A pipeline with a stage that has ``set_init_mask`` (the ``vos`` preset).
    frames : list of (name, image)
        All frames, in order (BGR uint8, one size).
    keyframes : dict
        0-based frame position -> ``(H, W)`` ids (uint8, 0 = background) or bool mask.
    prior : folder, PriorFolder or callable, optional
        Per-frame priors (see :mod:`classicseg.io.priors`), attached to every run.
    merge : {"nearest", "vote"}
        How a frame between two keyframes combines their runs (module docstring).
    progress : callable, optional
        Called after each run with the number of frames it covered.

    Returns
    -------
    list of Sample
        One per frame, in order, with ``fg`` and ``ids`` (and ``prob`` for a vote merge).

    Raises
    ------
    ClassicsegError
        No frames, no keyframe, a keyframe position past the end, a mask of another size
        or without any object.
    """
    kf = Keyframed(pipe, frames, prior, merge)
    if not keyframes:
        raise ClassicsegError("keyframes: no keyframe given")
    for k in sorted(keyframes):
        kf.set(k, keyframes[k])
    kf.propagate(progress)
    pipe.timings = kf.timings  # the time of all runs (each run's reset zeroes them)
    return kf.samples()


def run_with_keyframes(pipe, source, max_frames: int | None, keyframe_dir, init_mask=None, prior=None,
                       merge: str = "nearest", sinks=(), progress=None):
    """``classicseg run --keyframes DIR|FILE``: read the frames, the keyframes
    (:func:`resolve_keyframes`; and ``init_mask``, a file, ids or
    :class:`~classicseg.io.seeds.Seeds`, as keyframe 0 unless DIR has frame 0), run
    :func:`run_keyframes`, write ``sinks``.

    On an error every sink is aborted; masks already written stay (each is written
    atomically). Returns a :class:`~classicseg.pipeline.RunStats`.
    """
    import time
    from itertools import islice

    from classicseg.pipeline import RunStats, finishing

    t0 = time.perf_counter()
    keyframe_dir = Path(keyframe_dir)
    if not keyframe_dir.is_file():
        find_keyframe_files(keyframe_dir, seeds=True)  # a bad folder fails before the frames are read
    elif not keyframe_dir.exists():
        raise SourceError(f"keyframes not found: {keyframe_dir}")
    frames = [(s.name, s.image) for s in (islice(source, max_frames) if max_frames else source)]
    t_read = time.perf_counter() - t0
    if not frames:
        raise SourceError(f"{source.name}: no frames")
    shape = frames[0][1].shape[:2]
    keys = resolve_keyframes(keyframe_dir, frames)
    if init_mask is not None and 0 not in keys:
        from classicseg.io.seeds import Seeds

        if isinstance(init_mask, Seeds):
            from classicseg.stages.vos.seeds import seed_ids

            init = seed_ids(frames[0][1], init_mask)
        else:
            init = read_init_mask(init_mask, shape) if isinstance(init_mask, (str, Path)) else np.asarray(init_mask)
        check_init_mask(init, shape, "init mask")
        keys[0] = init
    stats = RunStats(read_seconds=t_read)
    with finishing(sinks):
        results = run_keyframes(pipe, frames, keys, prior, merge,
                                progress=(progress.update if progress is not None else None))
        t1 = time.perf_counter()
        for s in results:
            for sink in sinks:
                sink.write(s)
            stats.frames += 1
    stats.write_seconds = time.perf_counter() - t1
    stats.seconds = time.perf_counter() - t0
    stats.stage_seconds = dict(zip(pipe.ids, pipe.timings))
    return stats
