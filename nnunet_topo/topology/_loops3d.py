"""Dimension 1 of a 3D image, T-construction: our own boundary-matrix reduction (numba, Z/2).

Cells of the cubical complex of a ``(D, H, W)`` image (voxels are the top cells) get compact int
indices per type:

* squares perpendicular to z / y / x: blocks of shapes ``(D+1, H, W)``, ``(D, H+1, W)``,
  ``(D, H, W+1)`` (a square sits between two voxels, or a voxel and the outside);
* edges along z / y / x: blocks of shapes ``(D, H+1, W+1)``, ``(D+1, H, W+1)``, ``(D+1, H+1, W)``.

A cell enters the superlevel filtration with the first of its voxels, so its *key* is the smallest
``pos`` (filtration rank of a voxel) among its voxels; cells are ordered by ``(key, compact index)``,
which refines the filtration (a face's key is never larger than its coface's, and within one key
edges come before squares because they are different columns/rows of the matrix).

1. **Clearing by duality.** Squares are visited in decreasing order with a union-find on voxels plus
   an outside node: a square joining two components is *positive* (it creates a 2-cycle that a voxel
   fills, a dimension-2 pair) and is skipped; the others are *negative* and are reduced.
2. **Reduction.** Negative squares in increasing order; a column is the sorted list of its edges
   (encoded ``key << 32 | (n_edges - 1 - index)``: within one key, smaller compact edge indices
   are younger, which makes more pairs apparent); while its pivot (youngest edge) is owned by an
   earlier column, that column is added (symmetric difference). The final pivot edge ``e`` and square ``s`` form the
   pair: born at the voxel bringing ``e`` in, dying at the voxel bringing ``s`` in.

Only reduced columns that differ from their boundary are stored (int64 entries); with the int32
tables this measured 113–144 bytes per voxel at 64³–128³ (docs/benchmarks.md).
"""
from __future__ import annotations

import numba
import numpy as np

from ._union_find import _find

__all__ = ["loops_3d_full"]

_JIT = dict(cache=True, nogil=True)
_LOW = np.int64(0xFFFFFFFF)


@numba.njit(inline="always", **_JIT)
def _vox(z, y, x, D, H, W):
    return (z * H + y) * W + x


@numba.njit(**_JIT)
def _square_edges(s, D, H, W, out):
    """The 4 compact edges of compact square ``s`` into ``out``."""
    nz_e = D * (H + 1) * (W + 1)
    ny_e = (D + 1) * H * (W + 1)
    sz = (D + 1) * H * W
    sy = D * (H + 1) * W
    if s < sz:  # perpendicular to z at plane c: edges along y and x
        c = s // (H * W)
        r = s - c * H * W
        y = r // W
        x = r - y * W
        out[0] = nz_e + (c * H + y) * (W + 1) + x
        out[1] = nz_e + (c * H + y) * (W + 1) + x + 1
        out[2] = nz_e + ny_e + (c * (H + 1) + y) * W + x
        out[3] = nz_e + ny_e + (c * (H + 1) + y + 1) * W + x
        return
    s -= sz
    if s < sy:  # perpendicular to y at plane c: edges along z and x
        z = s // ((H + 1) * W)
        r = s - z * (H + 1) * W
        c = r // W
        x = r - c * W
        out[0] = (z * (H + 1) + c) * (W + 1) + x
        out[1] = (z * (H + 1) + c) * (W + 1) + x + 1
        out[2] = nz_e + ny_e + (z * (H + 1) + c) * W + x
        out[3] = nz_e + ny_e + ((z + 1) * (H + 1) + c) * W + x
        return
    s -= sy  # perpendicular to x at plane c: edges along z and y
    z = s // (H * (W + 1))
    r = s - z * H * (W + 1)
    y = r // (W + 1)
    c = r - y * (W + 1)
    out[0] = (z * (H + 1) + y) * (W + 1) + c
    out[1] = (z * (H + 1) + y + 1) * (W + 1) + c
    out[2] = nz_e + (z * H + y) * (W + 1) + c
    out[3] = nz_e + ((z + 1) * H + y) * (W + 1) + c


