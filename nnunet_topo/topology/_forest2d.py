"""2D union-find over critical pixels only: a gradient forest built in one raster pass (numba).

The rank-based passes of ``_union_find`` visit every pixel in filtration order, which is random in
memory (a few cache misses per pixel) and needs a global sort first. In 2D the union-find of
dimension 0 and, by duality, of dimension 1 can instead start from a forest that one raster pass
builds, so that only the *critical* pixels are visited in filtration order:

* **Superlevel forest** (``up``): every pixel points to its earliest earlier neighbour (the steepest
  ascent, foreground connectivity), a local maximum to itself. The path from a pixel runs through
  earlier pixels only, so when a pixel ``s`` enters, each present neighbour already lies in the
  component of the maximum its path leads to. A pixel whose earlier neighbours form one group
  (the engine's ``join_table``) merges nothing; only *saddles* (two or more groups) are processed,
  in filtration order, and a merge links the younger root under the elder (``up[young] = elder``),
  so ``up`` is the union-find forest itself (path halving).
* **Sublevel forest** (``down``, dimension 1 by Alexander duality): every pixel points to its latest
  later neighbour (background connectivity), a pixel on the border to the virtual *outside* node
  ``n``; *dual saddles* are interior pixels with two or more groups of later neighbours and border
  pixels with one or more, visited in reverse filtration order.

Order and tie rule are the engine's: value descending, ties by flat C-order index ascending; a
neighbour at flat offset ``f`` enters earlier iff its value is larger, or equal with ``f < 0``.
No global sort is needed: comparisons read the values, and only the event lists (saddles, maxima,
minima) are sorted (radix sort, stable over raster order). The pairs are the same cells as the
rank-based passes give (tested cell for cell in ``tests/topology/test_forest2d.py``).

Arrays: ``values`` flat float64 C order of an ``(H, W)`` image; cells are flat C indices (int32);
``offsets`` are ``neighbour_offsets(2)`` as ``(0, dy, dx)`` rows, so bit ``j`` of a neighbour
mask names ``offsets[j]`` and the bits ``0..3`` are the neighbours with smaller flat index.
"""
from __future__ import annotations

import threading

import numba
import numpy as np

from ._prefetch import PREFETCH_DISTANCE, prefetch, prefetch_neighbourhood
from ._union_find import _ctz, _float32_sort_keys, _lsd_radix, _root, _sort_keys

__all__ = [
    "NO_EVENT",
    "Forests",
    "forest_pass",
    "sort_decreasing",
    "superlevel_pairs",
    "sublevel_pairs",
    "comparison_keys",
]

_JIT = dict(cache=True, nogil=True)
NO_EVENT = -1  # "none" in the per-root records of the joint passes
_BORDER = np.uint32(1 << 8)  # flag in a dual saddle's bits: the pixel lies on the image border
_PLATEAU = np.uint32(1 << 8)  # flag in an interior row's masks: all eight neighbours equal the pixel


@numba.njit(**_JIT)
def _border_masks(values, H, W, offsets, flat, y, x):
    """``(earlier, existing)`` neighbour masks of a pixel on the border."""
    p = y * W + x
    v = values[p]
    earlier = np.uint32(0)
    existing = np.uint32(0)
    for j in range(8):
        yy = y + offsets[j, 1]
        xx = x + offsets[j, 2]
        if yy < 0 or yy >= H or xx < 0 or xx >= W:
            continue
        existing |= np.uint32(1) << np.uint32(j)
        w = values[p + flat[j]]
        if w > v or (w == v and j < 4):
            earlier |= np.uint32(1) << np.uint32(j)
    return earlier, existing


@numba.njit(inline="always", **_JIT)
def _steepest_up(values, flat, p, bits):
    """The earliest neighbour among ``bits`` (largest value; ties: smaller index, i.e. lower bit)."""
    j = np.int64(_ctz(bits))
    best = p + flat[j]
    bv = values[best]
    bits &= bits - np.uint32(1)
    while bits:
        j = np.int64(_ctz(bits))
        bits &= bits - np.uint32(1)
        q = p + flat[j]
        if values[q] > bv:
            best = q
            bv = values[q]
    return best


