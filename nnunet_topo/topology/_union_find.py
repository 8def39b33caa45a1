"""Union-find kernels of the fast backend (numba, ``nogil``): dimension 0 and, by duality, ``d - 1``.

Plain functions on flat arrays, so that other modules (e.g. Betti matching) can reuse them:

* ``values``: the image as a flat C-order float64 array; 2D images are treated as ``(1, H, W)``.
* ``order``: int32 pixel indices sorted by **decreasing** value, ties by increasing C-order index
  (``radix_argsort_decreasing``, a linear-time radix sort; 32-bit keys when every value is a
  float32, as network outputs are). This total order is the filtration order of the superlevel sets.
* ``pos``: int32 inverse of ``order`` (``pos[order[t]] = t``), with one extra entry for the virtual
  "outside" node; only ``neighbour_masks`` (and the 3D loop reduction) read it.
* ``masks``: uint32 per pixel from ``neighbour_masks``: which of the 8/26 neighbours enter earlier.
  One raster-order pass replaces random probes of every neighbour in the filtration-order passes.
* ``table`` (``join_table``): in 2D, for each of the 256 patterns of present neighbours, one
  neighbour per group already connected through present neighbours, so a pixel does one ``find``
  per group (a 4-connected group may run through a present corner). In 3D (26 neighbours) the
  passes skip neighbours adjacent to one already handled instead.

The union-find forest keeps at each root ``-(age + 1)``, the rank at which the component's first
pixel entered the pass, so the elder rule reads no other array; two values are equal exactly when
the younger component was born on the current plateau of equal values, which ``plateau_starts``
(one uint8 per rank, read in order) tells without reading the values at random.

Dimension 0 (``dim0_pairs``): pixels enter in ``order``; each merges with the already-present
neighbours (8/26 for ``"full"``, 4/6 for ``"face"``, chosen by a ``connectivity_bits`` mask); the elder rule kills the younger
component, born at its first pixel, at the pixel being added. Returned cells are flat C indices:
``(birth pixel, death pixel)``, the same top cells gudhi's ``cofaces_of_persistence_pairs`` names.

Dimension ``d - 1`` (``top_dim_pairs``): holes (2D) / cavities (3D) of ``{f >= t}`` are the bounded
components of ``{f < t}`` with the complementary connectivity (4/6 for ``"full"``, 8/26 for
``"face"``). Pixels enter in reverse ``order`` (a sublevel filtration) and merge with present
neighbours and, on the border, with a virtual outside node that is older than everything. When a
component born at pixel ``q`` is absorbed at pixel ``s``, the hole of the superlevel filtration is born
at ``s`` (the higher value, when ``s`` enters ``{f >= t}`` and closes it) and dies at ``q`` (the last
pixel of the hole to enter). The outside component never dies and gives no bar.

Zero-persistence pairs (equal values) are left out. Pair arrays are int64 flat C indices.
"""
from __future__ import annotations

import numba
import numpy as np
from numba.cpython.unsafe.numbers import trailing_zeros

from ._prefetch import PREFETCH_DISTANCE, prefetch, prefetch_neighbourhood

__all__ = [
    "radix_argsort_decreasing",
    "two_level_order",
    "inverse_permutation",
    "plateau_starts",
    "plateau_starts_in_order",
    "prefetch_distance",
    "neighbour_offsets",
    "connectivity_bits",
    "neighbour_masks",
    "join_table",
    "ring_representatives",
    "dim0_pairs",
    "top_dim_pairs",
]

_JIT = dict(cache=True, nogil=True)


@numba.njit(inline="always", **_JIT)
def _descending_key(b, sign):
    """Unsigned key whose ascending order is the decreasing order of the float with bit pattern ``b``.

    ``sign`` is the sign bit of the width (float32 or float64 patterns); ``-0.0`` maps like ``0.0``.
    """
    if b == sign:  # -0.0
        b = b ^ sign
    k = ~b if b & sign else b | sign
    return ~k


@numba.njit(**_JIT)
def _sort_keys(bits):
    """uint64 keys whose ascending order is the *decreasing* order of the float64 ``bits`` (-0.0 == 0.0)."""
    n = bits.shape[0]
    keys = np.empty(n, dtype=np.uint64)
    sign = np.uint64(1) << np.uint64(63)
    for i in range(n):
        keys[i] = _descending_key(bits[i], sign)
    return keys


