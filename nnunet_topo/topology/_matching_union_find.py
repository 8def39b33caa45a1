"""Union-find kernels (numba) for the induced matchings of dimensions 0 and ``d - 1``.

All kernels work on a *padded* flat index space: the image is padded by one cell on every side
(C order), so every neighbour of an interior cell is a valid index and no bounds checks are
needed. Padding cells are never part of a superlevel set; in the dual (complement) passes they
form the outer component, present from the start.

Orders: ``order`` arrays list the padded indices of the interior cells from first to enter the
superlevel filtration to last (value descending, ties by flat index ascending); ``rank[p]`` is the
position of padded cell ``p`` in that order and ``values[s]`` the value of ``order[s]``. The complement (sublevel) filtration is the same order
reversed.

Merges at one cell are done oldest component first, so the result does not depend on the order
of the neighbour offsets (nor on flips of the array). Matching keys identify a bar of the
comparison image ``C``: in dimension 0 the padded index of the C bar's birth cell
(:data:`ESSENTIAL_KEY` for the essential bar), in dimension ``d - 1`` the padded index of its death
cell. :data:`NO_KEY`: no bar of ``C`` (no image bar, or an empty one).
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ._prefetch import prefetch, prefetch_neighbourhood
from ._union_find import two_level_order  # the O(n) order of binary masks, shared with the engine

__all__ = [
    "NO_KEY",
    "ESSENTIAL_KEY",
    "pad_layout",
    "prepare",
    "two_level_order",
    "merge_max_order",
    "neighbour_offsets",
    "prefetch_grid",
    "neighbour_adjacency",
    "superlevel_dim0",
    "comparison_dim0",
    "complement_joint",
]

NO_KEY = -1
ESSENTIAL_KEY = -2


def pad_layout(shape: tuple[int, ...]) -> tuple[tuple[int, ...], np.ndarray, np.ndarray]:
    """Padded shape, ``to_padded`` (flat C index -> padded flat index) and its inverse (-1 on the border)."""
    padded = tuple(s + 2 for s in shape)
    grid = np.arange(int(np.prod(padded)), dtype=np.int64).reshape(padded)
    to_padded = np.ascontiguousarray(grid[tuple(slice(1, -1) for _ in shape)].ravel())
    from_padded = np.full(grid.size, -1, dtype=np.int64)
    from_padded[to_padded] = np.arange(to_padded.size, dtype=np.int64)
    return padded, to_padded, from_padded


def prefetch_grid(padded_shape: tuple[int, ...]) -> np.ndarray:
    """int64 ``(D, H, W)`` of the padded grid (``D = 1`` in 2D), for :func:`prefetch_neighbourhood`."""
    return np.array((1,) * (3 - len(padded_shape)) + tuple(padded_shape), dtype=np.int64)


def neighbour_offsets(padded_shape: tuple[int, ...], *, full: bool) -> np.ndarray:
    """Flat offsets of the neighbours in the padded grid: all ``3**d - 1`` (``full``) or the ``2d`` face ones."""
    strides = np.cumprod((1,) + tuple(reversed(padded_shape[1:])))[::-1]
    return np.array([int((step * strides).sum()) for step in _steps(len(padded_shape), full=full)], dtype=np.int64)


def _steps(ndim: int, *, full: bool) -> list[np.ndarray]:
    """Neighbour steps (``-1/0/1`` per axis) in the order of :func:`neighbour_offsets`."""
    out = []
    for delta in np.ndindex(*(3,) * ndim):
        step = np.array(delta) - 1
        if not step.any() or (not full and np.abs(step).sum() != 1):
            continue
        out.append(step)
    return out


def neighbour_adjacency(ndim: int, *, full: bool) -> np.ndarray:
    """int64 ``adj[j]``: bitmask of the neighbours (same order and connectivity) adjacent to neighbour ``j``.

    Two present neighbours of a cell that are adjacent to each other are already in one component
    (the later of them joined the earlier when it entered), so once one of them is handled the
    other needs no ``find``. Computed from the steps, not the flat offsets, which can alias on
    tiny grids.
    """
    steps = _steps(ndim, full=full)
    index = {tuple(s): j for j, s in enumerate(steps)}
    adj = np.zeros(len(steps), dtype=np.int64)
    for a, sa in enumerate(steps):
        for b, sb in enumerate(steps):
            if a != b and tuple(sa - sb) in index:
                adj[a] |= np.int64(1) << np.int64(b)
    return adj


@njit(cache=True, nogil=True)
def prepare(flat, perm, to_padded, size, ahead):
    """Padded ``order`` (int32), ``rank`` (int32, ``n`` on the padding) and the ``values`` in that order.

    ``perm``: the superlevel order of the flat cells (value descending, ties by index); ``ahead``:
    prefetch distance (0: off).
    """
    n = flat.shape[0]
    order = np.empty(n, dtype=np.int32)
    rank = np.full(size, n, dtype=np.int32)
    values = np.empty(n)
    for i in range(n):
        if ahead and i + ahead < n:
            prefetch(rank, to_padded[perm[i + ahead]])
        q = to_padded[perm[i]]
        order[i] = q
        rank[q] = i
    for j in range(n):
        if ahead and j + ahead < n:
            prefetch(flat, perm[j + ahead])
        values[j] = flat[perm[j]]
    return order, rank, values


@njit(cache=True, nogil=True)
def merge_max_order(perm_p, flat_p, perm_g, flat_g):
    """Superlevel order of ``max(P, G)`` from the superlevel orders of ``P`` and ``G``, in O(n).

    Merges the two orders by (value descending, flat index ascending) and keeps each cell's first
    occurrence, which is at its larger value: the same int32 permutation as sorting ``max(P, G)``.
    """
    n = perm_p.shape[0]
    seen = np.zeros(n, dtype=np.bool_)
    perm = np.empty(n, dtype=np.int32)
    i = 0
    j = 0
    for k in range(n):
        while seen[perm_p[i]]:
            i += 1
        while seen[perm_g[j]]:
            j += 1
        a = perm_p[i]
        b = perm_g[j]
        va = flat_p[a]
        vb = flat_g[b]
        if va > vb or (va == vb and a <= b):
            x = a
            i += 1
        else:
            x = b
            j += 1
        seen[x] = True
        perm[k] = x
    return perm


@njit(cache=True, nogil=True, inline="always")
def _find(parent, x):
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


@njit(cache=True, nogil=True)
def superlevel_dim0(order, rank, offsets, adj, size, grid, ahead):
    """Finite dimension-0 bars of a superlevel filtration (union-find, elder rule).

    ``adj``: :func:`neighbour_adjacency` of ``offsets``; ``grid``: :func:`prefetch_grid` of the padded
    shape; ``ahead``: how many cells ahead to prefetch (0: off, for raster-like orders). Returns ``(birth, death)`` padded indices; the essential bar (born at ``order[0]``) is not
    listed.
    """
    parent = np.full(size, -1, dtype=np.int32)
    n = order.shape[0]
    births = np.empty(n, dtype=np.int32)
    deaths = np.empty(n, dtype=np.int32)
    count = 0
    for s in range(n):
        if ahead and s + ahead < n:
            prefetch_neighbourhood(parent, np.int64(order[s + ahead]), grid)
        z = order[s]
        parent[z] = z
        rz = z
        handled = np.int64(0)
        for j in range(offsets.shape[0]):
            y = z + offsets[j]
            if parent[y] < 0:
                continue
            bit = np.int64(1) << np.int64(j)
            skip = handled & adj[j]
            handled |= bit
            if skip:
                continue
            ry = _find(parent, y)
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
            rz = older
    return births[:count], deaths[:count]


@njit(cache=True, nogil=True, inline="always")
def _neighbour_roots(parent, z, offsets, adj, roots):
    """Distinct roots of the present neighbours of ``z``, written to ``roots``; returns their number.

    A neighbour adjacent to one already looked at has the same root and is skipped (``adj``).
    """
    m = 0
    handled = np.int64(0)
    for j in range(offsets.shape[0]):
        y = z + offsets[j]
        if parent[y] < 0:
            continue
        bit = np.int64(1) << np.int64(j)
        skip = handled & adj[j]
        handled |= bit
        if skip:
            continue
        r = _find(parent, y)
        new = True
        for j in range(m):
            if roots[j] == r:
                new = False
                break
        if new:
            roots[m] = r
            m += 1
    return m


@njit(cache=True, nogil=True, inline="always")
def _sort_roots(roots, m, age):
    """Insertion sort of ``roots[:m]`` by ``age[root]`` ascending (oldest first)."""
    for i in range(1, m):
        r = roots[i]
        a = age[r]
        j = i - 1
        while j >= 0 and age[roots[j]] > a:
            roots[j + 1] = roots[j]
            j -= 1
        roots[j + 1] = r


@njit(cache=True, nogil=True, inline="always")
def _sort_roots_desc(roots, m, rank):
    """Insertion sort of ``roots[:m]`` by ``rank[root]`` descending (oldest in the complement first)."""
    for i in range(1, m):
        r = roots[i]
        a = rank[r]
        j = i - 1
        while j >= 0 and rank[roots[j]] < a:
            roots[j + 1] = roots[j]
            j -= 1
        roots[j + 1] = r


@njit(cache=True, nogil=True, inline="always")
def _merge_first(first, entered, order, values, older, younger, keys, key, death_value):
    """Merge the image classes of two C components.

    ``first[root]``: the smallest rank (in the image's own order) of any cell of the component,
    entered into the image or not; the component holds cells of the image iff that rank is below
    ``entered`` (cells enter the image in rank order, so its smallest rank is its first cell). When
    both hold cells, the class born later dies and gets ``key`` (unless its image bar is empty:
    born at ``death_value``).
    """
    a = first[older]
    b = first[younger]
    if a < entered and b < entered:
        later = max(a, b)
        if values[later] > death_value:
            keys[order[later]] = key
    first[older] = min(a, b)


@njit(cache=True, nogil=True)
def comparison_dim0(order_c, rank_c, values_c, order_p, rank_p, values_p, order_g, rank_g, values_g,
                    offsets, adj, size, grid, ahead):
    """Dimension-0 induced matchings ``P -> C`` and ``G -> C`` in one union-find pass over ``C``.

    ``C >= P`` and ``C >= G`` pointwise. Cells enter by decreasing value; at equal values a cell
    enters ``C`` (with its edges to the cells already there) before any cell enters ``P`` or ``G``,
    so ``P_t`` and ``G_t`` stay inside ``C_t``. Each C component knows the first cell of ``P`` and
    of ``G`` it contains (the birth of its image class): the smallest ``P`` (``G``) rank of its
    cells, counted once it is below the number of cells already in ``P`` (``G``). A cell ``z``
    entering ``C`` joins the components around it oldest first (by ``C``); each further
    component's C bar dies at ``z``, and when both sides contain cells of ``P`` the image class
    born later in ``P`` dies in the same step, which matches its bar of ``P`` to that C bar
    (likewise for ``G``).

    Returns ``(key_p, key_g)`` over the padded grid: at the birth cell of each finite bar of ``P``
    (``G``) the key of its C bar (the padded birth cell of that C bar) or :data:`NO_KEY`; the
    essential bars (born at ``order_p[0]``, ``order_g[0]``) get :data:`ESSENTIAL_KEY`. ``grid``
    (:func:`prefetch_grid`) and ``ahead`` (0: off) only serve the prefetching of the cells visited next.
    """
    parent = np.full(size, -1, dtype=np.int32)
    first_p = np.empty(size, dtype=np.int32)  # read at roots only, set when a root is made
    first_g = np.empty(size, dtype=np.int32)
    key_p = np.full(size, NO_KEY, dtype=np.int32)
    key_g = np.full(size, NO_KEY, dtype=np.int32)
    roots = np.empty(offsets.shape[0], dtype=np.int32)
    n = order_c.shape[0]
    sp = 0  # cells of P with rank < sp are in P
    sg = 0
    for sc in range(n):
        if ahead and sc + ahead < n:
            nxt = np.int64(order_c[sc + ahead])
            prefetch_neighbourhood(parent, nxt, grid)
            prefetch(rank_p, nxt)
            prefetch(rank_g, nxt)
        z = order_c[sc]
        v = values_c[sc]
        while sp < n and values_p[sp] > v:
            sp += 1
        while sg < n and values_g[sg] > v:
            sg += 1
        m = _neighbour_roots(parent, z, offsets, adj, roots)
        if m == 0:
            parent[z] = z
            first_p[z] = rank_p[z]
            first_g[z] = rank_g[z]
            continue
        _sort_roots(roots, m, rank_c)
        older = roots[0]
        parent[z] = older
        # z is not in P or G yet (its values there are <= v): it only lowers the raw minima
        if rank_p[z] < first_p[older]:
            first_p[older] = rank_p[z]
        if rank_g[z] < first_g[older]:
            first_g[older] = rank_g[z]
        for j in range(1, m):
            younger = roots[j]
            parent[younger] = older
            _merge_first(first_p, sp, order_p, values_p, older, younger, key_p, younger, v)
            _merge_first(first_g, sg, order_g, values_g, older, younger, key_g, younger, v)
    key_p[order_p[0]] = ESSENTIAL_KEY
    key_g[order_g[0]] = ESSENTIAL_KEY
    return key_p, key_g


@njit(cache=True, nogil=True)
def complement_joint(order_p, rank_p, values_p, order_c, rank_c, values_c, border, offsets, adj, size, grid,
                     ahead):
    """Dimension ``d - 1`` bars of ``P`` and their induced matching into ``C``, by duality, in one pass.

    By Alexander duality a ``(d-1)``-dimensional hole of the superlevel set ``{P >= t}`` is a bounded
    component of its complement ``{P < t}`` (dual connectivity, the padding forms the unbounded
    outer component). Growing the complement (``t`` increasing, the superlevel order reversed), a
    component is born at the hole's first cell (the bar's *death* cell) and dies when it merges into
    an older one (the bar's *birth* cell). The complement of ``C`` lies inside the complement of
    ``P`` (at equal values a cell joins the complement of ``P`` first). Each complement-of-P
    component knows its first complement-of-C cell ``w``: the largest superlevel ``C`` rank of its
    cells (the outer component counts as rank ``n``, present from the start), valid once it is
    above ``sc``. A cell ``z`` joins the components around it oldest first, and at each further
    merge the bar of ``P`` that dies is matched to the C bar whose image class dies in the same
    step: the key is that class's first cell ``w``, the death cell of the C bar.

    Returns ``(births, deaths, keys)``: padded birth/death cells of the finite bars of ``P`` and the
    key of the C bar each is matched to (:data:`NO_KEY` if none). ``grid``, ``ahead``: as in :func:`comparison_dim0`.
    """
    n = order_p.shape[0]
    parent = np.full(size, -1, dtype=np.int32)
    last_c = np.empty(size, dtype=np.int32)  # read at roots only, set when a root is made
    # complement age: larger superlevel rank = earlier; the padding has rank n, so the outer is oldest
    outer = border[0]
    for b in border:
        parent[b] = outer
    last_c[outer] = n
    roots = np.empty(offsets.shape[0], dtype=np.int32)
    births = np.empty(n, dtype=np.int32)
    deaths = np.empty(n, dtype=np.int32)
    keys = np.empty(n, dtype=np.int32)
    count = 0
    sc = n - 1  # cells of C with rank > sc are in the complement of C
    for sp in range(n - 1, -1, -1):
        if ahead and sp >= ahead:
            nxt = np.int64(order_p[sp - ahead])
            prefetch_neighbourhood(parent, nxt, grid)
            prefetch(rank_c, nxt)
        z = order_p[sp]
        v = values_p[sp]
        while sc >= 0 and values_c[sc] < v:
            sc -= 1
        m = _neighbour_roots(parent, z, offsets, adj, roots)
        if m == 0:
            parent[z] = z
            last_c[z] = rank_c[z]
            continue
        _sort_roots_desc(roots, m, rank_p)
        older = roots[0]
        parent[z] = older
        # z is not in the complement of C yet (its C value is >= v): it only raises the raw maximum
        if rank_c[z] > last_c[older]:
            last_c[older] = rank_c[z]
        for j in range(1, m):
            younger = roots[j]
            parent[younger] = older
            a = last_c[older]
            b = last_c[younger]
            key = NO_KEY
            if a > sc and b > sc:
                # the class that entered the complement of C later (smaller rank, never the outer) dies
                dying = min(a, b)
                if v > values_c[dying]:  # an empty image bar matches nothing
                    key = order_c[dying]
            last_c[older] = max(a, b)
            births[count] = z
            deaths[count] = younger
            keys[count] = key
            count += 1
    return births[:count], deaths[:count], keys[:count]
