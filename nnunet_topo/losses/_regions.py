"""Pixel sets that carry a persistence feature (NumPy/SciPy; used by TopoDenseLoss).

All maps are 2D ``(H, W)`` or 3D ``(D, H, W)`` float arrays in C order; pixel positions are flat C-order
indices. ``full`` selects the connectivity of the superlevel (primal) side: ``True`` = 8/26-connected
foreground with a 4/6-connected background (the T-construction, ``connectivity="full"``), ``False``
the reverse (``"face"``).

* :class:`LevelComponents` -- connected components of ``{p > level}`` (primal) or ``{p < level}``
  (dual; strict, so a feature's region at its own critical value leaves the critical pixel out) with a
  cache per level, so the basins of many features cost one labelling per level.
* :func:`monotone_paths` -- steepest-ascent (or -descent) paths that leave a saddle pixel through each
  of its higher (lower) neighbours and stop once they reach ``stop`` (or a local extremum): the
  bottleneck path across the saddle that joins the parts it merges.
* :func:`adjacent_components` -- the components of a labelled mask touching a region (dilation by one).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import ndimage

__all__ = ["structure", "LevelComponents", "monotone_paths", "adjacent_components", "neighbourhood",
           "component_in_box"]


@lru_cache(maxsize=8)
def structure(ndim: int, full: bool) -> np.ndarray:
    """SciPy structuring element: all ``3**ndim - 1`` neighbours (``full``) or the ``2 * ndim`` face ones."""
    return ndimage.generate_binary_structure(ndim, ndim if full else 1)


@lru_cache(maxsize=16)
def _offsets(shape: tuple[int, ...], full: bool) -> tuple[np.ndarray, np.ndarray]:
    """Neighbour steps as coordinate deltas ``(m, ndim)`` and flat C-order offsets ``(m,)``."""
    deltas = np.array([d for d in np.ndindex(*(3,) * len(shape)) if any(x != 1 for x in d)]) - 1
    if not full:
        deltas = deltas[np.abs(deltas).sum(1) == 1]
    strides = np.array([int(np.prod(shape[i + 1:])) for i in range(len(shape))], dtype=np.int64)
    return deltas.astype(np.int64), (deltas * strides).sum(1)


def _neighbours(flat: int, shape: tuple[int, ...], full: bool) -> np.ndarray:
    """Flat indices of the in-bounds neighbours of pixel ``flat``."""
    deltas, offs = _offsets(shape, full)
    coord = np.array(np.unravel_index(flat, shape))
    nc = coord + deltas
    ok = ((nc >= 0) & (nc < np.array(shape))).all(1)
    return flat + offs[ok]


def neighbourhood(flat_cells: np.ndarray, shape: tuple[int, ...], radius: int = 1) -> np.ndarray:
    """Flat indices of the ``(2r+1)^ndim`` cubes around the given cells (clipped to the array; unique)."""
    flat_cells = np.asarray(flat_cells, dtype=np.int64)
    flat_cells = flat_cells[flat_cells >= 0]
    if flat_cells.size == 0:
        return np.zeros(0, dtype=np.int64)
    coords = np.stack(np.unravel_index(flat_cells, shape), 1)
    r = np.arange(-radius, radius + 1)
    grid = np.stack(np.meshgrid(*([r] * len(shape)), indexing="ij"), -1).reshape(-1, len(shape))
    pts = (coords[:, None, :] + grid[None]).reshape(-1, len(shape))
    pts = pts[((pts >= 0) & (pts < np.array(shape))).all(1)]
    return np.unique(np.ravel_multi_index(tuple(pts.T), shape))


class LevelComponents:
    """Connected components of level sets of one map, cached by level.

    Args:
        values: the probability map (float, C order).
        primal: True for strict superlevel sets ``{values > level}``, False for strict sublevel sets
            ``{values < level}``.
        full: connectivity of the primal side (see module docstring); the dual side uses the other one.
    """

    def __init__(self, values: np.ndarray, *, primal: bool, full: bool) -> None:
        self.values = values
        self.primal = primal
        self.struct = structure(values.ndim, full if primal else not full)
        self._cache: dict[float, np.ndarray] = {}
        self._boxes: dict[float, list] = {}

    def labels(self, level: float) -> np.ndarray:
        """Flat int32 labels of the level set at ``level`` (0 outside it)."""
        level = float(level)
        lab = self._cache.get(level)
        if lab is None:
            mask = self.values > level if self.primal else self.values < level
            lab = ndimage.label(mask, structure=self.struct)[0].ravel()
            self._cache[level] = lab
        return lab

    def component(self, level: float, seed: int) -> np.ndarray:
        """Flat indices (sorted) of the component of the level set at ``level`` that contains pixel ``seed``.

        Empty when ``seed`` is not in the level set. Only the component's bounding box is scanned.
        """
        level = float(level)
        lab = self.labels(level)
        k = int(lab[seed])
        if k == 0:
            return np.zeros(0, dtype=np.int64)
        boxes = self._boxes.get(level)
        if boxes is None:
            boxes = self._boxes[level] = ndimage.find_objects(lab.reshape(self.values.shape))
        return component_in_box(lab, self.values.shape, boxes[k - 1], k)


def component_in_box(labels: np.ndarray, shape: tuple[int, ...], box: tuple[slice, ...], k: int) -> np.ndarray:
    """Sorted flat indices of the pixels labelled ``k`` inside ``box`` (``labels`` flat, C order)."""
    sub = labels.reshape(shape)[box] == k
    local = np.nonzero(sub)
    coords = tuple(c + sl.start for c, sl in zip(local, box))
    return np.ravel_multi_index(coords, shape).astype(np.int64)


def monotone_paths(values: np.ndarray, saddle: int, *, ascending: bool, stop: float, full: bool,
                   max_steps: int = 4096) -> np.ndarray:
    """Pixels of the steepest monotone paths leaving ``saddle`` through each strictly higher (lower) neighbour.

    Args:
        values: the map (2D/3D, C order).
        saddle: flat index of the start pixel (included in the result).
        ascending: True climbs (to ``values >= stop``), False descends (to ``values <= stop``).
        stop: level at which a path ends (the first pixel reaching it is included).
        full: neighbourhood of the steps (all ``3**d - 1`` neighbours when True, face ones otherwise).
        max_steps: safety bound per path.

    Returns:
        Unique flat indices (int64), the saddle included.
    """
    shape = values.shape
    flat = values.ravel()
    sign = 1.0 if ascending else -1.0
    out = [int(saddle)]
    start_nb = _neighbours(int(saddle), shape, full)
    for q in start_nb[sign * flat[start_nb] > sign * flat[saddle]]:
        cur = int(q)
        for _ in range(max_steps):
            out.append(cur)
            if sign * flat[cur] >= sign * stop:
                break
            nb = _neighbours(cur, shape, full)
            best = nb[np.argmax(sign * flat[nb])]
            if sign * flat[best] <= sign * flat[cur]:
                break  # local extremum
            cur = int(best)
    return np.unique(np.asarray(out, dtype=np.int64))


def adjacent_components(labels: np.ndarray, region: np.ndarray, shape: tuple[int, ...],
                        boxes: list | None = None) -> np.ndarray:
    """Flat indices (no repeats; not sorted) of every labelled component (``labels`` flat, 0 = none)
    inside or touching ``region``.

    Touching means within the full (``3**d - 1``) neighbourhood of a region pixel. ``boxes``: optional
    ``ndimage.find_objects`` of ``labels`` (then only the components' bounding boxes are scanned).
    """
    if region.size == 0:
        return np.zeros(0, dtype=np.int64)
    coords = np.stack(np.unravel_index(region, shape), 1)
    lo = np.maximum(coords.min(0) - 1, 0)
    hi = np.minimum(coords.max(0) + 2, np.array(shape))
    box = tuple(slice(a, b) for a, b in zip(lo, hi))
    mask = np.zeros(tuple(hi - lo), dtype=bool)
    mask[tuple((coords - lo).T)] = True
    grown = ndimage.binary_dilation(mask, structure=structure(len(shape), True))
    ids = np.unique(labels.reshape(shape)[box][grown])
    ids = ids[ids > 0]
    if ids.size == 0:
        return np.zeros(0, dtype=np.int64)
    if boxes is None or ids.size > 8:  # many components: one pass over the array is cheaper
        lut = np.zeros(int(labels.max()) + 1, dtype=bool)  # label -> selected (faster than np.isin)
        lut[ids] = True
        return np.flatnonzero(lut[labels])
    return np.concatenate([component_in_box(labels, shape, boxes[k - 1], int(k)) for k in ids])  # disjoint