@numba.njit(**_JIT)
def _lsd_radix(keys, src, bits):
    """Stable LSD radix sort of the indices ``src`` by uint32/uint64 ``keys[src]``, ``bits``-bit digits.

    Digits that are the same for every key are skipped. 16-bit digits for images (few passes over
    many pixels), 11-bit for the shorter arrays of bars (the 2048-bin histograms stay in cache).
    ``src`` is used as scratch space (pass a fresh array); returns an array of its dtype.
    """
    n = src.shape[0]
    # A constant pass count: with ``keys.itemsize`` here, numba's *cached* machine code (not the
    # freshly compiled one) ran 4-5x slower on images with long runs of equal digits (measured).
    # 32-bit keys simply have two constant upper digits, which are skipped.
    passes = (64 + bits - 1) // bits
    mask = np.uint64((1 << bits) - 1)
    hist = np.zeros((passes, 1 << bits), dtype=np.int64)
    for t in range(n):
        k = keys[src[t]]
        for d in range(passes):
            hist[d, (k >> np.uint64(bits * d)) & mask] += 1
    dst = np.empty_like(src)
    for d in range(passes):
        shift = np.uint64(bits * d)
        if n == 0 or hist[d, (keys[src[0]] >> shift) & mask] == n:
            continue
        total = 0  # exclusive prefix sums
        for b in range(1 << bits):
            c = hist[d, b]
            hist[d, b] = total
            total += c
        for t in range(n):
            if t + PREFETCH_DISTANCE < n:
                prefetch(keys, src[t + PREFETCH_DISTANCE])
            i = src[t]
            b = (keys[i] >> shift) & mask
            dst[hist[d, b]] = i
            hist[d, b] += 1
        src, dst = dst, src
    return src


@numba.njit(**_JIT)
def _radix_argsort(keys):
    """int32 stable argsort of uint32 or uint64 keys (16-bit digits)."""
    return _lsd_radix(keys, np.arange(keys.shape[0]).astype(np.int32), 16)


@numba.njit(**_JIT)
def _float32_sort_keys(values):
    """``(True, uint32 keys)`` when every value is a float32 (a network's output), else ``(False, [])``.

    The keys' ascending order is the decreasing order of the values (``-0.0 == 0.0``); 32-bit keys
    take two 16-bit radix passes instead of three or four, and half the memory traffic.
    """
    n = values.shape[0]
    single = values.astype(np.float32)
    for i in range(n):
        if np.float64(single[i]) != values[i]:
            return False, np.empty(0, dtype=np.uint32)
    bits = single.view(np.uint32)
    keys = np.empty(n, dtype=np.uint32)
    sign = np.uint32(1) << np.uint32(31)
    for i in range(n):
        keys[i] = _descending_key(bits[i], sign)
    return True, keys


@numba.njit(**_JIT)
def two_level_order(flat):
    """Superlevel order of an image with at most two distinct values (binary masks), in O(n).

    Returns ``(True, perm)`` with int32 ``perm`` = the cells of the higher value by flat index, then
    the others by flat index (the order of ``radix_argsort_decreasing``), or ``(False, empty)`` when
    ``flat`` has more than two distinct values. ``-0.0 == 0.0`` like the radix sort.
    """
    n = flat.shape[0]
    if n == 0:
        return True, np.empty(0, dtype=np.int32)
    hi = flat[0]
    lo = flat[0]
    for i in range(n):
        v = flat[i]
        if v != hi and v != lo:
            if hi == lo:
                if v > hi:
                    hi = v
                else:
                    lo = v
            else:
                return False, np.empty(0, dtype=np.int32)
    perm = np.empty(n, dtype=np.int32)
    k = 0
    for i in range(n):
        if flat[i] == hi:
            perm[k] = i
            k += 1
    for i in range(n):
        if flat[i] != hi:
            perm[k] = i
            k += 1
    return True, perm


def radix_argsort_decreasing(values: np.ndarray) -> np.ndarray:
    """int32 indices sorting flat float64 ``values`` by decreasing value, ties by increasing index.

    Same result as ``np.argsort(-values, kind="stable")`` (with ``-0.0 == 0.0``), in linear time.
    """
    values = np.ascontiguousarray(values, dtype=np.float64).ravel()
    if values.size >= 2**31 - 1:
        raise ValueError(f"image: expected fewer than 2**31 - 1 pixels, got {values.size}")
    single, keys = _float32_sort_keys(values)
    return _radix_argsort(keys if single else _sort_keys(values.view(np.uint64)))


