"""Union-find kernels of the fast backend (numba, ``nogil``): dimension 0 and, by duality, ``d - 1``.

Shared with the Betti-matching code, so the kernels are plain functions on flat arrays:

* ``values``: the image as a flat C-order float64 array; 2D images are treated as ``(1, H, W)``.
* ``order``: int32 pixel indices sorted by **decreasing** value, ties by increasing C-order index
  (``radix_argsort_decreasing``). This total order is the filtration order of the superlevel sets.
* ``pos``: int32 inverse of ``order`` (``pos[order[t]] = t``), with one extra entry for the virtual
  "outside" node used by the duality pass.

Dimension 0 (``dim0_pairs``): pixels enter in ``order``; each merges with the already-present
neighbours (``offsets``: 8/26 for ``"full"``, 4/6 for ``"face"``); the elder rule kills the younger
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

__all__ = [
    "radix_argsort_decreasing",
    "inverse_permutation",
    "neighbour_offsets",
    "dim0_pairs",
    "top_dim_pairs",
]

_JIT = dict(cache=True, nogil=True)


@numba.njit(**_JIT)
def _sort_keys(bits):
    """uint64 keys whose ascending order is the *decreasing* order of the float64 ``bits`` (-0.0 == 0.0)."""
    n = bits.shape[0]
    keys = np.empty(n, dtype=np.uint64)
    sign = np.uint64(1) << np.uint64(63)
    for i in range(n):
        b = bits[i]
        if b == sign:  # -0.0
            b = np.uint64(0)
        if b & sign:
            k = ~b
        else:
            k = b | sign
        keys[i] = ~k
    return keys


@numba.njit(**_JIT)
def _radix_argsort(keys):
    """Stable LSD radix argsort of uint64 keys, 16-bit digits; digits that are constant are skipped."""
    n = keys.shape[0]
    hist = np.zeros((4, 65536), dtype=np.int64)
    for i in range(n):
        k = keys[i]
        hist[0, k & np.uint64(0xFFFF)] += 1
        hist[1, (k >> np.uint64(16)) & np.uint64(0xFFFF)] += 1
        hist[2, (k >> np.uint64(32)) & np.uint64(0xFFFF)] += 1
        hist[3, (k >> np.uint64(48)) & np.uint64(0xFFFF)] += 1
    src = np.arange(n).astype(np.int32)
    dst = np.empty(n, dtype=np.int32)
    for d in range(4):
        constant = False
        for b in range(65536):
            if hist[d, b] == n:
                constant = True
                break
            if hist[d, b] != 0:
                break
        if constant:
            continue
        # exclusive prefix sums
        total = 0
        for b in range(65536):
            c = hist[d, b]
            hist[d, b] = total
            total += c
        shift = np.uint64(16 * d)
        for t in range(n):
            i = src[t]
            b = (keys[i] >> shift) & np.uint64(0xFFFF)
            dst[hist[d, b]] = i
            hist[d, b] += 1
        src, dst = dst, src
    return src


def radix_argsort_decreasing(values: np.ndarray) -> np.ndarray:
    """int32 indices sorting flat float64 ``values`` by decreasing value, ties by increasing index.

    Same result as ``np.argsort(-values, kind="stable")`` (with ``-0.0 == 0.0``), in linear time.
    """
    values = np.ascontiguousarray(values, dtype=np.float64).ravel()
    if values.size >= 2**31 - 1:
        raise ValueError(f"image: expected fewer than 2**31 - 1 pixels, got {values.size}")
    return _radix_argsort(_sort_keys(values.view(np.uint64)))


@numba.njit(**_JIT)
def _inverse(order):
    n = order.shape[0]
    pos = np.empty(n + 1, dtype=np.int32)
    for t in range(n):
        pos[order[t]] = t
    pos[n] = n  # the virtual outside node
    return pos


def inverse_permutation(order: np.ndarray) -> np.ndarray:
    """int32 ``pos`` with ``pos[order[t]] = t`` and one extra last entry ``n`` (the outside node)."""
    return _inverse(order)


def neighbour_offsets(ndim: int, full: bool) -> np.ndarray:
    """``(k, 3)`` int64 ``(dz, dy, dx)`` offsets: all ``3**ndim - 1`` neighbours if ``full``, else faces only.

    2D images are handled as ``(1, H, W)``, so their offsets have ``dz = 0``.
    """
    out = []
    rng_z = (-1, 0, 1) if ndim == 3 else (0,)
    for dz in rng_z:
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                if dz == dy == dx == 0:
                    continue
                if not full and abs(dz) + abs(dy) + abs(dx) != 1:
                    continue
                out.append((dz, dy, dx))
    return np.asarray(out, dtype=np.int64)


@numba.njit(**_JIT)
def _find(parent, i):
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


@numba.njit(**_JIT)
def dim0_pairs(values, shape, order, pos, offsets):
    """Dimension-0 pairs of the superlevel filtration; see the module docstring.

    Args:
        values: flat float64 image (C order) of ``prod(shape)`` pixels.
        shape: ``(D, H, W)`` int64 (``D = 1`` for 2D).
        order, pos: from ``radix_argsort_decreasing`` / ``inverse_permutation``.
        offsets: ``(k, 3)`` neighbour offsets of the foreground.

    Returns:
        ``(births, deaths, essential_birth)``: int64 flat indices of the finite pairs and the birth
        pixel of the one essential class.
    """
    D, H, W = shape[0], shape[1], shape[2]
    HW = H * W
    n = order.shape[0]
    parent = np.empty(n, dtype=np.int32)
    cap = n // 2 + 2
    births = np.empty(cap, dtype=np.int64)
    deaths = np.empty(cap, dtype=np.int64)
    m = 0
    k = offsets.shape[0]
    for t in range(n):
        p = order[t]
        parent[p] = p
        rp = p
        z = p // HW
        rem = p - z * HW
        y = rem // W
        x = rem - y * W
        for j in range(k):
            zz = z + offsets[j, 0]
            yy = y + offsets[j, 1]
            xx = x + offsets[j, 2]
            if zz < 0 or zz >= D or yy < 0 or yy >= H or xx < 0 or xx >= W:
                continue
            q = zz * HW + yy * W + xx
            if pos[q] >= t:
                continue
            rq = _find(parent, q)
            if rq == rp:
                continue
            if pos[rq] < pos[rp]:
                elder = rq
                younger = rp
            else:
                elder = rp
                younger = rq
            if values[younger] != values[p]:
                births[m] = younger
                deaths[m] = p
                m += 1
            parent[younger] = elder
            rp = elder
    return births[:m].copy(), deaths[:m].copy(), np.int64(order[0])


@numba.njit(**_JIT)
def top_dim_pairs(values, shape, order, pos, offsets):
    """Dimension ``d - 1`` pairs (holes / cavities) by duality; see the module docstring.

    ``offsets`` are the *background* neighbour offsets (4/6 for ``"full"``, 8/26 for ``"face"``).
    ``pos`` must have the extra outside entry. Returns ``(births, deaths)`` int64 flat indices.
    """
    D, H, W = shape[0], shape[1], shape[2]
    HW = H * W
    n = order.shape[0]
    outside = n
    parent = np.empty(n + 1, dtype=np.int32)
    parent[outside] = outside
    cap = n // 2 + 2
    births = np.empty(cap, dtype=np.int64)
    deaths = np.empty(cap, dtype=np.int64)
    m = 0
    k = offsets.shape[0]
    # 2D images come as (1, H, W) with planar offsets: then z is not a border.
    planar = True
    for j in range(k):
        if offsets[j, 0] != 0:
            planar = False
    for t in range(n - 1, -1, -1):
        p = order[t]
        parent[p] = p
        rp = p
        z = p // HW
        rem = p - z * HW
        y = rem // W
        x = rem - y * W
        on_border = (z == 0 or z == D - 1 or y == 0 or y == H - 1 or x == 0 or x == W - 1)
        if planar:
            on_border = y == 0 or y == H - 1 or x == 0 or x == W - 1
        if on_border:
            # The outside is older than everything: p joins it and dies at once (zero persistence).
            parent[p] = outside
            rp = outside
        for j in range(k):
            zz = z + offsets[j, 0]
            yy = y + offsets[j, 1]
            xx = x + offsets[j, 2]
            if zz < 0 or zz >= D or yy < 0 or yy >= H or xx < 0 or xx >= W:
                continue
            q = zz * HW + yy * W + xx
            if pos[q] <= t:
                continue
            rq = _find(parent, q)
            if rq == rp:
                continue
            if pos[rq] > pos[rp]:
                elder = rq
                younger = rp
            else:
                elder = rp
                younger = rq
            if values[younger] != values[p]:
                births[m] = p
                deaths[m] = younger
                m += 1
            parent[younger] = elder
            rp = elder
    return births[:m].copy(), deaths[:m].copy()
