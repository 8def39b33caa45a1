"""Image persistence by boundary-matrix reduction: dimension 1 of 3D images (numba, Z/2).

Dimensions 0 and ``d - 1`` are matched by union-find (``_matching_union_find``); the loops of a 3D
image (dimension 1) need a matrix reduction. This module builds the cubical complex of a 3D image on
the doubled ("Khalimsky") grid, where the parity of the coordinates gives a cell's dimension:

* ``connectivity="full"`` (T-construction): grid ``(2D+1, 2H+1, 2W+1)``, voxels at odd coordinates;
  a cell enters the superlevel filtration with the first of its incident voxels.
* ``connectivity="face"`` (V-construction): grid ``(2D-1, 2H-1, 2W-1)``, voxels are the vertices
  at even coordinates; a cell enters with the last of its vertices.

Every cell gets a *key*: the position, in the image's voxel order (value descending, ties by flat
index), of the voxel that brings it in; that voxel is the cell's top cell, whose coordinates are
reported. Cells are ordered by ``(key, grid index)``, which refines the filtration (faces come first).

Image persistence of ``H_1(P_t) -> H_1(C_t)`` (Cohen-Steiner, Edelsbrunner, Harer, Morozov 2009;
Bauer & Schmahl 2022): reduce the boundary matrix ``squares -> edges`` with the columns in the order
of ``C`` and the rows in the order of ``P``; a pivot ``(edge sigma, square tau)`` is the image bar
``[P(sigma), C(tau))``, matched to the bar of ``P`` born at ``sigma`` and to the bar of ``C`` that dies
at ``tau``. Columns of squares that are positive in ``C`` reduce to zero whatever the row order, so
they are skipped ("clearing"); they are found by a union-find on the dual graph of the squares.
With the T-construction the rows of the edges that kill a component (in the image that orders the
rows) are left out ("compression"): a pivot edge closes a cycle in that image, so they never are one.

:func:`loops` returns the barcodes of ``P`` and ``C`` and the image barcode with their voxels;
``matching.py`` matches them voxel by voxel (bars sharing a birth or death voxel longest first), so
the result does not depend on the order of the cells inside one voxel.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ._loops3d import DROPPED, component_edge_marks
from ._union_find import neighbour_masks, neighbour_offsets

__all__ = ["CellComplex3D", "loops"]


def _grid_keys(rank_img: np.ndarray, full: bool) -> np.ndarray:
    """int32 key of every cell of the doubled grid from the voxel ranks (C order 3D array)."""
    big = np.iinfo(np.int32).max
    if full:
        shape = tuple(2 * s + 1 for s in rank_img.shape)
        grid = np.full(shape, big, dtype=np.int32)
        grid[1::2, 1::2, 1::2] = rank_img
        for axis in range(3):
            g = np.moveaxis(grid, axis, 0)
            # even positions along this axis take the min of their odd neighbours
            m = np.minimum(g[1:-1:2], big)
            g[0:-2:2] = np.minimum(g[0:-2:2], m)
            g[2::2] = np.minimum(g[2::2], m)
        return grid
    shape = tuple(2 * s - 1 for s in rank_img.shape)
    grid = np.full(shape, -1, dtype=np.int32)
    grid[0::2, 0::2, 0::2] = rank_img
    for axis in range(3):
        g = np.moveaxis(grid, axis, 0)
        if g.shape[0] > 1:
            g[1::2] = np.maximum(g[0:-1:2], g[2::2])
    return grid


class CellComplex3D:
    """Cells of the doubled grid of one 3D shape and construction (index arrays only; no values)."""

    def __init__(self, shape: tuple[int, int, int], full: bool) -> None:
        self.shape = shape
        self.full = full
        gshape = tuple(2 * s + 1 for s in shape) if full else tuple(2 * s - 1 for s in shape)
        self.grid_shape = gshape
        # number of odd coordinates of each cell (its dimension), without a full index grid
        n_odd = np.zeros(gshape, dtype=np.uint8)
        for axis, length in enumerate(gshape):
            view = [1, 1, 1]
            view[axis] = length
            n_odd += (np.arange(length, dtype=np.uint8) % 2).reshape(view)
        self.edges = np.flatnonzero(n_odd.ravel() == 1)
        self.squares = np.flatnonzero(n_odd.ravel() == 2)
        self.cubes = np.flatnonzero(n_odd.ravel() == 3)
        strides = np.array([gshape[1] * gshape[2], gshape[2], 1], dtype=np.int64)
        coords = np.stack(np.unravel_index(self.squares, gshape), axis=1)
        even_axis = np.argmin(coords % 2, axis=1)  # the one even coordinate of a square
        a1 = (even_axis + 1) % 3
        a2 = (even_axis + 2) % 3
        s1, s2, se = strides[a1], strides[a2], strides[even_axis]
        # boundary of each square: its neighbours +-1 along its two odd axes
        self.square_boundary_offsets = np.ascontiguousarray(np.stack([-s1, s1, -s2, s2], axis=1))
        # cofaces of each square (the two cubes beside it), -1 outside the grid
        ce = coords[np.arange(len(coords)), even_axis]
        lim = np.array(gshape, dtype=np.int64)[even_axis]
        lower = np.where(ce - 1 >= 0, self.squares - se, -1)
        upper = np.where(ce + 1 < lim, self.squares + se, -1)
        self.square_cofaces = np.ascontiguousarray(np.stack([lower, upper], axis=1))
        self.size = int(np.prod(gshape))


@njit(cache=True, nogil=True)
def _find(parent, x):
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


@njit(cache=True, nogil=True)
def _positive_in_order(cofaces, size):
    """Which squares create a 2-cycle (positive squares), by duality; squares given in filtration order.

    ``cofaces[s]``: the two cubes beside the ``s``-th square of the filtration (-1 outside the grid).
    The positive squares are the pivots of the reduced cube columns. Dually, run through the squares
    from last to first, each joining the two cubes beside it (a boundary square joins its cube to the
    outside, index ``size``): a square is positive exactly when it joins two different components of
    this dual graph. (The complex is a box, so every cube is negative and every 2-cycle dies.)
    """
    n = cofaces.shape[0]
    parent = np.arange(size + 1, dtype=np.int32)
    positive = np.zeros(n, dtype=np.bool_)
    for s in range(n - 1, -1, -1):
        a = cofaces[s, 0]
        b = cofaces[s, 1]
        if a < 0:
            a = size
        if b < 0:
            b = size
        ra = _find(parent, a)
        rb = _find(parent, b)
        if ra != rb:
            positive[s] = True
            parent[rb] = ra
    return positive


@njit(cache=True, nogil=True, inline="always")
def _sorted_rows(rows, s, out):
    """The rows ``>= 0`` of column ``s`` of ``rows`` (at most 4) into ``out``, ascending; returns their number."""
    m = 0
    for j in range(4):
        r = rows[s, j]
        if r >= 0:
            b = m - 1
            while b >= 0 and out[b] > r:
                out[b + 1] = out[b]
                b -= 1
            out[b + 1] = r
            m += 1
    return m


@njit(cache=True, nogil=True)
def _reduce_in_order(rows, n_rows):
    """Column reduction over Z/2 of the columns listed in processing order.

    ``rows[s]``: the (at most 4) int32 row positions of the ``s``-th column, -1 = none; ``n_rows``:
    the number of rows. Returns int32 ``pivot[s]``, the lowest row of the reduced ``s``-th column
    (-1 if it reduces to zero). A column that needs no additions is not copied: when a later
    column adds it, its rows are sorted again from ``rows``. The others are kept sorted ascending
    in one growing store; the columns are read in order (the caller gathers them), so the scan is
    sequential.
    """
    n_cols = rows.shape[0]
    owner = np.full(n_rows, -1, dtype=np.int32)
    pivot = np.full(n_cols, -1, dtype=np.int32)
    store = np.empty(1 << 16, dtype=np.int32)
    start = np.empty(n_cols, dtype=np.int32)
    length = np.empty(n_cols, dtype=np.int32)
    used = 0
    work = np.empty(64, dtype=np.int32)
    tmp = np.empty(64, dtype=np.int32)
    four = np.empty(4, dtype=np.int32)
    for s in range(n_cols):
        m = _sorted_rows(rows, s, work)
        added = False
        while m > 0:
            o = owner[work[m - 1]]
            if o < 0:
                break
            added = True
            la = length[o]
            if la < 0:  # an original column: its rows, sorted
                la = _sorted_rows(rows, o, four)
                src = four
                a0 = 0
            else:
                src = store
                a0 = start[o]
            need = m + la
            if tmp.shape[0] < need:
                tmp = np.empty(2 * need, dtype=np.int32)
            p = 0
            q = 0
            k = 0
            while p < m and q < la:
                x = work[p]
                y = src[a0 + q]
                if x < y:
                    tmp[k] = x
                    k += 1
                    p += 1
                elif y < x:
                    tmp[k] = y
                    k += 1
                    q += 1
                else:
                    p += 1
                    q += 1
            while p < m:
                tmp[k] = work[p]
                k += 1
                p += 1
            while q < la:
                tmp[k] = src[a0 + q]
                k += 1
                q += 1
            work, tmp = tmp, work
            m = k
        if m > 0:
            low = work[m - 1]
            owner[low] = s
            pivot[s] = low
            if not added:
                length[s] = -1
                continue
            if used + m > store.shape[0]:
                new = np.empty(2 * (used + m), dtype=np.int32)
                new[:used] = store[:used]
                store = new
            store[used:used + m] = work[:m]
            start[s] = used
            length[s] = m
            used += m
    return pivot


@njit(cache=True, nogil=True)
def _gather_columns(col_order, skip, boundary_rows):
    """The columns of ``col_order`` not skipped, and their int32 boundary rows in that order."""
    n = 0
    for s in range(col_order.shape[0]):
        if not skip[col_order[s]]:
            n += 1
    cols = np.empty(n, dtype=np.int64)
    rows = np.empty((n, 4), dtype=np.int32)
    k = 0
    for s in range(col_order.shape[0]):
        i = col_order[s]
        if skip[i]:
            continue
        cols[k] = i
        for j in range(4):
            rows[k, j] = boundary_rows[i, j]
        k += 1
    return cols, rows


def _reduce(col_order, skip, boundary_rows, n_rows):
    """Reduce the columns ``col_order`` (minus the ``skip`` ones, known to reduce to zero).

    ``boundary_rows[i]``: the 4 row positions (``< n_rows``) of column ``i`` (-1 = none). Returns
    int64 ``pivot_of[i]`` (the lowest row of reduced column ``i``, -1 if zero or skipped).
    """
    cols, rows = _gather_columns(col_order, skip, boundary_rows)
    pivot_of = np.full(boundary_rows.shape[0], -1, dtype=np.int64)
    pivot_of[cols] = _reduce_in_order(rows, n_rows)
    return pivot_of


@njit(cache=True, nogil=True)
def _square_rows(squares, offsets, edge_of_row, size):
    """int32 ``(n_squares, 4)`` row positions (in ``edge_of_row`` order) of the edges of each square."""
    row = np.empty(size, dtype=np.int32)
    for r in range(edge_of_row.shape[0]):
        row[edge_of_row[r]] = r
    out = np.empty((squares.shape[0], 4), dtype=np.int32)
    for i in range(squares.shape[0]):
        for j in range(4):
            out[i, j] = row[squares[i] + offsets[i, j]]
    return out


@njit(cache=True, nogil=True)
def _counting_order(keys, cells):
    """int32 positions ``i`` of ``cells`` sorted stably by ``keys[cells[i]]`` (small non-negative keys).

    One counting sort (the keys are voxel ranks, fewer than the cells), ties kept in input order.
    """
    n = cells.shape[0]
    top = 0
    for i in range(n):
        k = keys[cells[i]]
        if k > top:
            top = k
    count = np.zeros(top + 2, dtype=np.int64)
    for i in range(n):
        count[keys[cells[i]] + 1] += 1
    for k in range(1, top + 2):
        count[k] += count[k - 1]
    out = np.empty(n, dtype=np.int32)
    for i in range(n):
        k = keys[cells[i]]
        out[count[k]] = i
        count[k] += 1
    return out


@njit(cache=True, nogil=True)
def _cofaces_in_order(cofaces, order):
    """``cofaces[order]`` for a ``(n, 2)`` array (a gather that numpy does slowly row by row)."""
    out = np.empty((order.shape[0], 2), dtype=cofaces.dtype)
    for s in range(order.shape[0]):
        i = order[s]
        out[s, 0] = cofaces[i, 0]
        out[s, 1] = cofaces[i, 1]
    return out


@njit(cache=True, nogil=True)
def _component_edges_full(shape, masks):
    """Grid indices (doubled grid of the T-construction) of the edges in apparent pairs of dimension 0
    (``_loops3d.drop_component_edges``): they kill a component, so they are never a pivot."""
    D, H, W = shape[0], shape[1], shape[2]
    nz_e = D * (H + 1) * (W + 1)
    ny_e = (D + 1) * H * (W + 1)
    n_edges = nz_e + ny_e + (D + 1) * (H + 1) * W
    owner = component_edge_marks(shape, masks)
    GH = 2 * H + 1
    GW = 2 * W + 1
    out = np.empty(n_edges, dtype=np.int64)
    k = 0
    for e in range(n_edges):
        if owner[e] != DROPPED:
            continue
        if e < nz_e:  # along z at (z, cy, cx)
            r = e
            cz = r // ((H + 1) * (W + 1))
            r -= cz * (H + 1) * (W + 1)
            cy = r // (W + 1)
            cx = r - cy * (W + 1)
            g = ((2 * cz + 1) * GH + 2 * cy) * GW + 2 * cx
        elif e < nz_e + ny_e:  # along y at (cz, y, cx)
            r = e - nz_e
            cz = r // (H * (W + 1))
            r -= cz * H * (W + 1)
            cy = r // (W + 1)
            cx = r - cy * (W + 1)
            g = ((2 * cz) * GH + 2 * cy + 1) * GW + 2 * cx
        else:  # along x at (cz, cy, x)
            r = e - nz_e - ny_e
            cz = r // ((H + 1) * W)
            r -= cz * (H + 1) * W
            cy = r // W
            cx = r - cy * W
            g = ((2 * cz) * GH + 2 * cy) * GW + 2 * cx + 1
        out[k] = g
        k += 1
    return out[:k]


@njit(cache=True, nogil=True)
def _drop_rows(boundary_rows, squares, offsets, dropped, size):
    """Set to -1 the boundary rows of the ``dropped`` edges (grid indices)."""
    gone = np.zeros(size, dtype=np.bool_)
    for i in range(dropped.shape[0]):
        gone[dropped[i]] = True
    for i in range(squares.shape[0]):
        for j in range(4):
            if gone[squares[i] + offsets[i, j]]:
                boundary_rows[i, j] = -1


class _Ordered:
    """One image's cell keys, square order, positive squares and edge rows on a complex."""

    def __init__(self, cx: CellComplex3D, rank: np.ndarray, masks: np.ndarray | None = None) -> None:
        self.keys = _grid_keys(rank, cx.full).ravel()
        edges, squares = cx.edges, cx.squares
        self.n_rows = len(edges)
        # (key, grid index) order: cells are listed by grid index, so a stable sort by key suffices
        self.edge_of_row = edges[_counting_order(self.keys, edges)]
        self.boundary_rows = _square_rows(squares, cx.square_boundary_offsets, self.edge_of_row, cx.size)
        if cx.full:
            # Compression (Bauer, Kerber & Reininghaus 2014): an edge that kills a component in this
            # image is never the pivot of a reduced column, of its own reduction nor of an image
            # reduction with its rows; the edges in apparent pairs of dimension 0 are left out.
            shape3 = np.array(rank.shape, dtype=np.int64)
            if masks is None:
                pos = np.empty(rank.size + 1, dtype=np.int32)
                pos[:-1] = rank.ravel()
                pos[-1] = rank.size
                masks = neighbour_masks(shape3, pos, neighbour_offsets(3))
            _drop_rows(self.boundary_rows, squares, cx.square_boundary_offsets,
                       _component_edges_full(shape3, masks), cx.size)
        self.square_order = _counting_order(self.keys, squares)
        self.positive = np.empty(len(squares), dtype=np.bool_)
        self.positive[self.square_order] = _positive_in_order(
            _cofaces_in_order(cx.square_cofaces, self.square_order), cx.size)


