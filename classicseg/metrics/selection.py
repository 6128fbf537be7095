"""Which sequences of a dataset root to score: the ones that were run, or the ones asked for.

A run over part of a dataset (a few sequences of a DAVIS or CDnet root) leaves prediction
folders for those sequences only. :func:`choose_sequences` scores the sequences whose
prediction folder exists and reports the others as skipped, or, given names
(``--sequences a,b``), exactly those, each of which must then have predictions.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from classicseg.errors import EvalError
from classicseg.registry import nearest


@dataclass
class Candidate:
    """One sequence of the ground truth and where its predictions should be.

    Attributes
    ----------
    name : str
        The name shown and accepted (``blackswan``, ``baseline/highway``).
    pred : Path
        Its prediction folder.
    item : Any
        What the caller scores (the ground-truth folder, with whatever else it needs).
    aliases : tuple of str
        Other names accepted by ``sequences`` (a CDnet video's name without its category).
    """

    name: str
    pred: Path
    item: Any
    aliases: tuple = field(default_factory=tuple)


def parse_names(text: str | None) -> list[str] | None:
    """``"a,b , c"`` -> ``["a", "b", "c"]``; None or blank -> None."""
    if text is None:
        return None
    names = [n.strip() for n in str(text).split(",") if n.strip()]
    return names or None


def choose_sequences(candidates: list[Candidate], wanted: list[str] | None = None,
                     ) -> tuple[list[Candidate], list[Candidate]]:
    """Split the ground truth's sequences into those to score and those skipped.

    Parameters
    ----------
    candidates : list of Candidate
        Every sequence of the ground truth, in order.
    wanted : list of str, optional
        Names to score (``Candidate.name`` or an alias). None: every sequence that has a
        prediction folder.

    Returns
    -------
    scored, skipped : list of Candidate
        ``skipped`` holds the sequences left out for lack of a prediction folder (always
        empty when ``wanted`` is given).

    Raises
    ------
    EvalError
        A wanted name that is not in the ground truth (with the nearest one), a wanted
        sequence without predictions, or no prediction folder at all.
    """
    if wanted:
        by_name: dict[str, list[Candidate]] = {}
        for c in candidates:
            for n in (c.name, *c.aliases):
                by_name.setdefault(n, []).append(c)
        chosen: list[Candidate] = []
        for w in wanted:
            if w not in by_name:
                raise EvalError(f"--sequences: no sequence {w!r} in the ground truth{nearest(w, by_name)}; "
                                f"it has {', '.join(c.name for c in candidates)}")
            chosen += [c for c in by_name[w] if c not in chosen]
        for c in chosen:
            if not c.pred.is_dir():
                raise EvalError(f"no prediction folder for sequence {c.name}: {c.pred} does not exist")
        return chosen, []
    scored = [c for c in candidates if c.pred.is_dir()]
    skipped = [c for c in candidates if not c.pred.is_dir()]
    if not scored:
        first = candidates[0]
        if len(candidates) == 1:
            raise EvalError(f"no prediction folder for sequence {first.name}: {first.pred} does not exist")
        raise EvalError(f"none of the {len(candidates)} sequences has a prediction folder "
                        f"(first: {first.name}, looked for {first.pred})")
    return scored, skipped
