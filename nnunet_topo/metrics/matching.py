"""Betti-matching error of two binary masks (NumPy; matching from the engine).

The masks are read as superlevel filtrations (foreground = 1). A feature of the prediction and one
of the ground truth are matched when the engine's induced matching through their union pairs them;
the error of dimension ``k`` is the number of unmatched bars of the prediction plus those of the
ground truth (Stucki et al., ICML 2023). ``connectivity="face"`` reproduces Betti-Matching-3D.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np

from nnunet_topo.topology._validation import check_dims

from ._common import CumulativeMetric, check_connectivity, check_pair

__all__ = ["betti_matching_errors", "BettiMatchingErrorMetric"]


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
        One int per requested dimension, ascending; ``sum(...)`` is the total error.
    """
    from nnunet_topo.topology import betti_matching

    p, t = check_pair(pred, target)
    dims = check_dims(dims, p.ndim)
    result = betti_matching(p.astype(np.float64), t.astype(np.float64), dims=dims,
                            connectivity=check_connectivity(connectivity))
    return tuple(int(result[k].error) for k in dims)


class BettiMatchingErrorMetric(CumulativeMetric):
    """Accumulating per-dimension Betti-matching errors; ``aggregate()`` returns per-dimension means."""

    def __init__(self, *, dims: Iterable[int] | None = None, connectivity: str = "full") -> None:
        super().__init__()
        self.dims = None if dims is None else tuple(int(d) for d in dims)
        self.connectivity = check_connectivity(connectivity)

    def _compute(self, pred: np.ndarray, target: np.ndarray) -> tuple[int, ...]:
        return betti_matching_errors(pred, target, dims=self.dims, connectivity=self.connectivity)