@numba.njit(**_JIT)
def plateau_starts(values, order):
    """uint8 per rank ``t``: 1 where ``values[order[t]]`` differs from ``values[order[t - 1]]`` (and at 0).

    Read in rank order by the union-find passes, which then compare ranks instead of reading values.
    """
    n = order.shape[0]
    fresh = np.empty(n, dtype=np.uint8)
    previous = 0.0
    for t in range(n):
        if t + PREFETCH_DISTANCE < n:
            prefetch(values, order[t + PREFETCH_DISTANCE])
        v = values[order[t]]
        fresh[t] = 1 if t == 0 or v != previous else 0
        previous = v
    return fresh


@numba.njit(**_JIT)
def plateau_starts_in_order(values_in_order):
    """``plateau_starts`` from the values already in filtration order (``values[order]``): one sequential scan."""
    n = values_in_order.shape[0]
    fresh = np.empty(n, dtype=np.uint8)
    for t in range(n):
        fresh[t] = 1 if t == 0 or values_in_order[t] != values_in_order[t - 1] else 0
    return fresh


def prefetch_distance(fresh: np.ndarray) -> int:
    """How far ahead the passes prefetch: ``PREFETCH_DISTANCE``, or 0 when plateaus are long.

    Long plateaus of equal values (binary masks, few quantised levels) are visited in raster order,
    where the hardware prefetcher already does the job and ours only costs time (a binary 512² mask:
    12.7 vs 10.8 ms; 96³: 67 vs 47 ms). ``fresh``: ``plateau_starts``.
    """
    return PREFETCH_DISTANCE if 16 * int(np.count_nonzero(fresh)) > len(fresh) else 0


@numba.njit(**_JIT)
def _inverse(order):
    n = order.shape[0]
    pos = np.empty(n + 1, dtype=np.int32)
    for t in range(n):
        if t + PREFETCH_DISTANCE < n:
            prefetch(pos, order[t + PREFETCH_DISTANCE])
        pos[order[t]] = t
    pos[n] = n  # the virtual outside node
    return pos


def inverse_permutation(order: np.ndarray) -> np.ndarray:
    """int32 ``pos`` with ``pos[order[t]] = t`` and one extra last entry ``n`` (the outside node)."""
    return _inverse(order)


def neighbour_offsets(ndim: int) -> np.ndarray:
    """``(k, 3)`` int64 ``(dz, dy, dx)`` offsets of all ``3**ndim - 1`` neighbours (8 in 2D, 26 in 3D).

    2D images are handled as ``(1, H, W)``, so their offsets have ``dz = 0``.
    """
    out = []
    rng_z = (-1, 0, 1) if ndim == 3 else (0,)
    for dz in rng_z:
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                if dz == dy == dx == 0:
                    continue
                out.append((dz, dy, dx))
    return np.asarray(out, dtype=np.int64)


def connectivity_bits(offsets: np.ndarray, full: bool) -> int:
    """Bitmask selecting the offsets of one connectivity: all of them (8/26) or the faces (4/6)."""
    bits = 0
    for j, off in enumerate(offsets):
        if full or int(np.abs(off).sum()) == 1:
            bits |= 1 << j
    return bits


BORDER_BIT = 30  # bit of ``neighbour_masks`` flagging pixels on the image border


@numba.njit(**_JIT)
def _find(parent, i):
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


@numba.njit(**_JIT)
def _flat_offsets(shape, offsets):
    out = np.empty(offsets.shape[0], dtype=np.int64)
    for j in range(offsets.shape[0]):
        out[j] = (offsets[j, 0] * shape[1] + offsets[j, 1]) * shape[2] + offsets[j, 2]
    return out


@numba.njit(**_JIT)
def _adjacency_masks(offsets, select):
    """``adj[j]``: bitmask of the selected neighbours adjacent to neighbour ``j`` (same connectivity).

    Two present neighbours of ``p`` that are adjacent to each other are already in one component,
    so after uniting ``p`` with one of them the other needs no ``find``.
    """
    k = offsets.shape[0]
    adj = np.zeros(k, dtype=np.uint32)
    for a in range(k):
        for b in range(k):
            if a == b or not (select >> b) & 1:
                continue
            dz = offsets[a, 0] - offsets[b, 0]
            dy = offsets[a, 1] - offsets[b, 1]
            dx = offsets[a, 2] - offsets[b, 2]
            for j in range(k):
                if (select >> j) & 1 and offsets[j, 0] == dz and offsets[j, 1] == dy and offsets[j, 2] == dx:
                    adj[a] |= np.uint32(1) << np.uint32(b)
    return adj


