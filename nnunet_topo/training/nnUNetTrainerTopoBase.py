"""``nnUNetTrainerTopoBase``: nnU-Net's trainer plus a topological loss term on the full-resolution output.

The loss is nnU-Net's own (``super()._build_loss()``: Dice+CE, or Dice+BCE for regions, with deep
supervision), plus ``λ(epoch) * topological term`` on output 0 (see :class:`TopoCompoundLoss`).
``λ`` is 0 for ``topo_warmup_epochs`` epochs, then ramps linearly over ``topo_ramp_epochs`` to
``topo_weight`` (:func:`topo_weight_at`); it depends on ``current_epoch`` only, so ``--c`` continues it.

Which channels get which term comes from the ``"topology"`` block of ``dataset.json``
(:class:`nnunet_topo.topology.TopologySpec`), mapped to output channels with nnU-Net's label manager.

Logging: the hyper-parameters go to nnU-Net's training log when the loss is built; every epoch the
training log gets λ, the mean topological loss, the number of wrong topological features and the
seconds spent in the topological term, and ``topology_log.json`` in the fold folder keeps the same
numbers per epoch (machine-readable; a resumed run keeps the epochs before the checkpoint).

Subclasses set class attributes or override :meth:`_build_topo_terms` (the topological half of
``_build_loss``). The constructor signature is exactly nnU-Net's (nnU-Net instantiates trainers with
keyword arguments and stores them in checkpoints), so settings are class attributes.
"""
from __future__ import annotations

import json
import os
from typing import Any, Sequence

import torch
import torch.distributed as dist
from torch import nn

from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer

from nnunet_topo.topology import TopologySpec

from .channels import TopoChannel, default_channels, topology_channels
from .compound import TopoCompoundLoss
from .schedule import topo_weight_at

__all__ = ["nnUNetTrainerTopoBase", "TOPOLOGY_LOG"]

TOPOLOGY_LOG = "topology_log.json"


