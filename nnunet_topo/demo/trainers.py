"""Fixed-budget trainer variants for the demo (``*_demo``) and the real-data benchmark (``*_bench``).

nnU-Net picks a trainer by class name (``-tr NAME``) and builds it with a fixed constructor, so the
training length cannot be a command-line option. These variants read it from the environment when
they are built (``nnunet-topo demo`` and ``nnunet-topo bench train`` set it for their subprocesses)
and fall back to the class defaults:

* ``NNUNET_TOPO_EPOCHS``: epochs (class default ``budget_epochs``)
* ``NNUNET_TOPO_ITERS``: training iterations per epoch (``budget_iterations``)
* ``NNUNET_TOPO_VAL_ITERS``: validation iterations per epoch (``budget_val_iterations``)
* ``NNUNET_TOPO_SEED``: seeds Python, NumPy and torch before the network is built (``budget_seed``);
  with ``nnUNet_n_proc_DA=0`` the augmentation also runs in this process, so runs repeat.

Every variant of a family gets the same budget, so plain and topological trainers compare fairly.
The topological trainers' schedule is scaled to the budget: λ is 0 for the first quarter of the epochs,
ramps up over the second quarter and stays at ``topo_weight`` for the second half (the full-length
trainers use 50 + 50 epochs, longer than these budgets). The length and schedule go to the training
log. Nothing happens at import time.
"""
from __future__ import annotations

import random

import numpy as np
import torch
from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer

from nnunet_topo.demo.budget import budget_from_env
from nnunet_topo.training import (
    nnUNetTrainerClDice,
    nnUNetTrainerTopoBetti,
    nnUNetTrainerTopoBettiMatching,
    nnUNetTrainerTopoDense,
)

__all__ = [
    "nnUNetTrainer_demo",
    "nnUNetTrainerTopoDense_demo",
    "nnUNetTrainer_bench",
    "nnUNetTrainerTopoBetti_bench",
    "nnUNetTrainerTopoBettiMatching_bench",
    "nnUNetTrainerTopoDense_bench",
    "nnUNetTrainerClDice_bench",
]

class _FixedBudget:
    """Mixin: training length and seed from the environment; put it first in the bases."""

    budget_epochs: int = 10
    budget_iterations: int = 25
    budget_val_iterations: int = 5
    budget_seed: int = 0

    def __init__(self, plans: dict, configuration: str, fold: int, dataset_json: dict,
                 device: torch.device = torch.device("cuda")):
        budget = budget_from_env({"epochs": self.budget_epochs, "iterations": self.budget_iterations,
                                  "val_iterations": self.budget_val_iterations, "seed": self.budget_seed})
        random.seed(budget["seed"])
        np.random.seed(budget["seed"])
        torch.manual_seed(budget["seed"])
        super().__init__(plans, configuration, fold, dataset_json, device)
        self.num_epochs = budget["epochs"]
        self.num_iterations_per_epoch = budget["iterations"]
        self.num_val_iterations_per_epoch = budget["val_iterations"]
        self.budget = budget
        if hasattr(self, "topo_warmup_epochs"):
            self.topo_warmup_epochs = budget["epochs"] // 4
            self.topo_ramp_epochs = max(1, budget["epochs"] // 4)

    def on_train_start(self):
        super().on_train_start()
        self.print_to_log_file(
            f"fixed budget: {self.num_epochs} epochs x {self.num_iterations_per_epoch} iterations "
            f"({self.num_val_iterations_per_epoch} validation iterations per epoch), seed {self.budget['seed']}"
            + (f"; topological weight 0 for {self.topo_warmup_epochs} epochs, ramp over {self.topo_ramp_epochs}"
               if hasattr(self, "topo_warmup_epochs") else "")
        )


class nnUNetTrainer_demo(_FixedBudget, nnUNetTrainer):
    """Plain nnU-Net with the demo budget."""


class nnUNetTrainerTopoDense_demo(_FixedBudget, nnUNetTrainerTopoDense):
    """TopoDense with the demo budget."""


class nnUNetTrainer_bench(_FixedBudget, nnUNetTrainer):
    """Plain nnU-Net with the benchmark budget."""


class nnUNetTrainerTopoBetti_bench(_FixedBudget, nnUNetTrainerTopoBetti):
    """TopoBetti with the benchmark budget."""


class nnUNetTrainerTopoBettiMatching_bench(_FixedBudget, nnUNetTrainerTopoBettiMatching):
    """TopoBettiMatching with the benchmark budget."""


class nnUNetTrainerTopoDense_bench(_FixedBudget, nnUNetTrainerTopoDense):
    """TopoDense with the benchmark budget."""


class nnUNetTrainerClDice_bench(_FixedBudget, nnUNetTrainerClDice):
    """clDice with the benchmark budget."""
