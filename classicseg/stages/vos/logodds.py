"""Probabilities combined as a sum of weighted log-odds (a product of experts).

References
----------
G. E. Hinton, "Training Products of Experts by Minimizing Contrastive Divergence", Neural
Computation 14(8), 2002.
"""
from __future__ import annotations

import numpy as np

__all__ = ['logit', 'sigmoid', 'fuse']

_EPS = 1e-3


def logit(p: np.ndarray) -> np.ndarray:
    """log(p / (1 - p)) with p clipped to [1e-3, 1 - 1e-3]."""
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p) - np.log1p(-p)


def sigmoid(z: np.ndarray) -> np.ndarray:
    """The logistic function (the inverse of the log-odds), float32."""
    return (1.0 / (1.0 + np.exp(-z))).astype(np.float32, copy=False)


def fuse(p_motion: np.ndarray, p_colour: np.ndarray, w_motion: float = 1.0, w_colour: float = 1.0) -> np.ndarray:
    """Combine two probabilities by a weighted sum of log-odds: σ(a·logit(p_m) + b·logit(p_c))."""
    z = w_motion * logit(p_motion) + w_colour * logit(p_colour)
    return sigmoid(z)
