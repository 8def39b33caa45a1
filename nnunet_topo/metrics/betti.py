"""Betti numbers and Betti errors of binary masks (NumPy; numbers from the engine).

``connectivity="full"`` (default, the project's convention): foreground 8-connected (2D) /
26-connected (3D), background 4 / 6. ``"face"``: foreground 4 / 6, background 8 / 26.
"""
from __future__ import annotations

import numpy as np

from nnunet_topo.topology import betti_numbers

from ._common import CumulativeMetric, check_connectivity, check_mask, check_pair

__all__ = ["mask_betti_numbers", "betti_errors", "BettiErrorMetric"]


def mask_betti_numbers(mask: np.ndarray, *, connectivity: str = "full") -> tuple[int, ...]:
    """Betti numbers ``(b0, b1)`` of a 2D or ``(b0, b1, b2)`` of a 3D binary mask (bool or 0/1, C order)."""
    return tuple(int(b) for b in betti_numbers(check_mask(mask), connectivity=check_connectivity(connectivity)))


def betti_errors(pred: np.ndarray, target: np.ndarray, *, connectivity: str = "full") -> tuple[int, ...]:
    """Per-dimension Betti errors ``|b_k(pred) - b_k(target)|``.

    Args:
        pred, target: binary masks of the same 2D ``(H, W)`` or 3D ``(D, H, W)`` shape.
        connectivity: ``"full"`` (foreground 8/26-connected) or ``"face"`` (4/6).

    Returns:
        ``(e0, e1)`` in 2D, ``(e0, e1, e2)`` in 3D (ints; always defined).
    """
    p, t = check_pair(pred, target)
    connectivity = check_connectivity(connectivity)
    bp = betti_numbers(p, connectivity=connectivity)
    bt = betti_numbers(t, connectivity=connectivity)
    return tuple(abs(int(a) - int(b)) for a, b in zip(bp, bt))


class BettiErrorMetric(CumulativeMetric):
    """Accumulating per-dimension Betti errors; ``aggregate()`` returns the per-dimension means."""

    def __init__(self, *, connectivity: str = "full") -> None:
        super().__init__()
        self.connectivity = check_connectivity(connectivity)

    def _compute(self, pred: np.ndarray, target: np.ndarray) -> tuple[int, ...]:
        return betti_errors(pred, target, connectivity=self.connectivity)
