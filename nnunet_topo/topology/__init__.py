"""Persistent-homology engine of nnunet_topo (NumPy only; never imports torch).

Superlevel filtrations of 2D/3D probability maps, C order. ``connectivity="full"`` (default) is the
T-construction: foreground 8-connected (2D) / 26-connected (3D), background 4 / 6.
"""
from ._types import Diagram, PersistenceResult
from .betti import betti_numbers, euler_characteristic
from .matching import BettiMatchingResult, DimensionMatching, betti_matching, betti_matching_batch
from .persistence import persistence, persistence_batch
from .spec import LabelTopology, TopologySpec

__all__ = [
    "Diagram",
    "PersistenceResult",
    "persistence",
    "persistence_batch",
    "betti_numbers",
    "euler_characteristic",
    "betti_matching",
    "betti_matching_batch",
    "BettiMatchingResult",
    "DimensionMatching",
    "LabelTopology",
    "TopologySpec",
]