class nnUNetTrainerTopoBase(nnUNetTrainer):
    """Base of the nnunet_topo trainers (not meant to be trained itself: it has no topological term).

    Class attributes (subclasses override them):
        topo_weight: full weight λ of the topological term.
        topo_warmup_epochs: epochs with λ = 0 at the start.
        topo_ramp_epochs: epochs of the linear ramp from 0 to ``topo_weight`` after the warm-up.
        requires_topology_block: raise when dataset.json has no ``"topology"`` block (Betti priors).
        nnunet_settings: attributes of nnU-Net's trainer set after its ``__init__`` (e.g. ``num_epochs``,
            ``num_iterations_per_epoch``); used by the short-run variants.
    """

    topo_weight: float = 0.1
    topo_warmup_epochs: int = 50
    topo_ramp_epochs: int = 50
    requires_topology_block: bool = False
    nnunet_settings: dict[str, Any] = {}

    def __init__(self, plans: dict, configuration: str, fold: int, dataset_json: dict,
                 device: torch.device = torch.device("cuda")):
        super().__init__(plans, configuration, fold, dataset_json, device)
        apply_nnunet_settings(self, self.nnunet_settings)
        # validate the schedule now (a typo in a variant fails before any work is done)
        topo_weight_at(0, weight=self.topo_weight, warmup_epochs=self.topo_warmup_epochs,
                       ramp_epochs=self.topo_ramp_epochs)
        self.topo_history: list[dict[str, Any]] = []

    # ------------------------------------------------------------------ loss
    def _build_topo_terms(self, channels: Sequence[TopoChannel], connectivity: str) -> list[nn.Module]:
        """The topological loss modules for ``channels`` (override in variants)."""
        raise NotImplementedError(
            f"{type(self).__name__} has no topological term; train one of nnUNetTrainerTopoBetti, "
            "nnUNetTrainerTopoBettiMatching, nnUNetTrainerTopoDense or nnUNetTrainerClDice"
        )

    def topology_channels(self) -> tuple[tuple[TopoChannel, ...], str]:
        """Output channels with their priors/matching flags, and the connectivity, from dataset.json."""
        spec = TopologySpec.from_dataset_json(self.dataset_json, required=self.requires_topology_block)
        spatial_ndim = len(self.configuration_manager.patch_size)
        if spec is None:
            return default_channels(self.label_manager), "full"
        return topology_channels(spec, self.label_manager, spatial_ndim=spatial_ndim), spec.connectivity

    def _build_loss(self):
        base = super()._build_loss()
        channels, connectivity = self.topology_channels()
        terms = self._build_topo_terms(channels, connectivity)
        loss = TopoCompoundLoss(base, terms, deep_supervision=self.enable_deep_supervision)
        self._log_topo_settings(terms)
        return loss

    def _log_topo_settings(self, terms: Sequence[nn.Module]) -> None:
        settings = {
            "topo_weight": self.topo_weight,
            "topo_warmup_epochs": self.topo_warmup_epochs,
            "topo_ramp_epochs": self.topo_ramp_epochs,
            "regions": self.label_manager.has_regions,
            "ignore_label": self.label_manager.ignore_label,
            "terms": [repr(t) for t in terms],
        }
        self.print_to_log_file("nnunet_topo topological term (full-resolution output only):")
        for key, value in settings.items():
            self.print_to_log_file(f"  {key}: {value}", add_timestamp=False)
        self.logger.update_config({"topology": settings})

    def _topo_loss(self) -> TopoCompoundLoss:
        if not isinstance(self.loss, TopoCompoundLoss):
            raise TypeError(f"{type(self).__name__}.loss: expected a TopoCompoundLoss, got {type(self.loss).__name__}")
        return self.loss

    def current_topo_weight(self) -> float:
        """λ for ``self.current_epoch``."""
        return topo_weight_at(self.current_epoch, weight=self.topo_weight, warmup_epochs=self.topo_warmup_epochs,
                              ramp_epochs=self.topo_ramp_epochs)

    # ------------------------------------------------------------------ epoch hooks
    def on_train_start(self):
        super().on_train_start()
        self.topo_history = [e for e in self._read_topo_history() if e["epoch"] < self.current_epoch]

    def on_train_epoch_start(self):
        super().on_train_epoch_start()
        loss = self._topo_loss()
        loss.weight = self.current_topo_weight()
        loss.reset_stats()
        self.print_to_log_file(f"topological weight (lambda): {loss.weight:.6g}")

    def on_train_epoch_end(self, train_outputs: list[dict]):
        super().on_train_epoch_end(train_outputs)
        stats = dict(self._topo_loss().stats)
        if self.is_ddp:
            gathered: list[Any] = [None] * dist.get_world_size()
            dist.all_gather_object(gathered, stats)
            stats = {k: sum(s[k] for s in gathered) for k in stats}
            stats["seconds"] /= len(gathered)  # per rank: ranks run in parallel
            stats["seconds_ph"] /= len(gathered)
        calls = stats["calls"]
        entry = {
            "epoch": int(self.current_epoch),
            "topo_weight": float(self._topo_loss().weight),
            "iterations_with_topo_term": int(calls),
            "topo_loss": float(stats["topo_loss"] / calls) if calls else float("nan"),
            "num_wrong_features": int(stats["num_wrong_features"]),
            "seconds_topo": float(stats["seconds"]),
            "seconds_ph": float(stats["seconds_ph"]),
        }
        self.topo_history.append(entry)
        self.print_to_log_file(
            f"topo_loss {entry['topo_loss']:.4f}, wrong topological features {entry['num_wrong_features']}, "
            f"seconds in topological term {entry['seconds_topo']:.2f} (PH {entry['seconds_ph']:.2f}), "
            f"lambda {entry['topo_weight']:.6g}"
        )
        if self.local_rank == 0:
            self._write_topo_history()

    # ------------------------------------------------------------------ topology_log.json
    def _topo_history_file(self) -> str:
        return os.path.join(self.output_folder, TOPOLOGY_LOG)

    def _read_topo_history(self) -> list[dict[str, Any]]:
        path = self._topo_history_file()
        if not os.path.isfile(path):
            return []
        with open(path) as fh:
            return list(json.load(fh)["epochs"])

    def _write_topo_history(self) -> None:
        path = self._topo_history_file()
        payload = {"trainer": type(self).__name__, "topo_weight": self.topo_weight,
                   "topo_warmup_epochs": self.topo_warmup_epochs, "topo_ramp_epochs": self.topo_ramp_epochs,
                   "epochs": self.topo_history}
        tmp = path + ".tmp"
        with open(tmp, "w") as fh:
            json.dump(payload, fh, indent=1)
        os.replace(tmp, path)


def apply_nnunet_settings(trainer: nnUNetTrainer, settings: dict[str, Any]) -> None:
    """Set attributes that nnU-Net's ``__init__`` defines (``num_epochs``, ``num_iterations_per_epoch``, ...).

    Raises:
        TypeError: a key that is not an attribute of nnU-Net's trainer (a typo would otherwise be ignored).
    """
    for key, value in settings.items():
        if not hasattr(trainer, key):
            raise TypeError(f"{type(trainer).__name__}.nnunet_settings: {key!r} is not an nnU-Net trainer attribute")
        setattr(trainer, key, value)