FULL_MASK = (1 << 26) - 1  # every neighbour bit (26 in 3D, 8 in 2D)


def join_table(offsets: np.ndarray, select: int) -> np.ndarray:
    """The ``table`` argument of the union-find passes: a lookup table in 2D, empty in 3D."""
    if len(offsets) == 8:
        return ring_representatives(offsets, select)
    return np.zeros(0, dtype=np.uint32)


def ring_representatives(offsets: np.ndarray, select: int) -> np.ndarray:
    """2D lookup table: for each 8-bit pattern of present neighbours, the ``select``-ed ones to join.

    Present neighbours that are connected to each other through present neighbours (with the
    connectivity of ``select``: 8 or 4) are already one component, so a new pixel needs one
    ``find`` per such group, not per neighbour. ``table[pattern]`` is the bitmask of one
    representative per group that touches the pixel (for 4-connectivity a group may link two face
    neighbours through a present corner). For 2D offsets only (8 neighbours); uint32, 256 entries.
    """
    k = len(offsets)
    if k != 8:
        raise ValueError(f"offsets: expected the 8 neighbours of a 2D pixel, got {k}")
    off = np.asarray(offsets)[:, 1:]
    face_step = int(select).bit_count() == 4
    table = np.zeros(256, dtype=np.uint32)
    for pattern in range(256):
        present = [j for j in range(k) if (pattern >> j) & 1]
        group = {j: j for j in present}

        def root(j):
            while group[j] != j:
                j = group[j]
            return j

        for a in present:
            for b in present:
                step = np.abs(off[a] - off[b])
                if a < b and (step.sum() == 1 if face_step else step.max() == 1):
                    group[root(b)] = root(a)
        seen = set()
        for j in present:
            if (select >> j) & 1 and root(j) not in seen:
                seen.add(root(j))
                table[pattern] |= np.uint32(1 << j)
    return table


@numba.njit(inline="always", **_JIT)
def _border_mask(shape, pos, offsets, flat, z, y, x):
    """``neighbour_masks`` entry of a pixel on the border: only the neighbours inside the image."""
    D, H, W = shape[0], shape[1], shape[2]
    p = (z * H + y) * W + x
    pp = pos[p]
    m = np.uint32(1) << np.uint32(BORDER_BIT)
    for j in range(offsets.shape[0]):
        zz = z + offsets[j, 0]
        yy = y + offsets[j, 1]
        xx = x + offsets[j, 2]
        if zz < 0 or zz >= D or yy < 0 or yy >= H or xx < 0 or xx >= W:
            continue
        if pos[p + flat[j]] < pp:
            m |= np.uint32(1) << np.uint32(j)
    return m


