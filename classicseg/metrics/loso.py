"""Choosing a parameter set on some sequences and scoring it on the others.

:func:`leave_one_out` takes the scores of every candidate parameter set on every sequence
and reports two numbers: the *tuned* mean (the candidate with the best mean over all
sequences, scored on those same sequences) and the *leave-one-sequence-out* mean (for
each sequence, the candidate with the best mean over the other sequences, scored on the
one left out; then the mean of those). The gap between them is what a user should expect
to lose on footage nobody tuned on.

References
----------
M. Stone, "Cross-validatory choice and assessment of statistical predictions", Journal of
the Royal Statistical Society B 36(2), 1974.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from classicseg.errors import EvalError

__all__ = ["LeaveOneOut", "leave_one_out"]


@dataclass
class LeaveOneOut:
    """Result of :func:`leave_one_out`.

    Attributes
    ----------
    tuned : str
        The candidate with the best mean over all sequences.
    tuned_mean : float
        Its mean.
    chosen : dict[str, str]
        For each sequence, the candidate chosen on the other sequences.
    held_out : dict[str, float]
        For each sequence, the chosen candidate's score on it.
    mean : float
        Mean of ``held_out``: the leave-one-sequence-out score.
    """

    tuned: str
    tuned_mean: float
    chosen: dict
    held_out: dict
    mean: float


def leave_one_out(scores: dict) -> LeaveOneOut:
    """Tuned and leave-one-sequence-out scores of a set of candidates (higher is better).

    Parameters
    ----------
    scores : dict[str, dict[str, float]]
        ``candidate -> {sequence -> score}``; every candidate scored on the same sequences
        (at least two). Ties go to the candidate listed first: list the current default
        first so that a change has to win to be chosen.

    Returns
    -------
    LeaveOneOut

    Raises
    ------
    EvalError
        No candidates, fewer than two sequences, or candidates scored on different sequences.

    Examples
    --------
    >>> r = leave_one_out({"a": {"s1": 0.5, "s2": 0.9}, "b": {"s1": 0.6, "s2": 0.6}})
    >>> r.tuned, round(r.tuned_mean, 2), r.chosen, round(r.mean, 2)
    ('a', 0.7, {'s1': 'a', 's2': 'b'}, 0.55)
    """
    if not scores:
        raise EvalError("leave_one_out needs at least one candidate, got none")
    names = list(scores)
    seqs = list(scores[names[0]])
    if len(seqs) < 2:
        raise EvalError(f"leave_one_out needs at least two sequences, got {len(seqs)}")
    for n in names[1:]:
        if set(scores[n]) != set(seqs):
            raise EvalError(f"candidate {n!r} is scored on {sorted(scores[n])}, "
                            f"candidate {names[0]!r} on {sorted(seqs)}")
    m = np.array([[float(scores[n][s]) for s in seqs] for n in names])
    total = m.sum(axis=1)
    best = int(np.argmax(total))  # argmax keeps the first of equal maxima
    chosen, held_out = {}, {}
    for i, s in enumerate(seqs):
        j = int(np.argmax(total - m[:, i]))
        chosen[s] = names[j]
        held_out[s] = float(m[j, i])
    return LeaveOneOut(tuned=names[best], tuned_mean=float(total[best] / len(seqs)), chosen=chosen,
                       held_out=held_out, mean=float(np.mean(list(held_out.values()))))