@numba.njit(inline="always", **_JIT)
def _steepest_down(values, flat, p, bits):
    """The latest neighbour among ``bits`` (smallest value; ties: larger index, i.e. higher bit)."""
    j = np.int64(_ctz(bits))
    best = p + flat[j]
    bv = values[best]
    bits &= bits - np.uint32(1)
    while bits:
        j = np.int64(_ctz(bits))
        bits &= bits - np.uint32(1)
        q = p + flat[j]
        if values[q] <= bv:
            best = q
            bv = values[q]
    return best


class Forests:
    """Result of :func:`forest_pass`: a plain record of arrays (empty where not asked for).

    * ``up``: int32 superlevel forest (``n``): a pixel's earliest earlier neighbour (or a pixel
      closer to its root), a local maximum ``-(k + 1)`` with ``k`` its position in ``maxima``;
    * ``maxima``: the local maxima (no earlier foreground neighbour); ``saddles`` / ``saddle_bits``:
      the pixels with two or more groups of earlier neighbours and the ``join_table``
      representative of each group;
    * ``down``: int32 sublevel forest (``n + 1``, the outside last): a pixel's latest later
      background neighbour (or a pixel closer to its root), a border pixel the outside ``n``, a
      minimum ``-(k + 1)`` with ``k`` its position in ``minima``, the outside ``-(len(minima) + 1)``;
    * ``minima``: interior pixels with no later background neighbour (the births of bounded
      components of the complement); ``dual_saddles`` / ``dual_bits``: interior pixels with two or
      more groups of later neighbours, border pixels with one or more (flag ``_BORDER``).

    Every list is in raster order (increasing flat index).
    """

    __slots__ = ("up", "maxima", "saddles", "saddle_bits", "down", "dual_saddles", "dual_bits", "minima")

    def __init__(self, arrays: tuple) -> None:
        for name, a in zip(self.__slots__, arrays):
            setattr(self, name, a)


@numba.njit(inline="always", **_JIT)
def _pick(c, a, b):
    return a if c else b


@numba.njit(**_JIT)
def _interior_row(values, row, W, full, masks, up_step, down_step):
    """Neighbour data of the interior pixels ``row + 1 .. row + W - 2`` of an interior row.

    ``masks[x]``: which neighbours enter earlier (bits 0-3: smaller index, ties count), and
    ``_PLATEAU`` when all eight equal the pixel (then it is no event of either forest);
    ``up_step[x]``: flat offset of the earliest foreground neighbour (largest value, ties the
    smaller index); ``down_step[x]``: of the latest background neighbour (smallest value, ties the
    larger index). If any neighbour of a set enters earlier (later) than the pixel, that one does.
    Written as selects without branches, so that the compiler vectorises along the row.
    """
    f0, f1, f2, f3, f4, f5, f6, f7 = -W - 1, -W, -W + 1, -1, 1, W - 1, W, W + 1
    above = values[row - W: row]
    here = values[row: row + W]
    below = values[row + W: row + 2 * W]
    one = np.uint64(1)
    for x in range(1, W - 1):
        # unsigned indices: no wrap-around of negative indices, so the loads stay contiguous
        # (signed ones made numba emit gathers: 1.4 vs 0.6 ms per 512^2 image, measured)
        i = np.uint64(x)
        v = here[i]
        a0 = above[i - one]
        a1 = above[i]
        a2 = above[i + one]
        a3 = here[i - one]
        a4 = here[i + one]
        a5 = below[i - one]
        a6 = below[i]
        a7 = below[i + one]
        masks[i] = (np.int32(a0 >= v) | (np.int32(a1 >= v) << 1) | (np.int32(a2 >= v) << 2)
                    | (np.int32(a3 >= v) << 3) | (np.int32(a4 > v) << 4) | (np.int32(a5 > v) << 5)
                    | (np.int32(a6 > v) << 6) | (np.int32(a7 > v) << 7)
                    | (np.int32((a0 == v) & (a1 == v) & (a2 == v) & (a3 == v) & (a4 == v) & (a5 == v)
                                & (a6 == v) & (a7 == v)) << 8))
        if full:  # foreground: all eight; background: the faces
            bo, bv = f0, a0
            c = a1 > bv
            bo, bv = _pick(c, f1, bo), _pick(c, a1, bv)
            c = a2 > bv
            bo, bv = _pick(c, f2, bo), _pick(c, a2, bv)
            c = a3 > bv
            bo, bv = _pick(c, f3, bo), _pick(c, a3, bv)
            c = a4 > bv
            bo, bv = _pick(c, f4, bo), _pick(c, a4, bv)
            c = a5 > bv
            bo, bv = _pick(c, f5, bo), _pick(c, a5, bv)
            c = a6 > bv
            bo, bv = _pick(c, f6, bo), _pick(c, a6, bv)
            c = a7 > bv
            bo = _pick(c, f7, bo)
            co, cv = f1, a1
            c = a3 <= cv
            co, cv = _pick(c, f3, co), _pick(c, a3, cv)
            c = a4 <= cv
            co, cv = _pick(c, f4, co), _pick(c, a4, cv)
            c = a6 <= cv
            co = _pick(c, f6, co)
        else:  # foreground: the faces; background: all eight
            bo, bv = f1, a1
            c = a3 > bv
            bo, bv = _pick(c, f3, bo), _pick(c, a3, bv)
            c = a4 > bv
            bo, bv = _pick(c, f4, bo), _pick(c, a4, bv)
            c = a6 > bv
            bo = _pick(c, f6, bo)
            co, cv = f0, a0
            c = a1 <= cv
            co, cv = _pick(c, f1, co), _pick(c, a1, cv)
            c = a2 <= cv
            co, cv = _pick(c, f2, co), _pick(c, a2, cv)
            c = a3 <= cv
            co, cv = _pick(c, f3, co), _pick(c, a3, cv)
            c = a4 <= cv
            co, cv = _pick(c, f4, co), _pick(c, a4, cv)
            c = a5 <= cv
            co, cv = _pick(c, f5, co), _pick(c, a5, cv)
            c = a6 <= cv
            co, cv = _pick(c, f6, co), _pick(c, a6, cv)
            c = a7 <= cv
            co = _pick(c, f7, co)
        up_step[i] = bo
        down_step[i] = co


