"""SoftClDiceLoss: the soft-skeleton clDice loss (Shit et al., CVPR 2021), 2D and 3D.

``clDice = 2 Tprec Tsens / (Tprec + Tsens)`` with ``Tprec = (|S(P) * T| + s) / (|S(P)| + s)`` and
``Tsens = (|S(T) * P| + s) / (|S(T)| + s)``, ``S`` the soft skeleton after ``num_iter`` soft
erosions (min-pool over the axis-aligned cross), ``s = smooth``. The loss is ``1 - clDice`` per
(item, class). Pure torch; no persistent homology.

References:
    Shit, S. et al. "clDice - a Novel Topology-Preserving Loss Function for Tubular Structure
    Segmentation." CVPR 2021.
"""
from __future__ import annotations

from typing import Iterable

import torch
import torch.nn.functional as F

from ._base import PreparedInput, TopologicalLoss

__all__ = ["SoftClDiceLoss", "soft_skeleton"]


def _soft_erode(x: torch.Tensor) -> torch.Tensor:
    """Min over the axis-aligned cross of radius 1 (out-of-image neighbours ignored)."""
    if x.ndim == 4:
        a = -F.max_pool2d(-x, (3, 1), 1, (1, 0))
        b = -F.max_pool2d(-x, (1, 3), 1, (0, 1))
        return torch.minimum(a, b)
    a = -F.max_pool3d(-x, (3, 1, 1), 1, (1, 0, 0))
    b = -F.max_pool3d(-x, (1, 3, 1), 1, (0, 1, 0))
    c = -F.max_pool3d(-x, (1, 1, 3), 1, (0, 0, 1))
    return torch.minimum(torch.minimum(a, b), c)


def _soft_dilate(x: torch.Tensor) -> torch.Tensor:
    if x.ndim == 4:
        return F.max_pool2d(x, 3, 1, 1)
    return F.max_pool3d(x, 3, 1, 1)


def soft_skeleton(x: torch.Tensor, num_iter: int) -> torch.Tensor:
    """Soft skeleton of ``(N, K, H, W)`` or ``(N, K, D, H, W)`` maps in ``[0, 1]`` (same shape out).

    ``num_iter`` soft erosions; a binary structure of half-thickness ``r`` (thickness ``2r + 1``)
    gets its centre line only when ``num_iter >= r``.
    """
    if x.ndim not in (4, 5):
        raise ValueError(f"soft_skeleton: expected (N, K, H, W) or (N, K, D, H, W), got shape {tuple(x.shape)}")
    skel = F.relu(x - _soft_dilate(_soft_erode(x)))
    for _ in range(num_iter):
        x = _soft_erode(x)
        delta = F.relu(x - _soft_dilate(_soft_erode(x)))
        skel = skel + F.relu(delta - skel * delta)
    return skel


class SoftClDiceLoss(TopologicalLoss):
    """``1 - clDice`` of the predicted probabilities against the binary targets, per (item, class).

    Args:
        num_iter: number of soft-erosion iterations of the soft skeleton (>= 0; default 3).
        smooth: additive smoothing of Tprec and Tsens (> 0; default 1.0).
        classes, nonlinearity, ignore_label, reduction, slice_axis: see :class:`TopologicalLoss`
            (``connectivity`` and ``num_threads`` are accepted and unused).

    Shapes: logits ``(B, C, *spatial)``; target ``(B, 1, *spatial)`` labels or ``(B, C, *spatial)``
    regions. Ignored pixels are zeroed in both maps before skeletonisation.
    """

    def __init__(
        self,
        *,
        num_iter: int = 3,
        smooth: float = 1.0,
        classes: Iterable[int] | int | None = None,
        nonlinearity: str = "softmax",
        ignore_label: int | None = None,
        reduction: str = "mean",
        connectivity: str = "full",
        slice_axis: int | None = None,
        num_threads: int | None = None,
    ) -> None:
        super().__init__(classes=classes, nonlinearity=nonlinearity, ignore_label=ignore_label,
                         reduction=reduction, connectivity=connectivity, slice_axis=slice_axis,
                         num_threads=num_threads)
        if isinstance(num_iter, bool) or not isinstance(num_iter, int) or num_iter < 0:
            raise ValueError(f"num_iter: expected a non-negative int, got {num_iter!r}")
        if not isinstance(smooth, (int, float)) or not smooth > 0:
            raise ValueError(f"smooth: expected a positive number, got {smooth!r}")
        self.num_iter = num_iter
        self.smooth = float(smooth)

    def per_item(self, prep: PreparedInput, has_target: bool) -> tuple[torch.Tensor, torch.Tensor]:
        p, t = prep.probs, prep.target.to(prep.probs.dtype)
        if prep.valid is not None:
            p = p * prep.valid
        sp = soft_skeleton(p, self.num_iter)
        st = soft_skeleton(t, self.num_iter)
        dims = tuple(range(2, p.ndim))
        tprec = ((sp * t).sum(dims) + self.smooth) / (sp.sum(dims) + self.smooth)
        tsens = ((st * p).sum(dims) + self.smooth) / (st.sum(dims) + self.smooth)
        cl = 2.0 * tprec * tsens / (tprec + tsens)
        values = 1.0 - cl
        return values, torch.ones_like(values, dtype=torch.bool)
