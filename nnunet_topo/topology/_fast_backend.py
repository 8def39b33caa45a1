"""Fast backend: union-find for dimension 0 and ``d - 1``, our own or cripser's reduction for 1 in 3D.

* Dimension 0 and dimension ``d - 1`` (holes in 2D, cavities in 3D): in 2D, union-find over the
  critical pixels of a gradient forest built in one raster pass (``_forest2d``, no global sort);
  in 3D, the rank-based ``_union_find`` passes after one linear-time radix sort shared by both.
* Dimension 1 of a 3D image: our own reduction (``_loops3d``: apparent pairs found in one raster
  pass, clearing, compression, a heap-based column reduction of what is left) for the
  T-construction, the fastest in docs/benchmarks.md; for the V-construction it is delegated to
  cripser (CubicalRipser, ``computePH``), which names the same C-order cells as gudhi, or to gudhi
  without cripser.

Diagrams equal gudhi's (multisets of ``(birth, death)``, zero-persistence pairs left out); critical
cells carry exactly the birth/death values, and are the cells gudhi names whenever values are
distinct (ties make several cells valid).
"""
from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path
from types import ModuleType

import numpy as np

from ._bars import diagram_arrays
from ._forest2d import forest_pass, sort_decreasing, sublevel_pairs, superlevel_pairs
from ._loops3d import MAX_VOXELS, loops_3d_full
from ._types import Diagram
from ._union_find import (
    connectivity_bits,
    dim0_pairs,
    inverse_permutation,
    join_table,
    neighbour_masks,
    neighbour_offsets,
    plateau_starts,
    prefetch_distance,
    radix_argsort_decreasing,
    top_dim_pairs,
    two_level_order,
)

__all__ = ["fast_diagrams", "make_diagram", "diagram_from_cells"]


def diagram_from_cells(
    dim: int, values: np.ndarray, shape: tuple[int, ...], birth_idx: np.ndarray, death_idx: np.ndarray
) -> tuple[Diagram, np.ndarray]:
    """A sorted :class:`Diagram` from flat C-order cells into ``values`` (flat float64).

    ``death_idx == -1`` marks essential bars; zero-length bars are dropped. Also returns the input
    positions of the diagram's bars (to carry per-bar data along in the same order).
    """
    kept, births, deaths, b_cells, d_cells, essential = diagram_arrays(
        values, np.asarray(shape, np.int64), np.asarray(birth_idx, np.int64), np.asarray(death_idx, np.int64))
    diagram = Diagram(dim=dim, shape=tuple(shape), births=births, deaths=deaths, birth_cells=b_cells,
                      death_cells=d_cells, essential=essential)
    return diagram, kept


def make_diagram(
    dim: int, values: np.ndarray, shape: tuple[int, ...], birth_idx: np.ndarray, death_idx: np.ndarray,
    essential_births: np.ndarray | None = None,
) -> Diagram:
    """A sorted :class:`Diagram` from flat C-order birth/death indices into ``values`` (flat float64).

    ``essential_births`` are flat indices of bars that never die.
    """
    if essential_births is not None and len(essential_births):
        ess = np.asarray(essential_births, np.int64)
        birth_idx = np.concatenate([ess, np.asarray(birth_idx, np.int64)])
        death_idx = np.concatenate([np.full(len(ess), -1, np.int64), np.asarray(death_idx, np.int64)])
    return diagram_from_cells(dim, values, shape, birth_idx, death_idx)[0]


@lru_cache(maxsize=8)
def _join_table(ndim: int, select: int) -> np.ndarray:
    """``join_table`` of the union-find passes for one dimension and connectivity (computed once)."""
    table = join_table(neighbour_offsets(ndim), select)
    table.setflags(write=False)
    return table


@lru_cache(maxsize=1)
def _cripser_modules() -> tuple[ModuleType, ModuleType] | None:
    """cripser's two extension modules ``(_cripser, tcripser)`` (V- and T-construction), or None.

    Loaded from their files, because ``import cripser`` runs a package ``__init__`` that imports
    torch when it is installed, and the engine must stay torch-free.
    """
    spec = importlib.util.find_spec("cripser")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(list(spec.submodule_search_locations)[0])
    modules = []
    for name in ("_cripser", "tcripser"):
        files = sorted(root.glob(f"{name}*.so")) + sorted(root.glob(f"{name}*.pyd"))
        if not files:
            return None
        mspec = importlib.util.spec_from_file_location(name, files[0])
        module = importlib.util.module_from_spec(mspec)
        mspec.loader.exec_module(module)
        modules.append(module)
    return modules[0], modules[1]


def _gudhi_dim1(image: np.ndarray, connectivity: str) -> tuple[np.ndarray, np.ndarray]:
    """Flat C-order (birth, death) indices of the finite dimension-1 pairs of a 3D image, by gudhi."""
    from ._gudhi_backend import gudhi_diagrams

    d = gudhi_diagrams(image, (1,), connectivity)[1]
    return d.birth_index, d.death_index


