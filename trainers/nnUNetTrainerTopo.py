"""Shim for ``nnUNet_extTrainer``: re-exports the nnunet_topo trainers (defined in ``nnunet_topo.training``).

Imported by nnU-Net as a top-level module while it searches for a trainer class by name; it must stay a
plain re-export (no work at import time, no imports of sibling modules in this folder).
"""
from nnunet_topo.training.variants import *  # noqa: F401,F403
from nnunet_topo.training.variants import __all__  # noqa: F401