@numba.njit(**_JIT)
def _negative_squares(order, pos, D, H, W):
    """Compact indices of the negative squares, in increasing filtration order (clearing by duality)."""
    n = order.shape[0]
    outside = n
    parent = np.empty(n + 1, dtype=np.int32)
    for i in range(n + 1):
        parent[i] = i
    sz = (D + 1) * H * W
    sy = D * (H + 1) * W
    n_sq = sz + sy + D * H * (W + 1)
    neg = np.empty(n_sq - n + 1, dtype=np.int32)  # exactly n squares are positive
    m = 0
    sq = np.empty(6, dtype=np.int64)
    other = np.empty(6, dtype=np.int64)
    for t in range(n - 1, -1, -1):
        p = order[t]
        z = p // (H * W)
        r = p - z * H * W
        y = r // W
        x = r - y * W
        k = 0
        q = np.int64(0)
        # the six faces of p whose other side enters later (or is the outside): their key is t
        for a in range(3):
            for side in range(2):
                if a == 0:
                    c = z + side
                    s = (c * H + y) * W + x
                    inside = 0 < c < D
                    if inside:
                        q = _vox(z - 1 + 2 * side, y, x, D, H, W)
                elif a == 1:
                    c = y + side
                    s = sz + (z * (H + 1) + c) * W + x
                    inside = 0 < c < H
                    if inside:
                        q = _vox(z, y - 1 + 2 * side, x, D, H, W)
                else:
                    c = x + side
                    s = sz + sy + (z * H + y) * (W + 1) + c
                    inside = 0 < c < W
                    if inside:
                        q = _vox(z, y, x - 1 + 2 * side, D, H, W)
                if inside:
                    if pos[q] < t:
                        continue  # key is pos[q], visited with q
                    o = q
                else:
                    o = outside
                # insertion by decreasing square index (the order within one key)
                j = k
                while j > 0 and sq[j - 1] < s:
                    sq[j] = sq[j - 1]
                    other[j] = other[j - 1]
                    j -= 1
                sq[j] = s
                other[j] = o
                k += 1
        for j in range(k):
            ra = _find(parent, p)
            rb = _find(parent, other[j])
            if ra != rb:
                parent[ra] = rb  # positive square: cleared
            else:
                neg[m] = sq[j]
                m += 1
    out = neg[:m][::-1].copy()
    return out


@numba.njit(**_JIT)
def _xor_sorted_desc(a, la, b, lb, out):
    """Symmetric difference of two strictly decreasing int64 runs into ``out``; returns its length."""
    i = 0
    j = 0
    k = 0
    while i < la and j < lb:
        if a[i] > b[j]:
            out[k] = a[i]
            i += 1
            k += 1
        elif a[i] < b[j]:
            out[k] = b[j]
            j += 1
            k += 1
        else:
            i += 1
            j += 1
    while i < la:
        out[k] = a[i]
        i += 1
        k += 1
    while j < lb:
        out[k] = b[j]
        j += 1
        k += 1
    return k


@numba.njit(inline="always", **_JIT)
def _pos_at(pos, a, nrm, u, w, D, H, W):
    """pos of the voxel at normal coordinate ``nrm`` and in-plane ``(u, w)`` of a square with normal ``a``."""
    if a == 0:
        z, y, x = nrm, u, w
    elif a == 1:
        z, y, x = u, nrm, w
    else:
        z, y, x = u, w, nrm
    if z < 0 or z >= D or y < 0 or y >= H or x < 0 or x >= W:
        return _BIG
    return np.int64(pos[(z * H + y) * W + x])


_BIG = np.int64(1) << np.int64(40)


@numba.njit(**_JIT)
def _boundary(s, pos, D, H, W, edges, out):
    """Encoded boundary (``key << 32 | edge id``) of square ``s``, decreasing, into ``out``; returns its key.

    A square with normal ``a`` at plane ``c`` and in-plane voxel coordinates ``(u, w)`` (the two other
    axes in z, y, x order) touches voxels at normal coordinates ``c - 1`` and ``c``; its edges along
    ``u`` sit at ``w`` and ``w + 1`` and its edges along ``w`` at ``u`` and ``u + 1``.
    """
    _square_edges(s, D, H, W, edges)
    # Within one key, the edge with the *smaller* compact index is the younger: with this refinement
    # a square's youngest edge is more often one no earlier square owns (an apparent pair), which
    # cut the columns that need additions 14-fold on a smooth 64³ field and the time by 7-25 %
    # (docs/benchmarks.md). Any refinement gives the same pairs of keys.
    n_edges = D * (H + 1) * (W + 1) + (D + 1) * H * (W + 1) + (D + 1) * (H + 1) * W
    for i in range(4):
        edges[i] = n_edges - 1 - edges[i]
    sz = (D + 1) * H * W
    sy = D * (H + 1) * W
    if s < sz:
        a = 0
        c = s // (H * W)
        r = s - c * H * W
        u = r // W
        w = r - u * W
    elif s < sz + sy:
        a = 1
        t = s - sz
        u = t // ((H + 1) * W)
        r = t - u * (H + 1) * W
        c = r // W
        w = r - c * W
    else:
        a = 2
        t = s - sz - sy
        u = t // (H * (W + 1))
        r = t - u * H * (W + 1)
        w = r // (W + 1)
        c = r - w * (W + 1)
    # pos of the voxels around the square (normal c-1 and c; in-plane centre and its 4 neighbours)
    c0 = _pos_at(pos, a, c - 1, u, w, D, H, W)
    c1 = _pos_at(pos, a, c, u, w, D, H, W)
    wm = min(_pos_at(pos, a, c - 1, u, w - 1, D, H, W), _pos_at(pos, a, c, u, w - 1, D, H, W))
    wp = min(_pos_at(pos, a, c - 1, u, w + 1, D, H, W), _pos_at(pos, a, c, u, w + 1, D, H, W))
    um = min(_pos_at(pos, a, c - 1, u - 1, w, D, H, W), _pos_at(pos, a, c, u - 1, w, D, H, W))
    up = min(_pos_at(pos, a, c - 1, u + 1, w, D, H, W), _pos_at(pos, a, c, u + 1, w, D, H, W))
    centre = min(c0, c1)
    # _square_edges order, the same for every normal: along u at w and w + 1, along w at u and u + 1
    keys = (min(centre, wm), min(centre, wp), min(centre, um), min(centre, up))
    out[0] = (keys[0] << 32) | edges[0]
    out[1] = (keys[1] << 32) | edges[1]
    out[2] = (keys[2] << 32) | edges[2]
    out[3] = (keys[3] << 32) | edges[3]
    for i in range(1, 4):
        v = out[i]
        j = i
        while j > 0 and out[j - 1] < v:
            out[j] = out[j - 1]
            j -= 1
        out[j] = v
    return centre