@numba.njit(**_JIT)
def _forest_pass(values, H, W, offsets, full, fg_table, bg_table, up, maxima, saddles, saddle_bits, down,
                 dual_saddles, dual_bits, minima):
    n = H * W
    want_up = up.shape[0] > 0
    want_down = down.shape[0] > 0
    want_minima = minima.shape[0] > 0
    flat = np.empty(8, dtype=np.int64)
    for j in range(8):
        flat[j] = offsets[j, 1] * W + offsets[j, 2]
    faces = np.uint32(0b01011010)
    fg_sel = np.uint32(255) if full else faces
    bg_sel = faces if full else np.uint32(255)
    n_max = 0
    n_sad = 0
    n_dual = 0
    n_min = 0
    row_masks = np.zeros(W, dtype=np.int32)
    row_up = np.zeros(W, dtype=np.int32)
    row_down = np.zeros(W, dtype=np.int32)
    for y in range(H):
        interior_row = 0 < y < H - 1 and W > 2
        if interior_row:
            _interior_row(values, y * W, W, full, row_masks, row_up, row_down)
        for x in range(W):
            p = y * W + x
            if interior_row and 0 < x < W - 1:
                earlier = np.uint32(row_masks[x])
                up_cell = p + row_up[x]
                down_cell = p + row_down[x]
                if earlier & _PLATEAU:
                    # inside a plateau (all neighbours equal): no event, only the two forests
                    if want_up:
                        hop = up[up_cell]
                        up[p] = hop if hop >= 0 else up_cell
                    if want_down:
                        down[p] = down_cell
                    continue
                existing = np.uint32(255)
                border = False
            else:
                earlier, existing = _border_masks(values, H, W, offsets, flat, y, x)
                border = True
                up_cell = _steepest_up(values, flat, p, earlier & fg_sel) if earlier & fg_sel else p
                later_sel = existing & ~earlier & bg_sel
                down_cell = _steepest_down(values, flat, p, later_sel) if later_sel else p
            # branch-free: every list is written at its end and the count moves on when the pixel
            # belongs there (the classes are random on noisy maps; branches mispredicted)
            if want_up:
                groups = fg_table[earlier]
                is_max = groups == 0
                # an earlier pixel in raster order already points to its root or near it: skip to that
                hop = up[up_cell]
                link = hop if (up_cell < p and hop >= 0) else up_cell
                up[p] = -(n_max + 1) if is_max else link
                maxima[n_max] = p
                n_max += np.int64(is_max)
                saddles[n_sad] = p
                saddle_bits[n_sad] = groups
                n_sad += np.int64((groups & (groups - np.uint32(1))) != 0)
            if want_minima:
                groups = bg_table[existing & ~earlier]
                is_min = groups == 0 and not border
                if want_down:
                    down[p] = n if border else (-(n_min + 1) if groups == 0 else down_cell)
                    several = (groups & (groups - np.uint32(1))) != 0
                    dual_saddles[n_dual] = p
                    dual_bits[n_dual] = groups | (_BORDER if border else np.uint32(0))
                    n_dual += np.int64((groups != 0) if border else several)
                minima[n_min] = p
                n_min += np.int64(is_min)
    if want_down:
        down[n] = -(n_min + 1)  # the outside: the last root, after the minima
        # pointers to later pixels in raster order (plateaus): skip to where those already point
        for p in range(n - 1, -1, -1):
            d = down[p]
            if d > p:
                hop = down[d]
                if hop >= 0:
                    down[p] = hop
    return (up, maxima[:n_max], saddles[:n_sad], saddle_bits[:n_sad], down, dual_saddles[:n_dual],
            dual_bits[:n_dual], minima[:n_min])


