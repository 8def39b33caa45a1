"""Slice-wise topology of 3D masks of 2D-sliced anatomy (e.g. MyoPS short-axis stacks).

Slices are taken along the first (slowest, C order) axis: ``volume[z]`` is an ``(H, W)`` slice.
Each slice's Betti numbers ``(b0, b1)`` use the 2D convention of ``connectivity`` (``"full"``:
foreground 8-connected, background 4-connected).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from nnunet_topo.topology import betti_numbers

from ._common import CumulativeMetric, check_connectivity, check_mask, check_pair

__all__ = [
    "slice_betti_numbers",
    "slice_prior_agreement",
    "slice_target_agreement",
    "SliceTopologyMetric",
]


def _check_volume(mask: np.ndarray, name: str) -> np.ndarray:
    m = check_mask(mask, name=name)
    if m.ndim != 3:
        raise ValueError(f"{name}: expected a 3D (D, H, W) volume to slice along axis 0, got shape {m.shape}")
    return m


def _check_prior(prior: Sequence[int]) -> tuple[int, int]:
    if (not isinstance(prior, (list, tuple)) or len(prior) != 2
            or not all(isinstance(b, (int, np.integer)) and not isinstance(b, bool) and b >= 0 for b in prior)):
        raise ValueError(f"prior: expected the 2D Betti numbers (b0, b1) of one slice, got {prior!r}")
    return int(prior[0]), int(prior[1])


def slice_betti_numbers(volume: np.ndarray, *, connectivity: str = "full") -> np.ndarray:
    """``(D, 2)`` int64 array of ``(b0, b1)`` of every slice ``volume[z]`` of a binary 3D volume."""
    v = _check_volume(volume, "volume")
    connectivity = check_connectivity(connectivity)
    out = np.zeros((v.shape[0], 2), dtype=np.int64)
    for z in range(v.shape[0]):
        if v[z].any():
            out[z] = betti_numbers(v[z], connectivity=connectivity)
    return out


def slice_prior_agreement(
    pred: np.ndarray,
    prior: Sequence[int],
    *,
    target: np.ndarray | None = None,
    connectivity: str = "full",
) -> float:
    """Fraction of slices whose Betti numbers equal the per-slice ``prior`` ``(b0, b1)``.

    The prior holds where the anatomy is present: only slices where ``target`` has foreground count
    (or, without ``target``, where ``pred`` has foreground). NaN when no slice counts.
    """
    b0, b1 = _check_prior(prior)
    p = _check_volume(pred, "pred")
    if target is not None:
        p, t = check_pair(p, target)
        present = t.reshape(t.shape[0], -1).any(axis=1)
    else:
        present = p.reshape(p.shape[0], -1).any(axis=1)
    if not present.any():
        return float("nan")
    betti = slice_betti_numbers(p, connectivity=connectivity)[present]
    return float(np.mean((betti[:, 0] == b0) & (betti[:, 1] == b1)))


def slice_target_agreement(pred: np.ndarray, target: np.ndarray, *, connectivity: str = "full") -> float:
    """Fraction of slices whose Betti numbers equal the ground truth's, over the slices where
    ``pred`` or ``target`` has foreground (empty-empty slices say nothing). NaN when no slice counts."""
    p, t = check_pair(_check_volume(pred, "pred"), _check_volume(target, "target"))
    present = (p | t).reshape(p.shape[0], -1).any(axis=1)
    if not present.any():
        return float("nan")
    bp = slice_betti_numbers(p[present], connectivity=connectivity)
    bt = slice_betti_numbers(t[present], connectivity=connectivity)
    return float(np.mean((bp == bt).all(axis=1)))


class SliceTopologyMetric(CumulativeMetric):
    """Accumulating slice agreement: with ``prior`` it is :func:`slice_prior_agreement` (given the
    target), without it :func:`slice_target_agreement`."""

    def __init__(self, *, prior: Sequence[int] | None = None, connectivity: str = "full") -> None:
        super().__init__()
        self.prior = None if prior is None else _check_prior(prior)
        self.connectivity = check_connectivity(connectivity)

    def _compute(self, pred: np.ndarray, target: np.ndarray) -> float:
        if self.prior is None:
            return slice_target_agreement(pred, target, connectivity=self.connectivity)
        return slice_prior_agreement(pred, self.prior, target=target, connectivity=self.connectivity)
