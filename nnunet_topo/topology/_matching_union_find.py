"""Union-find kernels (numba) for the induced matchings of dimensions 0 and ``d - 1``.

All kernels work on a *padded* flat index space: the image is padded by one cell on every side
(C order), so every neighbour of an interior cell is a valid index and no bounds checks are
needed. Padding cells are never part of a superlevel set; in the dual (complement) passes they
form the outer component, present from the start.

Orders: ``order`` arrays list the padded indices of the interior cells from first to enter the
superlevel filtration to last (value descending, ties by flat index ascending); ``rank[p]`` is the
position of padded cell ``p`` in that order. The complement (sublevel) filtration is the same order
reversed.

The kernels return bars as padded cell indices; the caller reads the values and drops zero-length
bars.
"""
from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "pad_layout",
    "neighbour_offsets",
    "superlevel_dim0",
    "comparison_dim0",
    "complement_joint",
]

_NONE = np.iinfo(np.int64).max


def pad_layout(shape: tuple[int, ...]) -> tuple[tuple[int, ...], np.ndarray, np.ndarray]:
    """Padded shape, ``to_padded`` (flat C index -> padded flat index) and its inverse (-1 on the border)."""
    padded = tuple(s + 2 for s in shape)
    grid = np.arange(int(np.prod(padded)), dtype=np.int64).reshape(padded)
    to_padded = np.ascontiguousarray(grid[tuple(slice(1, -1) for _ in shape)].ravel())
    from_padded = np.full(grid.size, -1, dtype=np.int64)
    from_padded[to_padded] = np.arange(to_padded.size, dtype=np.int64)
    return padded, to_padded, from_padded


def neighbour_offsets(padded_shape: tuple[int, ...], *, full: bool) -> np.ndarray:
    """Flat offsets of the neighbours in the padded grid: all ``3**d - 1`` (``full``) or the ``2d`` face ones."""
    strides = np.cumprod((1,) + tuple(reversed(padded_shape[1:])))[::-1]
    out = []
    for delta in np.ndindex(*(3,) * len(padded_shape)):
        step = np.array(delta) - 1
        if not step.any():
            continue
        if not full and np.abs(step).sum() != 1:
            continue
        out.append(int((step * strides).sum()))
    return np.array(out, dtype=np.int64)


@njit(cache=True, nogil=True, inline="always")
def _find(parent, x):
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


@njit(cache=True, nogil=True)
def superlevel_dim0(order, rank, offsets, size):
    """Finite dimension-0 bars of a superlevel filtration (union-find, elder rule).

    Returns ``(birth, death)`` padded indices; the essential bar (born at ``order[0]``) is not listed.
    """
    parent = np.full(size, -1, dtype=np.int64)
    n = order.shape[0]
    births = np.empty(n, dtype=np.int64)
    deaths = np.empty(n, dtype=np.int64)
    count = 0
    for s in range(n):
        z = order[s]
        parent[z] = z
        for off in offsets:
            y = z + off
            if parent[y] < 0:
                continue
            ry = _find(parent, y)
            rz = _find(parent, z)
            if ry == rz:
                continue
            # roots are the oldest cell of their component (smallest rank)
            if rank[ry] < rank[rz]:
                older, younger = ry, rz
            else:
                older, younger = rz, ry
            parent[younger] = older
            if younger != z:  # z itself joining a component is no bar
                births[count] = younger
                deaths[count] = z
                count += 1
    return births[:count], deaths[:count]


@njit(cache=True, nogil=True, inline="always")
def _enter_image(parent, img, rank, x):
    r = _find(parent, x)
    if img[r] == _NONE:
        img[r] = rank[x]


@njit(cache=True, nogil=True, inline="always")
def _merge_image(img, order, older, younger, births, deaths, count, z):
    """Merge the image classes of two C components; record the younger class's bar dying at ``z``."""
    a = img[older]
    b = img[younger]
    if a != _NONE and b != _NONE:
        births[count] = order[max(a, b)]
        deaths[count] = z
        count += 1
        img[older] = min(a, b)
    elif b != _NONE:
        img[older] = b
    return count