def forest_pass(values: np.ndarray, shape: tuple[int, int], offsets: np.ndarray, full: bool,
                fg_table: np.ndarray, bg_table: np.ndarray, *, up: bool = True, down: bool = True,
                minima: bool = False, role: int = 0) -> Forests:
    """One raster pass over a 2D image: its forests and event lists (see the module docstring).

    ``values``: flat float64 C order of ``shape = (H, W)``; ``full``: the T-construction (foreground
    8-, background 4-connected) or, if False, the V-construction (4 / 8); ``fg_table``/``bg_table``:
    the ``join_table`` of the foreground / background connectivity. ``up``/``down`` choose the
    forests built; ``minima`` the minima alone (they come with ``down``). The arrays are views of
    this thread's working buffers for ``role`` (:func:`_buffer`): valid until the next pass with the
    same role in the same thread.
    """
    H, W = shape
    n = H * W
    minima = minima or down

    def buf(name, size, dtype, wanted):
        return _buffer(role, name, size, dtype) if wanted else np.zeros(0, dtype=dtype)

    return Forests(_forest_pass(
        values, np.int64(H), np.int64(W), offsets, bool(full), fg_table, bg_table,
        buf("up", n, np.int32, up), buf("maxima", n, np.int32, up), buf("saddles", n, np.int32, up),
        buf("saddle_bits", n, np.uint8, up), buf("down", n + 1, np.int32, down),
        buf("dual_saddles", n, np.int32, down), buf("dual_bits", n, np.uint16, down),
        buf("minima", n, np.int32, minima)))


_local = threading.local()


def _buffer(role: int, name: str, size: int, dtype: type) -> np.ndarray:
    """This thread's working array ``name`` for ``role`` (an image of one call), at least ``size`` long.

    Kept between calls: the passes' arrays are as large as the image and short-lived, and fresh
    ones cost page faults each time (measured: 32.2 vs 38.8 ms for the 512² vessel pair with and
    without glibc's heap trimming turned off); a thread keeps, per role, up to 27 bytes per pixel
    of the largest image it saw (six int32 arrays, a uint8 and a uint16 one; fewer when only one
    forest is asked for).
    """
    pool = getattr(_local, "pool", None)
    if pool is None:
        pool = _local.pool = {}
    a = pool.get((role, name))
    if a is None or a.shape[0] < size or a.dtype != dtype:
        a = pool[(role, name)] = np.empty(size, dtype=dtype)
    return a[:size]


@numba.njit(**_JIT)
def _decreasing_permutation(values, cells):
    m = cells.shape[0]
    gathered = np.empty(m, dtype=np.float64)
    for i in range(m):
        gathered[i] = values[cells[i]]
    single, keys32 = _float32_sort_keys(gathered)
    if single:
        return _lsd_radix(keys32, np.arange(m).astype(np.int32), 11)
    return _lsd_radix(_sort_keys(gathered.view(np.uint64)), np.arange(m).astype(np.int32), 11)


