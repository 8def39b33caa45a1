"""Finished bars to diagram arrays (numba, ``nogil``): the engine's bar order and critical cells.

Input: flat C-order birth and death cells of one dimension (death ``-1`` for essential bars) and the
flat float64 image. Output, in the engine's bar order: births and deaths (``-inf`` for essential
bars), ``(n, ndim)`` int64 birth/death cells (``-1`` rows for essential deaths) and the essential
mask. Zero-length bars (birth value equal to death value) are dropped.

Bar order: decreasing persistence (essential bars first), ties by birth cell, then death cell; the
same permutation as ``np.lexsort((death_idx, birth_idx, -persistence))``.
"""
from __future__ import annotations

import numba
import numpy as np

from ._union_find import _lsd_radix, _sort_keys

__all__ = ["bar_order", "cells_of", "diagram_arrays"]

_JIT = dict(cache=True, nogil=True)
_SHORT_RUN = 16  # runs of equal persistence up to this length are put in order by insertion


@numba.njit(**_JIT)
def bar_order(births, deaths, birth_idx, death_idx, essential):
    """int64 order of bars: persistence down (essential first), ties by birth then death index.

    One stable radix sort by persistence, then each run of equal persistence is ordered by
    ``(birth_idx, death_idx)`` (insertion for short runs, a merge sort for long ones: a binary mask
    gives one run of every bar). ``death_idx`` may be ``-1``; all indices below ``2**31``.
    """
    n = births.shape[0]
    pers = np.empty(n, dtype=np.float64)
    for i in range(n):
        pers[i] = np.inf if essential[i] else births[i] - deaths[i]
    keys = _sort_keys(pers.view(np.uint64))  # ascending keys = decreasing persistence
    order = _lsd_radix(keys, np.arange(n), 11)
    span = np.int64(2) ** 32
    start = 0
    while start < n:
        stop = start + 1
        k = keys[order[start]]
        while stop < n and keys[order[stop]] == k:
            stop += 1
        length = stop - start
        if length > _SHORT_RUN:
            run = order[start:stop].copy()
            cell = np.empty(length, dtype=np.int64)
            for i in range(length):
                cell[i] = birth_idx[run[i]] * span + death_idx[run[i]]
            by_cell = np.argsort(cell, kind="mergesort")
            for i in range(length):
                order[start + i] = run[by_cell[i]]
        elif length > 1:
            for i in range(start + 1, stop):
                x = order[i]
                cx = birth_idx[x] * span + death_idx[x]
                j = i
                while j > start and birth_idx[order[j - 1]] * span + death_idx[order[j - 1]] > cx:
                    order[j] = order[j - 1]
                    j -= 1
                order[j] = x
        start = stop
    return order


@numba.njit(inline="always", **_JIT)
def _divide(index, size, inverse):
    """``index // size`` for ``0 <= index < 2**31`` by a multiplication (``inverse = 1 / size``)."""
    q = np.int64(index * inverse)
    if q * size > index:
        q -= 1
    elif (q + 1) * size <= index:
        q += 1
    return q


@numba.njit(**_JIT)
def cells_of(flat, shape):
    """``(m, ndim)`` int64 C-order coordinates of flat indices in a 2D/3D ``shape``; ``-1`` rows for ``-1``.

    Written through a flat buffer with the axis loop unrolled (much faster in numba than
    ``out[r, a]`` stores in a loop over a run-time ``ndim``), no integer division.
    """
    m = flat.shape[0]
    ndim = shape.shape[0]
    out = np.empty(m * ndim, dtype=np.int64)
    W = shape[ndim - 1]
    inv_w = 1.0 / W
    H = shape[1] if ndim == 3 else 1
    inv_h = 1.0 / H
    for r in range(m):
        i = flat[r]
        base = r * ndim
        if i < 0:
            for a in range(ndim):
                out[base + a] = -1
            continue
        rows = _divide(i, W, inv_w)
        out[base + ndim - 1] = i - rows * W
        if ndim == 2:
            out[base] = rows
        else:
            z = _divide(rows, H, inv_h)
            out[base + 1] = rows - z * H
            out[base] = z
    return out.reshape((m, ndim))


@numba.njit(**_JIT)
def diagram_arrays(values, shape, birth_idx, death_idx):
    """Diagram arrays of one dimension; see the module docstring.

    Args:
        values: flat float64 image (C order).
        shape: int64 image shape (2 or 3 entries).
        birth_idx, death_idx: int64 flat cells of each bar; ``death_idx == -1`` marks essential bars.

    Returns:
        ``(kept, births, deaths, birth_cells, death_cells, essential)``: ``kept`` are the input
        positions of the returned bars, in the returned order (to carry per-bar data along).
    """
    n = birth_idx.shape[0]
    keep = np.empty(n, dtype=np.int64)
    m = 0
    for i in range(n):
        if death_idx[i] < 0 or values[birth_idx[i]] > values[death_idx[i]]:
            keep[m] = i
            m += 1
    keep = keep[:m]
    bi = birth_idx[keep]
    di = death_idx[keep]
    essential = di < 0
    births = values[bi]
    deaths = np.where(essential, -np.inf, values[np.maximum(di, 0)])
    order = bar_order(births, deaths, bi, di, essential)
    return (keep[order], births[order], deaths[order], cells_of(bi[order], shape), cells_of(di[order], shape),
            essential[order])
