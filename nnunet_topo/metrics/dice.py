"""Dice coefficient of two binary masks (NumPy)."""
from __future__ import annotations

import numpy as np

from ._common import CumulativeMetric, check_mask, check_pair

__all__ = ["dice", "DiceMetric"]


def dice(pred: np.ndarray, target: np.ndarray, *, ignore_mask: np.ndarray | None = None) -> float:
    """Dice ``2|P∩T| / (|P| + |T|)`` of two binary masks of the same 2D/3D shape.

    Args:
        pred, target: binary masks (bool or 0/1), same shape, C order.
        ignore_mask: optional bool mask of the same shape; pixels where it is True are left out
            (nnU-Net's ignore label).

    Returns:
        float in [0, 1]; NaN when both masks are empty (outside ``ignore_mask``), as nnU-Net does.
    """
    p, t = check_pair(pred, target)
    if ignore_mask is not None:
        keep = ~check_mask(ignore_mask, name="ignore_mask")
        if keep.shape != p.shape:
            raise ValueError(f"ignore_mask: expected shape {p.shape}, got {keep.shape}")
        p, t = p & keep, t & keep
    tp = np.count_nonzero(p & t)
    denom = np.count_nonzero(p) + np.count_nonzero(t)
    return float("nan") if denom == 0 else 2.0 * tp / denom


class DiceMetric(CumulativeMetric):
    """Accumulating Dice: ``DiceMetric()(pred, target)`` returns :func:`dice`; ``aggregate()`` the nanmean."""

    def _compute(self, pred: np.ndarray, target: np.ndarray) -> float:
        return dice(pred, target)