def loops(cx: CellComplex3D, rank_p: np.ndarray, rank_c: np.ndarray, cache_c: dict | None = None,
          masks_p: np.ndarray | None = None, masks_c: np.ndarray | None = None, image: bool = True):
    """Dimension-1 bars of ``P``, of ``C`` and of the image of ``P -> C`` (3D, ``C >= P`` pointwise).

    Args:
        cx: the cell complex of the shape and construction.
        rank_p, rank_c: ``(D, H, W)`` int32 superlevel ranks of the voxels of ``P`` and of ``C``.
        cache_c: a dict kept by the caller between calls with the same ``C`` (the work on ``C``).
        masks_p, masks_c: the images' ``neighbour_masks`` (flat, C order) when the caller has them;
            computed from the ranks otherwise (used by the T-construction's compression only).
        image: False when the caller knows the image bars that are not empty to be bars of ``C``
            (``matching._leads_comparison``): the image reduction is skipped and ``image`` is ``None``.

    Returns:
        ``(bars_p, bars_c, image)``, each a ``(births, deaths)`` pair of voxel ranks (the voxels
        that bring the birth edge and the death square in): ``bars_p`` in ``P``'s order, ``bars_c``
        in ``C``'s order, ``image`` with births in ``P``'s order and deaths in ``C``'s order.
        Zero-length bars are included; the caller drops them by value.
    """
    op = _Ordered(cx, rank_p, masks_p)
    pivots = _reduce(op.square_order, op.positive, op.boundary_rows, op.n_rows)
    neg = np.flatnonzero(pivots >= 0)
    bars_p = (op.keys[op.edge_of_row[pivots[neg]]], op.keys[cx.squares[neg]])
    cache_c = {} if cache_c is None else cache_c
    if "c" not in cache_c:
        oc = _Ordered(cx, rank_c, masks_c)
        piv = _reduce(oc.square_order, oc.positive, oc.boundary_rows, oc.n_rows)
        negc = np.flatnonzero(piv >= 0)
        cache_c["c"] = oc
        cache_c["bars"] = (oc.keys[oc.edge_of_row[piv[negc]]], oc.keys[cx.squares[negc]])
    oc = cache_c["c"]
    if not image:
        return bars_p, cache_c["bars"], None
    img = _reduce(oc.square_order, oc.positive, op.boundary_rows, op.n_rows)
    cols = np.flatnonzero(img >= 0)
    image = (op.keys[op.edge_of_row[img[cols]]], oc.keys[cx.squares[cols]])
    return bars_p, cache_c["bars"], image
