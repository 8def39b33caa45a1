"""Peers we measure against, loaded only when a benchmark or test asks for them.

* gudhi: ``CubicalComplex(top_dimensional_cells=-p)`` (T) or ``(vertices=-p)`` (V).
* cripser 0.0.37: ``computePH_T(-p)`` (T-construction) or ``computePH(-p)`` (V-construction).
  ``computePH(-p, top_dim=True)`` is *not* the T-construction in this version: it computes the top
  dimension only. ``import cripser`` imports torch when it is installed; the engine loads cripser's
  extension modules from their files instead (``topology._fast_backend._cripser_modules``).
* Betti-Matching-3D, the C++ extension shipped inside ``topolosses``. ``import topolosses`` itself
  imports torchvision (for an unrelated VGG loss), which has no CPU build matching our torch, so the
  extension is loaded from its file directly. It uses the V-construction on sublevel filtrations:
  pass ``1 - p``.
"""
from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path
from types import ModuleType

__all__ = ["load_betti_matching_3d", "PeerUnavailable"]


class PeerUnavailable(RuntimeError):
    """A peer package is not installed (install the ``[bench]`` extra)."""


@lru_cache(maxsize=1)
def load_betti_matching_3d() -> ModuleType:
    """The ``betti_matching`` extension module of ``topolosses`` (``compute_matching``, ``compute_barcode``)."""
    spec = importlib.util.find_spec("topolosses")
    if spec is None or not spec.submodule_search_locations:
        raise PeerUnavailable("topolosses is not installed; `pip install -e .[bench]`")
    root = Path(list(spec.submodule_search_locations)[0])
    candidates = sorted((root / "losses" / "betti_matching" / "src").glob("betti_matching*.so"))
    if not candidates:
        raise PeerUnavailable(f"no betti_matching extension under {root}/losses/betti_matching/src")
    mspec = importlib.util.spec_from_file_location("betti_matching", candidates[0])
    module = importlib.util.module_from_spec(mspec)
    mspec.loader.exec_module(module)
    return module