def sort_decreasing(values: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """int32 permutation putting ``cells`` (increasing flat index) in filtration order (value down, index up)."""
    return _decreasing_permutation(values, cells)


@numba.njit(inline="always", **_JIT)
def _group_roots(forest, flat, p, bits, roots, ids):
    """Distinct roots (``roots``) and their list positions (``ids``) of the group representatives ``bits``."""
    m = 0
    while bits:
        j = np.int64(_ctz(bits))
        bits &= bits - np.uint32(1)
        r = _root(forest, p + flat[j])
        new = True
        for i in range(m):
            if roots[i] == r:
                new = False
        if new:
            roots[m] = r
            ids[m] = -np.int64(forest[r]) - 1
            m += 1
    return m


@numba.njit(inline="always", **_JIT)
def _older(first, a, b, superlevel, outside):
    """Root ``a`` is older than root ``b``, told by list positions and the values at the roots.

    Superlevel: the larger value, ties the smaller position (= smaller flat index, lists are in
    raster order); sublevel: the smaller value, ties the larger position; the outside is oldest.
    """
    if superlevel:
        return first[a] > first[b] or (first[a] == first[b] and a < b)
    if a == outside:
        return True
    if b == outside:
        return False
    return first[a] < first[b] or (first[a] == first[b] and a > b)


@numba.njit(inline="always", **_JIT)
def _oldest_first(first, roots, ids, m, superlevel, outside):
    """Insertion sort of ``roots[:m]`` / ``ids[:m]`` by age, oldest first.

    The younger components are merged into the oldest in this order, as the rank-based passes do,
    so the joint passes' image classes do not depend on the order of the neighbour offsets.
    """
    for i in range(1, m):
        r = roots[i]
        k = ids[i]
        j = i - 1
        while j >= 0 and _older(first, k, ids[j], superlevel, outside):
            roots[j + 1] = roots[j]
            ids[j + 1] = ids[j]
            j -= 1
        roots[j + 1] = r
        ids[j + 1] = k


def _flat_offsets(offsets: np.ndarray, W: int) -> np.ndarray:
    return (offsets[:, 1] * W + offsets[:, 2]).astype(np.int64)


@numba.njit(**_JIT)
def _superlevel_pairs(values, up, maxima, saddles, bits, flat):
    m_all = saddles.shape[0]
    first = np.empty(maxima.shape[0], dtype=np.float64)  # the value at each root
    for k in range(maxima.shape[0]):
        first[k] = values[maxima[k]]
    # every merge links one root under another: at most one bar per maximum
    births = np.empty(maxima.shape[0], dtype=np.int64)
    deaths = np.empty(maxima.shape[0], dtype=np.int64)
    roots = np.empty(8, dtype=np.int64)
    ids = np.empty(8, dtype=np.int64)
    count = 0
    shape = np.array((1, 1, flat[6]), dtype=np.int64)  # flat[6] = W: the neighbour below
    for i in range(m_all):
        if i + PREFETCH_DISTANCE < m_all:
            ahead = np.int64(saddles[i + PREFETCH_DISTANCE])
            prefetch_neighbourhood(up, ahead, shape)
            prefetch(values, ahead)
        s = np.int64(saddles[i])
        m = _group_roots(up, flat, s, np.uint32(bits[i]), roots, ids)
        if m < 2:
            continue
        _oldest_first(first, roots, ids, m, True, -1)
        v = values[s]
        for k in range(1, m):
            up[roots[k]] = roots[0]
            if first[ids[k]] != v:
                births[count] = ids[k]
                deaths[count] = s
                count += 1
    return births[:count].copy(), deaths[:count].copy()


def superlevel_pairs(values: np.ndarray, W: int, offsets: np.ndarray, forests: Forests,
                     order: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dimension-0 pairs, zero-length ones left out: int64 positions in ``forests.maxima`` of the
    birth pixels and flat death pixels.

    ``order``: ``sort_decreasing(values, forests.saddles)``. Links the forest ``forests.up`` (it is
    used up: call once).
    """
    return _superlevel_pairs(values, forests.up, forests.maxima, forests.saddles[order],
                             forests.saddle_bits[order], _flat_offsets(offsets, W))


@numba.njit(**_JIT)
def _sublevel_pairs(values, down, minima, saddles, bits, flat, values_c, minima_c, joint):
    """Dual saddles in *reverse* filtration order (walked backwards from the decreasing lists)."""
    n = values.shape[0]
    outside = np.int64(minima.shape[0])  # the outside's list position
    first = np.empty(minima.shape[0] + 1, dtype=np.float64)  # the value at each root
    for k in range(minima.shape[0]):
        first[k] = values[minima[k]]
    first[outside] = -np.inf
    m_all = saddles.shape[0]
    first_c = np.empty(minima.shape[0] + 1 if joint else 0, dtype=np.int32)  # the C class each root holds first
    if joint:
        first_c[:] = NO_EVENT
        first_c[outside] = minima_c.shape[0]  # the outside: in the complement of C from the start
    # every merge links one root under another and the outside is never linked: a bar per minimum at most
    births = np.empty(minima.shape[0], dtype=np.int64)
    deaths = np.empty(minima.shape[0], dtype=np.int64)
    keys = np.empty(minima.shape[0] if joint else 0, dtype=np.int32)
    roots = np.empty(9, dtype=np.int64)
    ids = np.empty(9, dtype=np.int64)
    count = 0
    jc = minima_c.shape[0] - 1
    shape = np.array((1, 1, flat[6]), dtype=np.int64)  # flat[6] = W: the neighbour below
    for i in range(m_all - 1, -1, -1):
        if i >= PREFETCH_DISTANCE:
            ahead = np.int64(saddles[i - PREFETCH_DISTANCE])
            prefetch_neighbourhood(down, ahead, shape)
            prefetch(values, ahead)
        s = np.int64(saddles[i])
        v = values[s]
        if joint:
            # complement-of-C classes born below v are present (ties: P's complement first); a
            # class's first cell is a minimum of C, and it lies in one component of P's complement
            while jc >= 0 and values_c[minima_c[jc]] < v:
                if jc >= PREFETCH_DISTANCE:
                    ahead = np.int64(minima_c[jc - PREFETCH_DISTANCE])
                    prefetch(down, ahead)
                    prefetch(values_c, ahead)
                r = _root(down, np.int64(minima_c[jc]))
                k = -np.int64(down[r]) - 1
                if first_c[k] == NO_EVENT:
                    first_c[k] = jc
                jc -= 1
        b = np.uint32(bits[i])
        m = _group_roots(down, flat, s, b & np.uint32(255), roots, ids)
        if b & _BORDER:
            seen = False
            for k in range(m):
                if roots[k] == n:
                    seen = True
            if not seen:
                roots[m] = n
                ids[m] = outside
                m += 1
        if m < 2:
            continue
        _oldest_first(first, roots, ids, m, False, outside)
        elder = ids[0]
        for k in range(1, m):
            down[roots[k]] = roots[0]
            key = NO_EVENT
            if joint:
                a = first_c[elder]
                c = first_c[ids[k]]
                if a != NO_EVENT and c != NO_EVENT:
                    # the C class that entered the complement later (smaller position) dies here;
                    # never the outside (the largest position)
                    key = min(a, c)
                    first_c[elder] = max(a, c)
                elif c != NO_EVENT:
                    first_c[elder] = c
            if first[ids[k]] != v:
                births[count] = s
                deaths[count] = ids[k]
                if joint:
                    keys[count] = key
                count += 1
    return births[:count].copy(), deaths[:count].copy(), keys[:count].copy()


def sublevel_pairs(values: np.ndarray, W: int, offsets: np.ndarray, forests: Forests, order: np.ndarray,
                   values_c: np.ndarray | None = None, minima_c: np.ndarray | None = None
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dimension-1 pairs by duality, and optionally their induced matching into a comparison image.

    ``order``: ``sort_decreasing(values, forests.dual_saddles)``. Returns int64 flat birth pixels and
    positions in ``forests.minima`` of the death pixels (zero-length pairs left out) and, when
    ``values_c`` (``C >= P``, flat) and ``minima_c`` (``C``'s minima in filtration order) are given,
    int32 keys: the position in ``minima_c`` of the first cell of the complement-of-``C`` class that
    dies with each bar (the death cell of its C bar), or :data:`NO_EVENT`. Links ``forests.down``
    (call once).
    """
    joint = values_c is not None
    return _sublevel_pairs(values, forests.down, forests.minima, forests.dual_saddles[order],
                           forests.dual_bits[order], _flat_offsets(offsets, W),
                           np.zeros(0, np.float64) if values_c is None else values_c,
                           np.zeros(0, np.int32) if minima_c is None else minima_c, joint)


@numba.njit(inline="always", **_JIT)
def _enter(up_c, best, maxima, values, rank):
    """A local maximum of an input (``maxima[rank]``) enters it: its class is the component's first
    unless one is there. Prefetches the data of the maximum ``PREFETCH_DISTANCE`` ranks ahead."""
    if rank + PREFETCH_DISTANCE < maxima.shape[0]:
        ahead = np.int64(maxima[rank + PREFETCH_DISTANCE])
        prefetch(up_c, ahead)
        prefetch(values, ahead)
    r = _root(up_c, np.int64(maxima[rank]))
    k = -np.int64(up_c[r]) - 1
    if best[k] == NO_EVENT:
        best[k] = rank


@numba.njit(inline="always", **_JIT)
def _merge_classes(best, elder, younger, keys):
    """Merge the input classes of two C components (list positions): the later-born one dies.

    ``best`` holds ranks in the input's order (smaller: born earlier); the dying class's key is the
    younger C component, whose bar dies here.
    """
    a = best[elder]
    b = best[younger]
    if a != NO_EVENT and b != NO_EVENT:
        keys[max(a, b)] = younger
        best[elder] = min(a, b)
    elif b != NO_EVENT:
        best[elder] = b


@numba.njit(**_JIT)
def _comparison_keys(values_c, up_c, maxima_c, saddles, bits, flat, values_p, maxima_p, values_g, maxima_g):
    first = np.empty(maxima_c.shape[0], dtype=np.float64)  # the value at each C root
    for k in range(maxima_c.shape[0]):
        first[k] = values_c[maxima_c[k]]
    best_p = np.full(maxima_c.shape[0], NO_EVENT, dtype=np.int32)  # per C root: its first class of P
    best_g = np.full(maxima_c.shape[0], NO_EVENT, dtype=np.int32)
    keys_p = np.full(maxima_p.shape[0], NO_EVENT, dtype=np.int32)  # per P maximum (by rank): its C bar
    keys_g = np.full(maxima_g.shape[0], NO_EVENT, dtype=np.int32)
    roots = np.empty(8, dtype=np.int64)
    ids = np.empty(8, dtype=np.int64)
    ip = 0
    ig = 0
    shape = np.array((1, 1, flat[6]), dtype=np.int64)  # flat[6] = W: the neighbour below
    for i in range(saddles.shape[0]):
        if i + PREFETCH_DISTANCE < saddles.shape[0]:
            ahead = np.int64(saddles[i + PREFETCH_DISTANCE])
            prefetch_neighbourhood(up_c, ahead, shape)
            prefetch(values_c, ahead)
        s = np.int64(saddles[i])
        v = values_c[s]
        # cells enter C before P and G at equal values
        while ip < maxima_p.shape[0] and values_p[maxima_p[ip]] > v:
            _enter(up_c, best_p, maxima_p, values_p, ip)
            ip += 1
        while ig < maxima_g.shape[0] and values_g[maxima_g[ig]] > v:
            _enter(up_c, best_g, maxima_g, values_g, ig)
            ig += 1
        m = _group_roots(up_c, flat, s, np.uint32(bits[i]), roots, ids)
        if m < 2:
            continue
        _oldest_first(first, roots, ids, m, True, -1)
        for k in range(1, m):
            up_c[roots[k]] = roots[0]
            _merge_classes(best_p, ids[0], ids[k], keys_p)
            _merge_classes(best_g, ids[0], ids[k], keys_g)
    return keys_p, keys_g


def comparison_keys(values_c: np.ndarray, W: int, offsets: np.ndarray, forests_c: Forests, order_c: np.ndarray,
                    values_p: np.ndarray, maxima_p: np.ndarray, values_g: np.ndarray, maxima_g: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Dimension-0 induced matchings ``P -> C`` and ``G -> C`` over ``C``'s forest (``C = max(P, G)``).

    ``order_c``: ``sort_decreasing(values_c, forests_c.saddles)``; ``maxima_p``/``maxima_g``: each
    input's local maxima (flat pixels) in its own filtration order. The first cell of ``P`` in a C
    component is a local maximum of ``P``; a maximum entering ``P`` starts an image class unless
    its C component already holds a cell of ``P``; when two C components merge and both hold cells
    of ``P``, the later-born class dies with the younger C bar. Returns int32 arrays indexed like
    ``maxima_p`` / ``maxima_g``: the position in ``forests_c.maxima`` of the birth cell of each
    maximum's C bar, or :data:`NO_EVENT` (the essential bars are left to the caller). Links
    ``forests_c.up`` (call once).
    """
    return _comparison_keys(values_c, forests_c.up, forests_c.maxima, forests_c.saddles[order_c],
                            forests_c.saddle_bits[order_c], _flat_offsets(offsets, W), values_p, maxima_p,
                            values_g, maxima_g)
