"""nnU-Net's loss plus a weighted topological term on the full-resolution output only.

``TopoCompoundLoss(base, terms)`` keeps nnU-Net's own loss (Dice+CE or Dice+BCE, wrapped in
``DeepSupervisionWrapper``) untouched and adds ``weight * sum(term(output[0], target[0]))``. The weight
is set by the trainer each epoch (no global state; every DDP rank holds its own copy and works on its
own batch). The topological term runs only while gradients are enabled, i.e. in training steps:
nnU-Net's validation steps run under ``torch.no_grad()`` and report the plain nnU-Net loss, comparable
with ``nnUNetTrainer``'s. It is skipped, at no cost, while the weight is 0 (warm-up).
"""
from __future__ import annotations

import contextlib
import time
from typing import Sequence

import torch
from torch import nn

__all__ = ["TopoCompoundLoss"]


class TopoCompoundLoss(nn.Module):
    """``base(net_output, target) + weight * Σ_i terms[i](net_output[0], target[0])``.

    Args:
        base: nnU-Net's loss, called exactly as nnU-Net would call it (lists of scales with deep supervision).
        terms: topological losses following nnU-Net's loss contract (logits ``(B, C, *spatial)``, target
            ``(B, 1, *spatial)`` label map or ``(B, C[+1], *spatial)`` regions); each exposes ``last_stats``
            with ``num_wrong_features`` and ``seconds_ph`` after a call.
        deep_supervision: ``net_output``/``target`` are lists of scales, highest resolution first.

    The topological terms see float32 logits with autocast disabled (AMP: the losses compute persistent
    homology on float32 CPU copies and gather gradients on the device).
    """

    def __init__(self, base: nn.Module, terms: Sequence[nn.Module], *, deep_supervision: bool) -> None:
        super().__init__()
        if not isinstance(base, nn.Module):
            raise TypeError(f"base: expected an nn.Module (nnU-Net's loss), got {type(base).__name__}")
        terms = list(terms)
        if not terms or not all(isinstance(t, nn.Module) for t in terms):
            raise TypeError(f"terms: expected a non-empty sequence of nn.Module, got {terms!r}")
        self.base = base
        self.terms = nn.ModuleList(terms)
        self.deep_supervision = bool(deep_supervision)
        self.weight = 0.0
        self.reset_stats()

    def reset_stats(self) -> None:
        """Clear the statistics accumulated since the last reset (called at each epoch start)."""
        self.stats = {"calls": 0, "topo_loss": 0.0, "num_wrong_features": 0, "seconds": 0.0, "seconds_ph": 0.0}

    def forward(self, net_output, target) -> torch.Tensor:
        loss = self.base(net_output, target)
        if self.weight == 0.0 or not torch.is_grad_enabled():
            return loss
        out0 = net_output[0] if self.deep_supervision else net_output
        tgt0 = target[0] if self.deep_supervision else target
        t0 = time.perf_counter()
        no_amp = torch.autocast("cuda", enabled=False) if out0.device.type == "cuda" else contextlib.nullcontext()
        with no_amp:
            logits = out0.float()
            topo = sum(term(logits, tgt0) for term in self.terms)
        seconds = time.perf_counter() - t0
        s = self.stats
        s["calls"] += 1
        s["topo_loss"] += float(topo.detach())
        s["seconds"] += seconds
        for term in self.terms:
            st = getattr(term, "last_stats", None) or {}
            s["num_wrong_features"] += int(st.get("num_wrong_features", 0))
            s["seconds_ph"] += float(st.get("seconds_ph", 0.0))
        return loss + self.weight * topo
