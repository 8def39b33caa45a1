"""Euler characteristic of binary masks: ``chi = b0 - b1 (+ b2)`` (NumPy; Betti numbers from the engine).

With ``connectivity="full"`` it equals :func:`skimage.measure.euler_number` with ``connectivity=2`` (2D)
/ ``3`` (3D); with ``"face"`` it equals ``connectivity=1``.
"""
from __future__ import annotations

import numpy as np

from nnunet_topo.topology import euler_characteristic as _engine_euler

from ._common import CumulativeMetric, check_connectivity, check_mask, check_pair

__all__ = ["euler_characteristic", "euler_error", "EulerErrorMetric"]


def euler_characteristic(mask: np.ndarray, *, connectivity: str = "full") -> int:
    """Euler characteristic of a binary 2D ``(H, W)`` / 3D ``(D, H, W)`` mask (bool or 0/1)."""
    return int(_engine_euler(check_mask(mask), connectivity=check_connectivity(connectivity)))


def euler_error(pred: np.ndarray, target: np.ndarray, *, connectivity: str = "full") -> int:
    """``|chi(pred) - chi(target)|`` of two binary masks of the same shape."""
    p, t = check_pair(pred, target)
    return abs(euler_characteristic(p, connectivity=connectivity) - euler_characteristic(t, connectivity=connectivity))


class EulerErrorMetric(CumulativeMetric):
    """Accumulating :func:`euler_error`."""

    def __init__(self, *, connectivity: str = "full") -> None:
        super().__init__()
        self.connectivity = check_connectivity(connectivity)

    def _compute(self, pred: np.ndarray, target: np.ndarray) -> int:
        return euler_error(pred, target, connectivity=self.connectivity)
