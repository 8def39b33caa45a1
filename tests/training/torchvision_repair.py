"""Declare torchvision's ``nms``/``qnms`` op schemas when its compiled library cannot load (test environment only).

See ``_site/sitecustomize.py`` for why. Importing this module does nothing; call :func:`repair`.
"""
from __future__ import annotations

import glob
import importlib.util
import os


def torchvision_ops_loadable() -> bool:
    """Whether torchvision is absent or its ``_C`` library loads into this torch."""
    spec = importlib.util.find_spec("torchvision")
    if spec is None or spec.origin is None:
        return True
    libs = glob.glob(os.path.join(os.path.dirname(spec.origin), "_C*.so"))
    if not libs:
        return True
    import torch

    try:
        torch.ops.load_library(libs[0])
        return True
    except (OSError, RuntimeError):
        return False


def repair() -> bool:
    """Define the two schemas if needed; returns True when it did."""
    if torchvision_ops_loadable():
        return False
    import torch

    lib = torch.library.Library("torchvision", "DEF")
    lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    globals()["_LIB"] = lib  # keep the library object alive
    return True
