"""``nnunet-topo evaluate``: topology evaluator over nnU-Net prediction folders (never imports torch).

:func:`evaluate_folder` writes nnU-Net's summary.json (``metric_per_case``, ``mean``,
``foreground_mean``) with topology keys beside nnU-Net's own, a per-case CSV, error-localisation maps
and an HTML report. See ``docs/evaluation.md``.
"""
from __future__ import annotations

from .error_maps import ERROR_CODES, error_map, error_map_slices
from .evaluate import LabelOptions, evaluate_case, evaluate_folder, label_metrics

__all__ = [
    "evaluate_folder",
    "evaluate_case",
    "label_metrics",
    "LabelOptions",
    "ERROR_CODES",
    "error_map",
    "error_map_slices",
]
