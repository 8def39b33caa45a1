"""Topological losses for nnU-Net (torch): Betti prior, Betti matching, TopoDense, soft clDice.

All share nnU-Net's contract ``loss(net_output, target)`` (logits ``(B, C, *spatial)``, a label map
``(B, 1, *spatial)`` or one-hot regions) and the options of :class:`TopologicalLoss`. Persistent
homology runs on detached float32 CPU copies; values are gathered back from the live tensor.
See docs/losses.md and docs/topodense.md.
"""
from __future__ import annotations

from ._base import TopologicalLoss
from .betti_matching import BettiMatchingLoss
from .betti_prior import BettiPriorLoss
from .cldice import SoftClDiceLoss
from .topodense import TopoDenseLoss

__all__ = ["TopologicalLoss", "BettiPriorLoss", "BettiMatchingLoss", "TopoDenseLoss", "SoftClDiceLoss"]
