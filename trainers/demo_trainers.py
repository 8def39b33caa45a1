"""Shim for ``nnUNet_extTrainer``: re-exports the fixed-budget trainers of ``nnunet-topo demo`` and
``nnunet-topo bench train`` (defined in ``nnunet_topo.demo.trainers``). A plain re-export: no work at import time.
"""
from nnunet_topo.demo.trainers import *  # noqa: F401,F403
from nnunet_topo.demo.trainers import __all__  # noqa: F401