@numba.njit(**_JIT)
def neighbour_masks(shape, pos, offsets):
    """uint32 per pixel: bit ``j`` set when neighbour ``j`` exists and enters **earlier** (``pos`` smaller).

    Bit ``BORDER_BIT`` flags pixels on the border (in 2D, given as ``(1, H, W)``, only rows/columns
    count). Computed in raster order (cache friendly), so the filtration-order passes read one word
    per pixel instead of probing every neighbour at random.
    """
    D, H, W = shape[0], shape[1], shape[2]
    n = D * H * W
    k = offsets.shape[0]
    planar = True
    for j in range(k):
        if offsets[j, 0] != 0:
            planar = False
    flat = _flat_offsets(shape, offsets)
    masks = np.empty(n, dtype=np.uint32)
    for z in range(D):
        z_in = planar or (0 < z < D - 1)
        for y in range(H):
            row = (z * H + y) * W
            if not (z_in and 0 < y < H - 1) or W < 3:
                for x in range(W):
                    masks[row + x] = _border_mask(shape, pos, offsets, flat, z, y, x)
                continue
            masks[row] = _border_mask(shape, pos, offsets, flat, z, y, 0)
            masks[row + W - 1] = _border_mask(shape, pos, offsets, flat, z, y, W - 1)
            # interior: every neighbour row as a slice read with unsigned indices, so the loads
            # stay contiguous and vectorise (signed indices made numba emit gathers: 128³ 34 -> 18 ms)
            base = row + 1
            m_len = W - 2
            here = pos[base: base + m_len]
            out = masks[base: base + m_len]
            if k == 8:
                # 2D: the eight offsets written out, one pass along the row
                s0 = pos[base + flat[0]: base + flat[0] + m_len]
                s1 = pos[base + flat[1]: base + flat[1] + m_len]
                s2 = pos[base + flat[2]: base + flat[2] + m_len]
                s3 = pos[base + flat[3]: base + flat[3] + m_len]
                s4 = pos[base + flat[4]: base + flat[4] + m_len]
                s5 = pos[base + flat[5]: base + flat[5] + m_len]
                s6 = pos[base + flat[6]: base + flat[6] + m_len]
                s7 = pos[base + flat[7]: base + flat[7] + m_len]
                for x in range(m_len):
                    i = np.uint64(x)
                    pp = here[i]
                    m = np.uint32(s0[i] < pp)
                    m |= np.uint32(s1[i] < pp) << np.uint32(1)
                    m |= np.uint32(s2[i] < pp) << np.uint32(2)
                    m |= np.uint32(s3[i] < pp) << np.uint32(3)
                    m |= np.uint32(s4[i] < pp) << np.uint32(4)
                    m |= np.uint32(s5[i] < pp) << np.uint32(5)
                    m |= np.uint32(s6[i] < pp) << np.uint32(6)
                    m |= np.uint32(s7[i] < pp) << np.uint32(7)
                    out[i] = m
            else:
                # one pass along the row per neighbour, each setting its bit
                s = pos[base + flat[0]: base + flat[0] + m_len]
                for x in range(m_len):
                    i = np.uint64(x)
                    out[i] = np.uint32(s[i] < here[i])
                for j in range(1, k):
                    s = pos[base + flat[j]: base + flat[j] + m_len]
                    bit = np.uint32(j)
                    for x in range(m_len):
                        i = np.uint64(x)
                        out[i] |= np.uint32(s[i] < here[i]) << bit
    return masks


@numba.njit(inline="always", **_JIT)
def _root(parent, i):
    """Root of ``i`` in a forest whose roots hold ``-(rank + 1)`` (their age); path halving."""
    while True:
        up = parent[i]
        if up < 0:
            return i
        upup = parent[up]
        if upup < 0:
            return np.int64(up)
        parent[i] = upup
        i = np.int64(upup)


@numba.njit(inline="always", **_JIT)
def _join_neighbours(parent, flat, adj, p, rp, age_p, plateau, todo, births, deaths, m, superlevel):
    """Unite the new pixel ``p`` (root ``rp`` of age ``age_p``) with its present neighbours ``todo``.

    ``parent`` holds, at each root, ``-(age + 1)`` where *age* is the rank at which the root's pixel
    entered this pass; elder rule: the smaller age survives. A merge that kills a component born
    before ``plateau`` (the first rank with the current pixel's value) records a pair: ``(younger, p)``
    in the superlevel pass, ``(p, younger)`` by duality in the sublevel one. Present neighbours
    adjacent to one already united (``adj``) are in its component and need no ``find``. Returns the pair count.
    """
    while todo:
        j = np.int64(_ctz(todo))
        # j and the present neighbours adjacent to it are one component: one find for all
        todo &= ~((np.uint32(1) << np.uint32(j)) | adj[j])
        rq = _root(parent, p + flat[j])
        if rq == rp:
            continue
        age_q = -np.int64(parent[rq]) - 1
        if age_q < age_p:
            elder, younger, age_y, age_e = rq, rp, age_p, age_q
        else:
            elder, younger, age_y, age_e = rp, rq, age_q, age_p
        if age_y < plateau:
            if superlevel:
                births[m] = younger
                deaths[m] = p
            else:
                births[m] = p
                deaths[m] = younger
            m += 1
        parent[younger] = elder
        rp = elder
        age_p = age_e
    return m


