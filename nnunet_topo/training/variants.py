"""The nnunet_topo trainers. Class names are experiment IDs (nnU-Net names output folders after them): keep them.

* ``nnUNetTrainerTopoBetti``: Betti-prior loss on the labels with a ``"betti"`` prior (needs the block).
* ``nnUNetTrainerTopoBettiMatching``: Betti-matching loss against the ground truth on matched labels.
* ``nnUNetTrainerTopoDense``: our dense-gradient topological loss (matching, plus priors where given).
* ``nnUNetTrainerClDice``: soft clDice on matched labels (the non-PH baseline).

Without a ``"topology"`` block in dataset.json every foreground label/region is matched and no prior is
used (``nnUNetTrainerTopoBetti`` raises instead). Short-run variants for CPU tests and the demo:

* ``*_5epochs``: 5 epochs x 50 iterations (10 validation iterations), λ off for epoch 0, ramp over 2.
* ``*_debug``: 3 epochs x 2 iterations (1 validation iteration), λ off for epoch 0, ramp over 2,
  checkpoint every epoch. ``nnUNetTrainerNoTopo_5epochs`` / ``_debug`` are nnU-Net's plain trainer
  with the same run length, for comparisons.
"""
from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer

from nnunet_topo import losses

from .channels import TopoChannel
from .nnUNetTrainerTopoBase import apply_nnunet_settings, nnUNetTrainerTopoBase

__all__ = [
    "nnUNetTrainerTopoBase",
    "nnUNetTrainerTopoBetti",
    "nnUNetTrainerTopoBettiMatching",
    "nnUNetTrainerTopoDense",
    "nnUNetTrainerClDice",
    "nnUNetTrainerNoTopo",
    "nnUNetTrainerTopoBetti_5epochs",
    "nnUNetTrainerTopoBettiMatching_5epochs",
    "nnUNetTrainerTopoDense_5epochs",
    "nnUNetTrainerClDice_5epochs",
    "nnUNetTrainerNoTopo_5epochs",
    "nnUNetTrainerTopoBetti_debug",
    "nnUNetTrainerTopoBettiMatching_debug",
    "nnUNetTrainerTopoDense_debug",
    "nnUNetTrainerClDice_debug",
    "nnUNetTrainerNoTopo_debug",
    "SHORT_5EPOCHS",
    "SHORT_DEBUG",
]


def _by_slicing(channels: Sequence[TopoChannel]) -> dict[bool, list[TopoChannel]]:
    """Channels grouped by ``per_slice`` (one loss module per group: the slice axis is a module option)."""
    groups: dict[bool, list[TopoChannel]] = {}
    for ch in channels:
        groups.setdefault(ch.per_slice, []).append(ch)
    return groups


class _TopoTrainer(nnUNetTrainerTopoBase):
    """Shared option plumbing of the four trainers (nonlinearity, ignore label, connectivity, slicing)."""

    def _loss_options(self, connectivity: str, per_slice: bool) -> dict[str, Any]:
        return {
            "nonlinearity": "sigmoid" if self.label_manager.has_regions else "softmax",
            "ignore_label": self.label_manager.ignore_label,
            "connectivity": connectivity,
            "slice_axis": 0 if per_slice else None,
        }

    @staticmethod
    def _matched(channels: Sequence[TopoChannel], trainer: str) -> list[TopoChannel]:
        matched = [c for c in channels if c.match]
        if not matched:
            raise ValueError(
                f"{trainer}: dataset.json 'topology' marks no label with \"match\": true; expected at least one "
                f"(labels in the block: {[c.name for c in channels]})"
            )
        return matched


class nnUNetTrainerTopoBetti(_TopoTrainer):
    """Betti-prior loss (the labels' known Betti numbers, no ground-truth matching).

    ``betti_only_if_whole`` (default True): a patch gets the prior only where its ground truth shows the
    structure whole inside the patch; a ring cut by the patch border has other Betti numbers.
    """

    requires_topology_block = True
    betti_only_if_whole: bool = True

    def _build_topo_terms(self, channels: Sequence[TopoChannel], connectivity: str) -> list[nn.Module]:
        with_prior = [c for c in channels if c.betti is not None]
        if not with_prior:
            raise ValueError(
                f"{type(self).__name__}: dataset.json 'topology' gives no \"betti\" prior; expected at least one "
                f"(labels in the block: {[c.name for c in channels]})"
            )
        return [losses.BettiPriorLoss(priors={c.channel: c.betti for c in group},
                                      only_if_whole=self.betti_only_if_whole,
                                      **self._loss_options(connectivity, ps))
                for ps, group in _by_slicing(with_prior).items()]


