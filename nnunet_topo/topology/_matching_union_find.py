"""Union-find kernels (numba) for the induced matchings of dimensions 0 and ``d - 1``.

They share the engine's layout and helpers (``_union_find``): flat C-order cells (2D images as
``(1, H, W)``), ``order``/``rank`` (int32 superlevel order, value descending, ties by flat index
ascending, and its inverse), ``values`` (the image's values in that order), and per cell the uint32
``neighbour_masks`` word of the neighbours that enter earlier (bit ``BORDER_BIT``: a cell on the
image border). One raster pass builds the masks, so the filtration-order passes read one word per
cell instead of probing every neighbour; in 2D a 256-entry ``join_table`` gives one ``find`` per
group of touching present neighbours, in 3D neighbours adjacent to one already handled are skipped.
The union-find roots hold ``-(age + 1)``, the rank at which their first cell entered the pass, so
ordering roots by age reads no other array. The complement (sublevel) filtration is the same order
reversed; there a virtual *outside* node (index ``n``, age 0) joins every border cell.

Merges at one cell are done oldest component first, so the result does not depend on the order
of the neighbour offsets (nor on flips of the array). Matching keys identify a bar of the
comparison image ``C``: in dimension 0 the flat index of the C bar's birth cell
(:data:`ESSENTIAL_KEY` for the essential bar), in dimension ``d - 1`` the flat index of its death
cell. :data:`NO_KEY`: no bar of ``C`` (no image bar, or an empty one). The bars of ``P`` (and
``G``) alone in dimension 0 come from the engine's ``dim0_pairs``; the pairs of a superlevel
union-find do not depend on the merge order, only their keys do.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from ._prefetch import prefetch, prefetch_neighbourhood
from ._union_find import (  # noqa: F401  (two_level_order: the O(n) order of binary masks, shared)
    BORDER_BIT,
    FULL_MASK,
    _adjacency_masks,
    _ctz,
    _existing,
    _flat_offsets,
    _root,
    two_level_order,
)

__all__ = [
    "NO_KEY",
    "ESSENTIAL_KEY",
    "two_level_order",
    "merge_max_order",
    "comparison_dim0",
    "complement_joint",
]

NO_KEY = -1
ESSENTIAL_KEY = -2


@njit(cache=True, nogil=True)
def merge_max_order(perm_p, values_p, perm_g, values_g):
    """Superlevel order of ``max(P, G)`` from the superlevel orders of ``P`` and ``G``, in O(n).

    ``values_p``/``values_g``: each image's values in its own order (``flat[perm]``, read in
    sequence). Merges the two orders by (value descending, flat index ascending) and keeps each
    cell's first occurrence, which is at its larger value: the same int32 permutation as sorting
    ``max(P, G)``. Returns that permutation and the values of ``max(P, G)`` in its order.
    """
    n = perm_p.shape[0]
    seen = np.zeros(n, dtype=np.bool_)
    perm = np.empty(n, dtype=np.int32)
    values = np.empty(n, dtype=values_p.dtype)
    i = 0
    j = 0
    for k in range(n):
        while seen[perm_p[i]]:
            i += 1
        while seen[perm_g[j]]:
            j += 1
        a = perm_p[i]
        b = perm_g[j]
        va = values_p[i]
        vb = values_g[j]
        if va > vb or (va == vb and a <= b):
            x = a
            values[k] = va
            i += 1
        else:
            x = b
            values[k] = vb
            j += 1
        seen[x] = True
        perm[k] = x
    return perm, values


@njit(cache=True, nogil=True, inline="always")
def _roots_of(parent, flat, adj, p, todo, roots):
    """Distinct roots of the neighbours ``todo`` (bitmask) of cell ``p`` into ``roots``; returns their number.

    A neighbour adjacent to one already handled (``adj``) is in its component and needs no ``find``.
    """
    m = 0
    while todo:
        j = np.int64(_ctz(todo))
        todo &= ~((np.uint32(1) << np.uint32(j)) | adj[j])
        r = _root(parent, p + flat[j])
        new = True
        for i in range(m):
            if roots[i] == r:
                new = False
                break
        if new:
            roots[m] = r
            m += 1
    return m


@njit(cache=True, nogil=True, inline="always")
def _oldest_first(parent, roots, m):
    """Insertion sort of ``roots[:m]`` by age ascending (a root holds ``-(age + 1)``: larger is older)."""
    for i in range(1, m):
        r = roots[i]
        a = parent[r]
        j = i - 1
        while j >= 0 and parent[roots[j]] < a:
            roots[j + 1] = roots[j]
            j -= 1
        roots[j + 1] = r


@njit(cache=True, nogil=True, inline="always")
def _merge_first(first, entered, older, younger, keys, key):
    """Merge the image classes of two C components.

    ``first[root]``: the smallest rank (in the image's own order) of any cell of the component,
    entered into the image or not; the component holds cells of the image iff that rank is below
    ``entered`` (cells enter the image in rank order, so its smallest rank is its first cell). When
    both hold cells, the class born later dies: ``keys`` gets ``key`` at its birth rank. Both were
    born above the current value (``entered`` counts the cells with larger values), so the image
    bar that dies is never empty.
    """
    a = first[older]
    b = first[younger]
    if a < entered and b < entered:
        keys[max(a, b)] = key
    first[older] = min(a, b)


@njit(cache=True, nogil=True)
def comparison_dim0(shape, order_c, values_c, masks_c, rank_p, values_p, rank_g, values_g, offsets, select, table,
                    ahead):
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

    Args:
        shape: int64 ``(D, H, W)`` (``D = 1`` in 2D).
        order_c, values_c, masks_c: ``C``'s order, values in that order, ``neighbour_masks``.
        rank_p, values_p / rank_g, values_g: ``P``'s / ``G``'s ranks and values in their order.
        offsets, select, table: the engine's ``neighbour_offsets``, the foreground
            ``connectivity_bits`` and its ``join_table``.
        ahead: prefetch distance in cells (0: off).

    Returns:
        ``(key_p, key_g)``, int32 indexed by rank in ``P`` (``G``): at the birth of each finite bar
        the key of its C bar (the flat birth cell of that C bar) or :data:`NO_KEY`; the essential
        bars (rank 0) get :data:`ESSENTIAL_KEY`.
    """
    n = order_c.shape[0]
    flat = _flat_offsets(shape, offsets)
    use_table = table.shape[0] == 256
    adj = np.zeros(offsets.shape[0], dtype=np.uint32) if use_table else _adjacency_masks(offsets, select)
    sel = np.uint32(select)
    parent = np.empty(n, dtype=np.int32)
    first_p = np.empty(n, dtype=np.int32)  # read at roots only, set when a root is made
    first_g = np.empty(n, dtype=np.int32)
    key_p = np.full(n, NO_KEY, dtype=np.int32)
    key_g = np.full(n, NO_KEY, dtype=np.int32)
    roots = np.empty(offsets.shape[0], dtype=np.int64)
    sp = 0  # cells of P with rank < sp are in P
    sg = 0
    for sc in range(n):
        if ahead and sc + ahead < n:
            q = np.int64(order_c[sc + ahead])
            prefetch(masks_c, q)
            prefetch_neighbourhood(parent, q, shape)
            prefetch(rank_p, q)
            prefetch(rank_g, q)
        z = np.int64(order_c[sc])
        v = values_c[sc]
        while sp < n and values_p[sp] > v:
            sp += 1
        while sg < n and values_g[sg] > v:
            sg += 1
        mk = masks_c[z]
        todo = table[mk & np.uint32(255)] if use_table else mk & sel
        m = _roots_of(parent, flat, adj, z, todo, roots)
        if m == 0:
            parent[z] = -sc - 1
            first_p[z] = rank_p[z]
            first_g[z] = rank_g[z]
            continue
        _oldest_first(parent, roots, m)
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
            _merge_first(first_p, sp, older, younger, key_p, younger)
            _merge_first(first_g, sg, older, younger, key_g, younger)
    key_p[0] = ESSENTIAL_KEY
    key_g[0] = ESSENTIAL_KEY
    return key_p, key_g


@njit(cache=True, nogil=True)
def complement_joint(shape, order_p, values_p, masks_p, rank_c, values_c, offsets, select, table, ahead):
    """Dimension ``d - 1`` bars of ``P`` and their induced matching into ``C``, by duality, in one pass.

    By Alexander duality a ``(d-1)``-dimensional hole of the superlevel set ``{P >= t}`` is a bounded
    component of its complement ``{P < t}`` (dual connectivity; the outside node, joined to every
    border cell, is the unbounded component). Growing the complement (``t`` increasing, the
    superlevel order reversed), a component is born at the hole's first cell (the bar's *death*
    cell) and dies when it merges into an older one (the bar's *birth* cell). The complement of
    ``C`` lies inside the complement of ``P`` (at equal values a cell joins the complement of ``P``
    first). Each complement-of-P component knows its first complement-of-C cell ``w``: the largest
    superlevel ``C`` rank of its cells (the outside counts as rank ``n``, present from the start),
    valid once it is above ``sc``. A cell ``z`` joins the components around it oldest first, and at
    each further merge the bar of ``P`` that dies is matched to the C bar whose image class dies in
    the same step: the key is that class's first cell ``w`` (its C rank), the death cell of the C bar.

    Args:
        shape: int64 ``(D, H, W)`` (``D = 1`` in 2D).
        order_p, values_p, masks_p: ``P``'s order, values in that order and ``neighbour_masks``.
        rank_c, values_c: ``C``'s ranks and its values in its order.
        offsets, select, table: the engine's ``neighbour_offsets``, the *background*
            ``connectivity_bits`` and its ``join_table``.
        ahead: prefetch distance in cells (0: off).

    Returns:
        ``(births, deaths, keys)``: int32 flat birth/death cells of the finite bars of ``P`` and the
        key of the C bar each is matched to (the C rank of its death cell, :data:`NO_KEY` if none).
    """
    n = order_p.shape[0]
    flat = _flat_offsets(shape, offsets)
    use_table = table.shape[0] == 256
    adj = np.zeros(offsets.shape[0], dtype=np.uint32) if use_table else _adjacency_masks(offsets, select)
    sel = np.uint32(select)
    border_flag = np.uint32(1) << np.uint32(BORDER_BIT)
    outside = n
    parent = np.empty(n + 1, dtype=np.int32)
    parent[outside] = -1  # age 0: older than every cell
    last_c = np.empty(n + 1, dtype=np.int32)  # read at roots only, set when a root is made
    last_c[outside] = n
    roots = np.empty(offsets.shape[0] + 1, dtype=np.int64)
    births = np.empty(n, dtype=np.int32)
    deaths = np.empty(n, dtype=np.int32)
    keys = np.empty(n, dtype=np.int32)
    count = 0
    sc = n - 1  # cells of C with rank > sc are in the complement of C
    for t in range(n - 1, -1, -1):
        if ahead and t >= ahead:
            q = np.int64(order_p[t - ahead])
            prefetch(masks_p, q)
            prefetch_neighbourhood(parent, q, shape)
            prefetch(rank_c, q)
        z = np.int64(order_p[t])
        v = values_p[t]
        while sc >= 0 and values_c[sc] < v:
            sc -= 1
        mk = masks_p[z]
        on_border = mk & border_flag
        # present in the complement: the neighbours that are not earlier in the superlevel order
        later = (_existing(shape, z, offsets, FULL_MASK) & ~mk) if on_border else ~mk
        todo = table[later & np.uint32(255)] if use_table else later & sel
        m = _roots_of(parent, flat, adj, z, todo, roots)
        if on_border:
            seen = False
            for i in range(m):
                if roots[i] == outside:
                    seen = True
            if not seen:
                roots[m] = outside
                m += 1
        if m == 0:
            parent[z] = -(n - t) - 1
            last_c[z] = rank_c[z]
            continue
        _oldest_first(parent, roots, m)
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
                # the class that entered the complement of C later (smaller rank, never the outside)
                # dies; it entered below v (ranks above sc have smaller values), so its bar is not empty
                key = min(a, b)
            last_c[older] = max(a, b)
            births[count] = z
            deaths[count] = younger
            keys[count] = key
            count += 1
    return births[:count], deaths[:count], keys[:count]
