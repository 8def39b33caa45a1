"""NumPy metrics of binary masks: Dice, clDice, Betti errors, Betti-matching error, Euler characteristic,
slice-wise topology. A function and a small accumulating class per metric; NaN where undefined.

Never imports torch. ``connectivity="full"`` (default): foreground 8-connected (2D) / 26-connected (3D).
"""
from __future__ import annotations

from .betti import BettiErrorMetric, betti_errors, mask_betti_numbers
from .cldice import ClDiceMetric, cldice, skeleton
from .dice import DiceMetric, dice
from .euler import EulerErrorMetric, euler_characteristic, euler_error
from .matching import BettiMatchingErrorMetric, betti_matching_errors, unmatched_mask_features
from .slices import SliceTopologyMetric, slice_betti_numbers, slice_prior_agreement, slice_target_agreement

__all__ = [
    "dice",
    "DiceMetric",
    "cldice",
    "skeleton",
    "ClDiceMetric",
    "mask_betti_numbers",
    "betti_errors",
    "BettiErrorMetric",
    "euler_characteristic",
    "euler_error",
    "EulerErrorMetric",
    "betti_matching_errors",
    "unmatched_mask_features",
    "BettiMatchingErrorMetric",
    "slice_betti_numbers",
    "slice_prior_agreement",
    "slice_target_agreement",
    "SliceTopologyMetric",
]