@numba.njit(**_JIT)
def dim0_pairs(fresh, shape, order, masks, offsets, select, table, ahead):
    """Dimension-0 pairs of the superlevel filtration; see the module docstring.

    Args:
        fresh: ``plateau_starts(values, order)`` of the flat float64 C-order image.
        shape: ``(D, H, W)`` int64 (``D = 1`` for 2D).
        order: from ``radix_argsort_decreasing``.
        masks: from ``neighbour_masks(shape, pos, offsets)``.
        offsets: ``neighbour_offsets(ndim)``; ``select``: ``connectivity_bits`` of the foreground
            (8/26 for ``"full"``, 4/6 for ``"face"``).
        table: ``join_table(offsets, select)``.
        ahead: prefetch distance in pixels (``prefetch_distance(fresh)``; 0: off).

    Returns:
        ``(births, deaths, essential_birth)``: int64 flat indices of the finite pairs and the birth
        pixel of the one essential class.
    """
    n = order.shape[0]
    flat = _flat_offsets(shape, offsets)
    use_table = table.shape[0] == 256
    adj = np.zeros(offsets.shape[0], dtype=np.uint32) if use_table else _adjacency_masks(offsets, select)
    sel = np.uint32(select)
    parent = np.empty(n, dtype=np.int32)
    cap = n // 2 + 2
    births = np.empty(cap, dtype=np.int64)
    deaths = np.empty(cap, dtype=np.int64)
    m = 0
    plateau = 0
    for t in range(n):
        if ahead and t + ahead < n:
            q = np.int64(order[t + ahead])
            prefetch(masks, q)
            prefetch_neighbourhood(parent, q, shape)
        p = np.int64(order[t])
        if fresh[t]:
            plateau = t
        parent[p] = -t - 1
        mk = masks[p]
        todo = table[mk & np.uint32(255)] if use_table else mk & sel
        m = _join_neighbours(parent, flat, adj, p, p, np.int64(t), plateau, todo, births, deaths, m, True)
    return births[:m].copy(), deaths[:m].copy(), np.int64(order[0])


@numba.njit(inline="always", **_JIT)
def _ctz(v):
    """Index of the lowest set bit of a non-zero uint32 (one ``tzcnt`` instruction)."""
    return trailing_zeros(v)


@numba.njit(**_JIT)
def _existing(shape, p, offsets, select):
    """Bitmask of the selected neighbours of a border pixel ``p`` that lie inside the image."""
    D, H, W = shape[0], shape[1], shape[2]
    HW = H * W
    z = p // HW
    rem = p - z * HW
    y = rem // W
    x = rem - y * W
    out = np.uint32(0)
    for j in range(offsets.shape[0]):
        if not (select >> j) & 1:
            continue
        zz = z + offsets[j, 0]
        yy = y + offsets[j, 1]
        xx = x + offsets[j, 2]
        if 0 <= zz < D and 0 <= yy < H and 0 <= xx < W:
            out |= np.uint32(1) << np.uint32(j)
    return out


@numba.njit(**_JIT)
def top_dim_pairs(fresh, shape, order, masks, offsets, select, table, ahead):
    """Dimension ``d - 1`` pairs (holes / cavities) by duality; see the module docstring.

    Same arguments as ``dim0_pairs``; ``select`` is the *background* connectivity (4/6 for
    ``"full"``, 8/26 for ``"face"``). Returns ``(births, deaths)`` int64 flat indices.
    """
    n = order.shape[0]
    flat = _flat_offsets(shape, offsets)
    use_table = table.shape[0] == 256
    adj = np.zeros(offsets.shape[0], dtype=np.uint32) if use_table else _adjacency_masks(offsets, select)
    sel = np.uint32(select)
    border_flag = np.uint32(1) << np.uint32(BORDER_BIT)
    outside = n
    parent = np.empty(n + 1, dtype=np.int32)
    parent[outside] = -1  # age 0: older than every pixel
    cap = n // 2 + 2
    births = np.empty(cap, dtype=np.int64)
    deaths = np.empty(cap, dtype=np.int64)
    m = 0
    plateau = 1
    for t in range(n - 1, -1, -1):
        if ahead and t >= ahead:
            q = np.int64(order[t - ahead])
            prefetch(masks, q)
            prefetch_neighbourhood(parent, q, shape)
        p = np.int64(order[t])
        age = np.int64(n - t)
        if t == n - 1 or fresh[t + 1]:
            plateau = age
        mk = masks[p]
        if mk & border_flag:
            # The outside is older than everything: p joins it at once (a zero-persistence pair).
            parent[p] = outside
            rp = np.int64(outside)
            age_p = np.int64(0)
            later = _existing(shape, p, offsets, FULL_MASK) & ~mk
        else:
            parent[p] = -age - 1
            rp = p
            age_p = age
            later = ~mk
        todo = table[later & np.uint32(255)] if use_table else later & sel
        # Neighbours that enter earlier in the *increasing* order are the ones not earlier in `order`.
        m = _join_neighbours(parent, flat, adj, p, rp, age_p, plateau, todo, births, deaths, m, False)
    return births[:m].copy(), deaths[:m].copy()
