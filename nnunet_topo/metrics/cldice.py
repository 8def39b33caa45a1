"""clDice (centreline Dice, Shit et al. CVPR 2021) of two binary masks, 2D and 3D (NumPy, scikit-image).

Topology precision ``Tprec = |S(P) ∩ T| / |S(P)|`` and sensitivity ``Tsens = |S(T) ∩ P| / |S(T)|``,
where ``S`` is the morphological skeleton (:func:`skimage.morphology.skeletonize`, which handles 2D
and 3D); ``clDice = 2 Tprec Tsens / (Tprec + Tsens)``.
"""
from __future__ import annotations

import numpy as np

from ._common import CumulativeMetric, check_pair

__all__ = ["cldice", "skeleton", "ClDiceMetric"]


def skeleton(mask: np.ndarray) -> np.ndarray:
    """Morphological skeleton of a binary 2D/3D mask (bool, same shape). 2D: Zhang's thinning;
    3D: Lee's thinning (scikit-image's choice for each)."""
    from skimage.morphology import skeletonize

    if not mask.any():
        return np.zeros(mask.shape, dtype=bool)
    # scikit-image 0.26 segfaults on some bool inputs (seen on a perturbed CHASE crop); uint8 is safe.
    return np.asarray(skeletonize(np.ascontiguousarray(mask, dtype=np.uint8)), dtype=bool)


def cldice(pred: np.ndarray, target: np.ndarray, *, per_slice: bool = False) -> float:
    """clDice of two binary masks of the same 2D ``(H, W)`` or 3D ``(D, H, W)`` shape.

    Args:
        pred, target: binary masks (bool or 0/1), C order.
        per_slice: for 3D masks of 2D-sliced anatomy: skeletons of every 2D slice ``[z]`` (pooled
            over slices) instead of the 3D skeleton.

    Returns:
        float in [0, 1]; NaN when both masks are empty; 0.0 when exactly one is empty (the one
        defined ratio is 0).
    """
    p, t = check_pair(pred, target)
    if per_slice and p.ndim != 3:
        raise ValueError(f"cldice: per_slice needs 3D (D, H, W) masks, got shape {p.shape}")
    if not p.any() and not t.any():
        return float("nan")
    if not p.any() or not t.any():
        return 0.0
    if per_slice:
        sp = np.stack([skeleton(z) for z in p])
        st = np.stack([skeleton(z) for z in t])
    else:
        sp, st = skeleton(p), skeleton(t)
    tprec = np.count_nonzero(sp & t) / max(np.count_nonzero(sp), 1)
    tsens = np.count_nonzero(st & p) / max(np.count_nonzero(st), 1)
    if tprec + tsens == 0:
        return 0.0
    return float(2.0 * tprec * tsens / (tprec + tsens))


class ClDiceMetric(CumulativeMetric):
    """Accumulating clDice: ``ClDiceMetric()(pred, target)`` returns :func:`cldice`."""

    def __init__(self, *, per_slice: bool = False) -> None:
        super().__init__()
        if not isinstance(per_slice, bool):
            raise TypeError(f"per_slice: expected True or False, got {per_slice!r}")
        self.per_slice = per_slice

    def _compute(self, pred: np.ndarray, target: np.ndarray) -> float:
        return cldice(pred, target, per_slice=self.per_slice)
