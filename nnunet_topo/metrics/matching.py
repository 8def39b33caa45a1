"""Betti-matching error of two binary masks (NumPy; matching from the engine).

The masks are read as superlevel filtrations (foreground = 1). A feature of the prediction and one
of the ground truth are matched when the engine's induced matching through their union pairs them;
the error of dimension ``k`` is the number of unmatched bars of the prediction plus those of the
ground truth (Stucki et al., ICML 2023). ``connectivity="face"`` reproduces Betti-Matching-3D.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np

from nnunet_topo.topology import betti_matching
from nnunet_topo.topology._validation import check_dims

from ._common import CumulativeMetric, check_connectivity, check_pair

__all__ = ["betti_matching_errors", "unmatched_mask_features", "BettiMatchingErrorMetric"]


def unmatched_mask_features(dim_matching) -> tuple[np.ndarray, np.ndarray]:
    """Indices (into ``.pred`` / ``.target`` diagrams) of the unmatched features of two binary masks.

    A feature of a binary mask is a bar born at 1, i.e. present in the mask. The engine also returns
    the essential component of an all-empty mask (born at 0, the full image at threshold 0) and matches
    it with the other image's essential component; such a pair leaves the other mask's component
    unmatched: an empty prediction misses the ground truth's component.

    Args:
        dim_matching: one ``DimensionMatching`` of ``betti_matching`` on two binary masks.

    Returns:
        ``(pred_indices, target_indices)``, int64 arrays.
    """
    fp = dim_matching.pred.births >= 0.5
    ft = dim_matching.target.births >= 0.5
    up = np.asarray(dim_matching.unmatched_pred, dtype=np.int64)
    ut = np.asarray(dim_matching.unmatched_target, dtype=np.int64)
    mp = np.asarray(dim_matching.matched_pred, dtype=np.int64)
    mt = np.asarray(dim_matching.matched_target, dtype=np.int64)
    pred_idx = np.concatenate([up[fp[up]], mp[fp[mp] & ~ft[mt]]])
    target_idx = np.concatenate([ut[ft[ut]], mt[ft[mt] & ~fp[mp]]])
    return pred_idx, target_idx


def betti_matching_errors(
    pred: np.ndarray,
    target: np.ndarray,
    *,
    dims: Iterable[int] | None = None,
    connectivity: str = "full",
) -> tuple[int, ...]:
    """Per-dimension Betti-matching errors (unmatched pred + unmatched target bars).

    Args:
        pred, target: binary masks of the same 2D ``(H, W)`` or 3D ``(D, H, W)`` shape, C order.
        dims: homology dimensions (default all ``0 .. ndim-1``).
        connectivity: ``"full"`` (foreground 8/26-connected) or ``"face"`` (4/6).

    Returns:
        One int per requested dimension, ascending; ``sum(...)`` is the total error. Only features
        of the masks count (see :func:`unmatched_mask_features`): an empty prediction against a
        ground truth with one component has error 1 in dimension 0.
    """
    p, t = check_pair(pred, target)
    dims = check_dims(dims, p.ndim)
    result = betti_matching(p.astype(np.float64), t.astype(np.float64), dims=dims,
                            connectivity=check_connectivity(connectivity))
    return tuple(sum(len(i) for i in unmatched_mask_features(result[k])) for k in dims)


class BettiMatchingErrorMetric(CumulativeMetric):
    """Accumulating per-dimension Betti-matching errors; ``aggregate()`` returns per-dimension means."""

    def __init__(self, *, dims: Iterable[int] | None = None, connectivity: str = "full") -> None:
        super().__init__()
        self.dims = None if dims is None else tuple(int(d) for d in dims)
        self.connectivity = check_connectivity(connectivity)

    def _compute(self, pred: np.ndarray, target: np.ndarray) -> tuple[int, ...]:
        return betti_matching_errors(pred, target, dims=self.dims, connectivity=self.connectivity)
