"""nnU-Net trainers with topological loss terms (``nnUNetTrainerTopo*``) and their discovery path.

Importing this package is cheap: the trainer classes (which import torch and nnU-Net) load on first
attribute access, so ``nnunet-topo trainers-path`` stays fast.
"""
from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "nnUNetTrainerTopoBase",
    "nnUNetTrainerTopoBetti",
    "nnUNetTrainerTopoBettiMatching",
    "nnUNetTrainerTopoDense",
    "nnUNetTrainerClDice",
    "nnUNetTrainerNoTopo",
    "TopoCompoundLoss",
    "topo_weight_at",
    "trainers_path",
]

_WHERE = {
    "TopoCompoundLoss": "compound",
    "topo_weight_at": "schedule",
    "trainers_path": "discovery",
}


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    module = importlib.import_module(f".{_WHERE.get(name, 'variants')}", __name__)
    if name not in _WHERE and name not in module.__all__:  # e.g. the short-run variants are reachable too
        raise AttributeError(f"module 'nnunet_topo.training' has no attribute {name!r}")
    return getattr(module, name)


def __dir__() -> list[str]:
    return sorted(__all__)
