"""Source datasets -> nnU-Net v2 raw datasets (``nnunet-topo convert``), and back (``nnunet-topo export``).

Stands alone: imports nothing else of ``nnunet_topo`` and never torch. Each converter checks every case
before writing anything, writes into a temporary folder and renames it into place; see ``docs/conversion.md``.
"""
from __future__ import annotations

from ._common import CaseProblem, ConversionError
from .crackforest import convert_crackforest
from .isbi2012 import convert_isbi2012
from .myops import convert_myops, export_predictions as export_myops
from .nifti import convert_nifti
from .retina import convert_chase, convert_drive
from .roads import convert_roads

__all__ = [
    "CaseProblem",
    "ConversionError",
    "convert_myops",
    "export_myops",
    "convert_drive",
    "convert_chase",
    "convert_isbi2012",
    "convert_roads",
    "convert_crackforest",
    "convert_nifti",
]