@njit(cache=True, nogil=True)
def comparison_dim0(order_c, rank_c, values_c, order_p, rank_p, values_p, order_g, rank_g, values_g,
                    offsets, size):
    """Dimension-0 bars of ``C`` and of the images of ``P -> C`` and ``G -> C``, one union-find pass.

    ``C >= P`` and ``C >= G`` pointwise. Cells enter by decreasing value; at equal values a cell
    enters ``C`` (with its edges to the cells already there) before any cell enters ``P`` or ``G``,
    so ``P_t`` and ``G_t`` stay inside ``C_t``. Each C component remembers the first cell of ``P``
    and of ``G`` it contains (the birth of its image class). When two C components merge at cell
    ``z``, the C bar of the younger (by ``C``) dies at ``z``, and when both contain cells of ``P``
    the image class born later in ``P`` dies at ``z`` too (likewise for ``G``).

    Returns ``(cb, cd, pb, pd, gb, gd)``: padded birth and death cells of the finite bars of ``C``,
    of the image of ``P`` and of the image of ``G`` (image births are cells of ``P``/``G``, read in
    ``P``/``G``; image deaths are cells of ``C``, read in ``C``). Zero-length bars are included.
    """
    parent = np.full(size, -1, dtype=np.int64)
    img_p = np.full(size, _NONE, dtype=np.int64)
    img_g = np.full(size, _NONE, dtype=np.int64)
    n = order_c.shape[0]
    cb = np.empty(n, dtype=np.int64)
    cd = np.empty(n, dtype=np.int64)
    pb = np.empty(n, dtype=np.int64)
    pd = np.empty(n, dtype=np.int64)
    gb = np.empty(n, dtype=np.int64)
    gd = np.empty(n, dtype=np.int64)
    nc = 0
    npp = 0
    ng = 0
    sp = 0
    sg = 0
    for sc in range(n):
        z = order_c[sc]
        v = values_c[z]
        while sp < n and values_p[order_p[sp]] > v:
            _enter_image(parent, img_p, rank_p, order_p[sp])
            sp += 1
        while sg < n and values_g[order_g[sg]] > v:
            _enter_image(parent, img_g, rank_g, order_g[sg])
            sg += 1
        parent[z] = z
        for off in offsets:
            y = z + off
            if parent[y] < 0:
                continue
            ry = _find(parent, y)
            rz = _find(parent, z)
            if ry == rz:
                continue
            if rank_c[ry] < rank_c[rz]:
                older, younger = ry, rz
            else:
                older, younger = rz, ry
            parent[younger] = older
            if younger != z:
                cb[nc] = younger
                cd[nc] = z
                nc += 1
            npp = _merge_image(img_p, order_p, older, younger, pb, pd, npp, z)
            ng = _merge_image(img_g, order_g, older, younger, gb, gd, ng, z)
    while sp < n:
        _enter_image(parent, img_p, rank_p, order_p[sp])
        sp += 1
    while sg < n:
        _enter_image(parent, img_g, rank_g, order_g[sg])
        sg += 1
    return cb[:nc], cd[:nc], pb[:npp], pd[:npp], gb[:ng], gd[:ng]


@njit(cache=True, nogil=True)
def complement_joint(order_p, rank_p, values_p, order_c, rank_c, values_c, border, offsets, size, with_image):
    """Dimension ``d - 1`` bars of ``P`` and of the image of ``P -> C``, by duality, in one pass.

    By Alexander duality a ``(d-1)``-dimensional hole of the superlevel set ``{P >= t}`` is a bounded
    component of its complement ``{P < t}`` (dual connectivity, the padding forms the unbounded
    outer component). Growing the complement (``t`` increasing, the superlevel order reversed), a
    component is born at the hole's first cell (the bar's *death* cell) and dies when it merges into
    an older one (the bar's *birth* cell). The complement of ``C`` lies inside the complement of
    ``P`` (at equal values a cell joins the complement of ``P`` first); each complement-of-P
    component remembers the first complement-of-C cell it contains, and at every merge the one of
    those that entered later (if both exist) gives the image bar dying there.

    Returns ``(births, deaths, img_births, img_deaths)`` padded cells (superlevel sense: births
    are the higher values); image births are read in ``P``, image deaths in ``C``. Zero-length bars
    are included. ``with_image=False`` skips ``C`` (the bars of ``P`` alone).
    """
    n = order_p.shape[0]
    parent = np.full(size, -1, dtype=np.int64)
    img_c = np.full(size, _NONE, dtype=np.int64)
    # the padding is one component, older than everything; it is in both complements from the start
    outer = border[0]
    for b in border:
        parent[b] = outer
    img_c[outer] = -1
    births = np.empty(n, dtype=np.int64)
    deaths = np.empty(n, dtype=np.int64)
    ib = np.empty(n, dtype=np.int64)
    idd = np.empty(n, dtype=np.int64)
    count = 0
    ni = 0
    sc = n - 1 if with_image else -1
    for sp in range(n - 1, -1, -1):
        z = order_p[sp]
        v = values_p[z]
        while sc >= 0 and values_c[order_c[sc]] < v:
            _enter_image(parent, img_c, rank_c, order_c[sc])
            sc -= 1
        parent[z] = z
        for off in offsets:
            y = z + off
            if parent[y] < 0:
                continue
            ry = _find(parent, y)
            rz = _find(parent, z)
            if ry == rz:
                continue
            # age in the complement: larger superlevel rank = born earlier; the outer is oldest
            if ry == outer or (rz != outer and rank_p[ry] > rank_p[rz]):
                older, younger = ry, rz
            else:
                older, younger = rz, ry
            parent[younger] = older
            if younger != z:
                births[count] = z
                deaths[count] = younger
                count += 1
            a = img_c[older]
            b = img_c[younger]
            if a != _NONE and b != _NONE:
                # img_c holds superlevel C ranks (-1: the outer); the class that entered the
                # complement later (smaller rank, never the outer) dies here
                if a == -1:
                    dying, alive = b, a
                elif b == -1:
                    dying, alive = a, b
                elif a < b:
                    dying, alive = a, b
                else:
                    dying, alive = b, a
                ib[ni] = z
                idd[ni] = order_c[dying]
                ni += 1
                img_c[older] = alive
            elif b != _NONE:
                img_c[older] = b
    return births[:count], deaths[:count], ib[:ni], idd[:ni]