def _cripser_dim1(image: np.ndarray, connectivity: str) -> tuple[np.ndarray, np.ndarray]:
    """Flat C-order (birth, death) indices of the finite dimension-1 pairs of a 3D image, by cripser."""
    v_module, t_module = _cripser_modules()
    neg = np.ascontiguousarray(-image)
    module = t_module if connectivity == "full" else v_module
    rows = np.asarray(module.computePH(neg, maxdim=1))
    rows = rows[rows[:, 0] == 1]
    coords_b = rows[:, 3:6].astype(np.int64)
    coords_d = rows[:, 6:9].astype(np.int64)
    b = np.ravel_multi_index(tuple(coords_b.T), image.shape).astype(np.int64)
    d = np.ravel_multi_index(tuple(coords_d.T), image.shape).astype(np.int64)
    flat = image.ravel()
    keep = flat[b] != flat[d]
    return b[keep], d[keep]


def _diagrams_2d(values: np.ndarray, shape: tuple[int, int], dims: tuple[int, ...], full: bool
                 ) -> dict[int, Diagram]:
    """Dimensions 0 and 1 of a 2D image (flat float64 ``values``) from its gradient forests."""
    offsets = neighbour_offsets(2)
    fg = _join_table(2, connectivity_bits(offsets, full))
    bg = _join_table(2, connectivity_bits(offsets, not full))
    forests = forest_pass(values, shape, offsets, full, fg, bg, up=0 in dims, down=1 in dims)
    out: dict[int, Diagram] = {}
    if 0 in dims:
        b, d = superlevel_pairs(values, shape[1], offsets, forests, sort_decreasing(values, forests.saddles))
        maxima = forests.maxima
        # the essential class is born at the first pixel of the order (argmax: the first maximum)
        out[0] = make_diagram(0, values, shape, maxima[b], d, maxima[[np.argmax(values[maxima])]])
    if 1 in dims:
        b, d, _ = sublevel_pairs(values, shape[1], offsets, forests, sort_decreasing(values, forests.dual_saddles))
        out[1] = make_diagram(1, values, shape, b, forests.minima[d])
    return out


def fast_diagrams(
    image: np.ndarray, dims: tuple[int, ...], connectivity: str, *, loops: str = "auto"
) -> tuple[dict[int, Diagram], str]:
    """Diagrams of the superlevel filtration of a validated float64 C-contiguous 2D/3D ``image``.

    ``loops`` picks the method for dimension 1 of a 3D image: ``"ours"`` (our reduction,
    T-construction only, at most ``MAX_VOXELS`` = 512³ voxels), ``"cripser"``, ``"gudhi"``, or
    ``"auto"``: ours for ``"full"`` up to ``MAX_VOXELS`` (the fastest, docs/benchmarks.md), else
    cripser when installed, else gudhi.

    Returns the diagrams and the backend's name: ``"fast"`` when everything ran here, or
    ``"fast+cripser"`` / ``"fast+gudhi"`` when dimension 1 of a 3D image was delegated.
    """
    name = "fast"
    shape = image.shape
    ndim = image.ndim
    values = image.ravel()
    shape3 = np.array((1,) + shape if ndim == 2 else shape, dtype=np.int64)
    full = connectivity == "full"
    out: dict[int, Diagram] = {}
    top = ndim - 1
    if loops == "auto":
        loops = "ours" if full and image.size <= MAX_VOXELS else ("cripser" if _cripser_modules() is not None else "gudhi")
    if loops not in ("cripser", "ours", "gudhi"):
        raise ValueError(f"loops: expected 'auto', 'cripser', 'ours' or 'gudhi', got {loops!r}")
    if loops == "ours" and not full:
        raise ValueError("loops='ours': expected connectivity 'full' (T-construction), got 'face'")
    own_loops = ndim == 3 and 1 in dims and loops == "ours"
    if ndim == 2:
        out.update(_diagrams_2d(values, shape, dims, full))
    elif 0 in dims or top in dims or own_loops:
        # binary masks in O(n) (and without the radix sort's long runs of equal digits)
        binary, order = two_level_order(values)
        if not binary:
            order = radix_argsort_decreasing(values)
        pos = inverse_permutation(order)
        offsets = neighbour_offsets(ndim)
        masks = neighbour_masks(shape3, pos, offsets)
        fresh = plateau_starts(values, order)
        ahead = prefetch_distance(fresh)
        if 0 in dims:
            select = connectivity_bits(offsets, full)
            table = _join_table(ndim, select)
            b, d, ess = dim0_pairs(fresh, shape3, order, masks, offsets, select, table, ahead)
            out[0] = make_diagram(0, values, shape, b, d, np.array([ess]))
        if own_loops:
            (b, d), (b2, d2) = loops_3d_full(values, shape3, order, pos, masks, fresh, ahead)
            out[1] = make_diagram(1, values, shape, b, d)
            if top in dims:
                out[top] = make_diagram(top, values, shape, b2, d2)
        elif top in dims:
            select = connectivity_bits(offsets, not full)
            table = _join_table(ndim, select)
            b, d = top_dim_pairs(fresh, shape3, order, masks, offsets, select, table, ahead)
            out[top] = make_diagram(top, values, shape, b, d)
        del order, pos, masks, fresh
    if ndim == 3 and 1 in dims and not own_loops:
        if loops == "cripser":
            b, d = _cripser_dim1(image, connectivity)
            name = "fast+cripser"
        else:
            b, d = _gudhi_dim1(image, connectivity)
            name = "fast+gudhi"
        out[1] = make_diagram(1, values, shape, b, d)
    return {k: out[k] for k in sorted(out)}, name