class nnUNetTrainerTopoBettiMatching(_TopoTrainer):
    """Betti-matching loss against the ground truth on the matched labels."""

    def _build_topo_terms(self, channels: Sequence[TopoChannel], connectivity: str) -> list[nn.Module]:
        matched = self._matched(channels, type(self).__name__)
        return [losses.BettiMatchingLoss(classes=[c.channel for c in group], **self._loss_options(connectivity, ps))
                for ps, group in _by_slicing(matched).items()]


class nnUNetTrainerTopoDense(_TopoTrainer):
    """TopoDense: dense-gradient topological loss on the matched labels, with their Betti priors if any."""

    def _build_topo_terms(self, channels: Sequence[TopoChannel], connectivity: str) -> list[nn.Module]:
        matched = self._matched(channels, type(self).__name__)
        terms = []
        for ps, group in _by_slicing(matched).items():
            priors = {c.channel: c.betti for c in group if c.betti is not None} or None
            terms.append(losses.TopoDenseLoss(classes=[c.channel for c in group], priors=priors,
                                       **self._loss_options(connectivity, ps)))
        return terms


class nnUNetTrainerClDice(_TopoTrainer):
    """Soft clDice on the matched labels (no persistent homology; the usual baseline)."""

    def _build_topo_terms(self, channels: Sequence[TopoChannel], connectivity: str) -> list[nn.Module]:
        matched = self._matched(channels, type(self).__name__)
        return [losses.SoftClDiceLoss(classes=[c.channel for c in group], **self._loss_options(connectivity, ps))
                for ps, group in _by_slicing(matched).items()]


class nnUNetTrainerNoTopo(nnUNetTrainer):
    """nnU-Net's plain trainer with ``nnunet_settings`` (the baseline of the short runs)."""

    nnunet_settings: dict[str, Any] = {}

    def __init__(self, plans: dict, configuration: str, fold: int, dataset_json: dict,
                 device: torch.device = torch.device("cuda")):
        super().__init__(plans, configuration, fold, dataset_json, device)
        apply_nnunet_settings(self, self.nnunet_settings)


# ---------------------------------------------------------------- short runs (tests, demo, CPU)
SHORT_5EPOCHS: dict[str, Any] = {"num_epochs": 5, "num_iterations_per_epoch": 50, "num_val_iterations_per_epoch": 10}
SHORT_DEBUG: dict[str, Any] = {"num_epochs": 3, "num_iterations_per_epoch": 2, "num_val_iterations_per_epoch": 1,
                               "save_every": 1}


class nnUNetTrainerTopoBetti_5epochs(nnUNetTrainerTopoBetti):
    nnunet_settings = SHORT_5EPOCHS
    topo_warmup_epochs, topo_ramp_epochs = 1, 2


class nnUNetTrainerTopoBettiMatching_5epochs(nnUNetTrainerTopoBettiMatching):
    nnunet_settings = SHORT_5EPOCHS
    topo_warmup_epochs, topo_ramp_epochs = 1, 2


class nnUNetTrainerTopoDense_5epochs(nnUNetTrainerTopoDense):
    nnunet_settings = SHORT_5EPOCHS
    topo_warmup_epochs, topo_ramp_epochs = 1, 2


class nnUNetTrainerClDice_5epochs(nnUNetTrainerClDice):
    nnunet_settings = SHORT_5EPOCHS
    topo_warmup_epochs, topo_ramp_epochs = 1, 2


class nnUNetTrainerNoTopo_5epochs(nnUNetTrainerNoTopo):
    nnunet_settings = SHORT_5EPOCHS


class nnUNetTrainerTopoBetti_debug(nnUNetTrainerTopoBetti):
    nnunet_settings = SHORT_DEBUG
    topo_warmup_epochs, topo_ramp_epochs = 1, 2


class nnUNetTrainerTopoBettiMatching_debug(nnUNetTrainerTopoBettiMatching):
    nnunet_settings = SHORT_DEBUG
    topo_warmup_epochs, topo_ramp_epochs = 1, 2


class nnUNetTrainerTopoDense_debug(nnUNetTrainerTopoDense):
    nnunet_settings = SHORT_DEBUG
    topo_warmup_epochs, topo_ramp_epochs = 1, 2


class nnUNetTrainerClDice_debug(nnUNetTrainerClDice):
    nnunet_settings = SHORT_DEBUG
    topo_warmup_epochs, topo_ramp_epochs = 1, 2


class nnUNetTrainerNoTopo_debug(nnUNetTrainerNoTopo):
    nnunet_settings = SHORT_DEBUG