@numba.njit(**_JIT)
def loops_3d_full(values, shape, order, pos):
    """Finite dimension-1 pairs of a 3D image (T-construction) as flat voxel indices (births, deaths).

    ``values`` flat float64 C order, ``shape`` int64 ``(D, H, W)``, ``order``/``pos`` as in
    ``_union_find``. Zero-persistence pairs are left out.
    """
    D, H, W = shape[0], shape[1], shape[2]
    n_edges = D * (H + 1) * (W + 1) + (D + 1) * H * (W + 1) + (D + 1) * (H + 1) * W
    neg = _negative_squares(order, pos, D, H, W)
    owner = np.full(n_edges, -1, dtype=np.int32)  # >= 0: stored column slot; <= -2: boundary of square
    starts = np.empty(1024, dtype=np.int64)
    lengths = np.empty(1024, dtype=np.int64)
    store = np.empty(4096, dtype=np.int64)
    n_slots = 0
    used = 0
    births = np.empty(1024, dtype=np.int64)
    deaths = np.empty(1024, dtype=np.int64)
    m = 0
    edges = np.empty(4, dtype=np.int64)
    col = np.empty(64, dtype=np.int64)
    tmp = np.empty(64, dtype=np.int64)
    other = np.empty(4, dtype=np.int64)
    for i in range(neg.shape[0]):
        s = np.int64(neg[i])
        s_key = _boundary(s, pos, D, H, W, edges, col)
        lc = 4
        original = True
        while lc > 0:
            piv = col[0]
            e = piv & _LOW
            o = owner[e]
            if o == -1:
                break
            if o <= -2:
                _boundary(np.int64(-(o + 2)), pos, D, H, W, edges, other)
                ln = 4
            else:
                ln = lengths[o]
            if tmp.shape[0] < lc + ln:
                cap = 2 * (lc + ln)
                grown = np.empty(cap, dtype=np.int64)
                grown[:lc] = col[:lc]
                col = grown
                tmp = np.empty(cap, dtype=np.int64)
            if o <= -2:
                lc = _xor_sorted_desc(col, lc, other, ln, tmp)
            else:
                st = starts[o]
                lc = _xor_sorted_desc(col, lc, store[st:st + ln], ln, tmp)
            col, tmp = tmp, col
            original = False
        if lc == 0:
            continue  # a positive square missed by clearing (cannot happen; harmless)
        piv = col[0]
        e = piv & _LOW
        if original:
            owner[e] = -(s + 2)
        else:
            if n_slots == starts.shape[0]:
                starts2 = np.empty(2 * n_slots, dtype=np.int64)
                lengths2 = np.empty(2 * n_slots, dtype=np.int64)
                starts2[:n_slots] = starts[:n_slots]
                lengths2[:n_slots] = lengths[:n_slots]
                starts, lengths = starts2, lengths2
            if used + lc > store.shape[0]:
                store2 = np.empty(2 * (used + lc), dtype=np.int64)
                store2[:used] = store[:used]
                store = store2
            store[used:used + lc] = col[:lc]
            starts[n_slots] = used
            lengths[n_slots] = lc
            used += lc
            owner[e] = n_slots
            n_slots += 1
        b = order[piv >> 32]
        d = order[s_key]
        if values[b] != values[d]:
            if m == births.shape[0]:
                births2 = np.empty(2 * m, dtype=np.int64)
                deaths2 = np.empty(2 * m, dtype=np.int64)
                births2[:m] = births
                deaths2[:m] = deaths
                births, deaths = births2, deaths2
            births[m] = b
            deaths[m] = d
            m += 1
    return births[:m].copy(), deaths[:m].copy()
