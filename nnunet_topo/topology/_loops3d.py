"""Dimension 1 of a 3D image, T-construction: our own boundary-matrix reduction (numba, Z/2).

The cubical complex of a ``(D, H, W)`` image has the voxels as top cells. Compact cell indices:

* squares perpendicular to z / y / x: blocks of shapes ``(D+1, H, W)``, ``(D, H+1, W)``,
  ``(D, H, W+1)``;
* edges along z / y / x: blocks of shapes ``(D, H+1, W+1)``, ``(D+1, H, W+1)``, ``(D+1, H+1, W)``.

A cell enters the superlevel filtration with the first of its voxels, its *owner*; its *key* is the
owner's rank ``pos``. Cells with one key (one owner voxel ``p``) are ordered by their *slot* in
``p``: the six faces of ``p`` (``Zl, Zu, Yl, Yu, Xl, Xu``: below/above ``p`` along each axis) by
``FACE_RANK``, its twelve edges by ``EDGE_RANK`` (any fixed ranks refine the filtration: squares and
edges are different columns and rows, and the pairs of keys do not depend on the refinement). The
ranks were chosen, by a search over rank tables on smooth, vessel-like and near-binary fields, to
make as many pairs *apparent* as possible: 99.2 / 94.9 / 85.4 % of the negative squares of the
benchmark's 128³ fields, against 96.9 / 88.0 / 75.1 % (64³) with ranks by compact index. Corners
are ranked by ``VERTEX_RANK``, searched the same way for the most apparent pairs of dimension 0.

The work is three passes plus a reduction of what is left:

1. **Local pass (raster order).** The owned faces and edges of a voxel follow from its neighbour
   mask (the engine's ``neighbour_masks``: which of the 26 neighbours enter earlier). A square ``s``
   owned by ``p`` and its youngest edge ``e`` are an *apparent pair* when ``s`` is also the oldest
   square containing ``e``: then the column of ``s`` is reduced as it stands and ``(e, s)`` is a
   (zero-persistence) pair (Bauer 2021, "Ripser", Lemma 3.3). Whether a face of ``p`` is apparent
   depends only on the 18 neighbours of ``p`` that share a face or an edge with it: one lookup in a
   table of ``2**18`` entries, built once. The same pass marks the edges in apparent pairs of
   dimension 0 (an edge and its youngest corner): they kill a component, so they are never a
   pivot, and their rows are left out of every column ("compression", Bauer, Kerber & Reininghaus
   2014).
2. **Clearing by duality (decreasing filtration order).** A union-find on the voxels plus an
   outside node: a square joining two components is *positive* (it creates a 2-cycle that a voxel
   fills) and reduces to zero; the others are negative. The negative squares that are not apparent
   are the columns left to reduce. The same pass yields the cavities (dimension 2), so the engine
   does not run its own dimension-2 pass when it computes the loops.
3. **Reduction (raster order, lock-free)** of those columns only. A column is a max-heap of
   encoded edges ``key << 36 | rank << 32 | edge index`` (larger = younger) with lazy cancellation;
   while its pivot edge has an earlier owner, the owner's column is added (an apparent square's
   boundary, recomputed, or a stored reduced column); a later owner gives the pivot up and is
   reduced on (Morozov & Nigmetov 2020), which keeps the pairs of the standard order while the
   columns are taken in memory order. Only columns that needed additions are stored.

Limits: at most ``2**27`` voxels (``512**3``), so that keys fit the 64-bit encoding.
"""
from __future__ import annotations

from functools import lru_cache

import numba
import numpy as np

from ._prefetch import prefetch, prefetch_neighbourhood
from ._union_find import BORDER_BIT, _flat_offsets, _root, neighbour_offsets

__all__ = ["loops_3d_full", "drop_component_edges", "component_edge_marks", "apparent_table", "MAX_VOXELS", "DROPPED", "FACE_RANK",
           "EDGE_RANK", "VERTEX_RANK"]

_JIT = dict(cache=True, nogil=True)
MAX_VOXELS = 1 << 27
_LOW = np.int64(0xFFFFFFFF)
_LEN_MASK = _LOW  # the length in a stored column's header
_COMPACT_SLACK = 1 << 16  # dead store entries tolerated beyond an eighth of the live ones


def _neighbour_bit(dz: int, dy: int, dx: int) -> int:
    """Index of offset ``(dz, dy, dx)`` in ``neighbour_offsets(3)`` (lexicographic, centre left out)."""
    k = (dz + 1) * 9 + (dy + 1) * 3 + (dx + 1)
    return k if k < 13 else k - 1


# Face slots 0..5 of a voxel: Zl, Zu, Yl, Yu, Xl, Xu (the neighbour across the face, (dz, dy, dx)).
FACE_OFFSETS = np.array([(-1, 0, 0), (1, 0, 0), (0, -1, 0), (0, 1, 0), (0, 0, -1), (0, 0, 1)], np.int64)
FACE_BIT = np.array([_neighbour_bit(*o) for o in FACE_OFFSETS], np.int64)


def _edge_tables():
    """Edge slots ``base + 2 * b1 + b0`` of a voxel: Z-edges (base 0, b1 = dy, b0 = dx), Y-edges
    (base 4, b1 = dz, b0 = dx), X-edges (base 8, b1 = dz, b0 = dy); ``b = 1``: the upper side.

    Returns the face slot of each edge's ``b1`` axis and ``b0`` axis (the two faces of the voxel that
    contain the edge), the offset of the voxel diagonally across the edge and its neighbour bit.
    """
    axes = ((1, 2), (0, 2), (0, 1))  # the (b1, b0) axes of each edge type
    face_a, face_b, diag = [], [], []
    for base in range(3):
        a1, a0 = axes[base]
        for b1 in (0, 1):
            for b0 in (0, 1):
                face_a.append(2 * a1 + b1)
                face_b.append(2 * a0 + b0)
                off = [0, 0, 0]
                off[a1] = 2 * b1 - 1
                off[a0] = 2 * b0 - 1
                diag.append(off)
    diag = np.array(diag, np.int64)
    return (np.array(face_a, np.int64), np.array(face_b, np.int64), diag,
            np.array([_neighbour_bit(*o) for o in diag], np.int64))


EDGE_FACE_A, EDGE_FACE_B, EDGE_DIAG, EDGE_DIAG_BIT = _edge_tables()
# The four edge slots of each face slot.
FACE_EDGES = np.array([[j for j in range(12) if f in (EDGE_FACE_A[j], EDGE_FACE_B[j])] for f in range(6)],
                      np.int64)
# Order of the cells of one key: a larger rank is younger. Found by a hill-climbing search over the
# 6! x 12! rank tables that maximised the apparent pairs of 48³ smooth, vessel-like and near-binary
# fields (docs/topology.md, step 5); any ranks give the same diagrams.
FACE_RANK = np.array([0, 4, 5, 2, 3, 1], np.int64)
EDGE_RANK = np.array([9, 6, 8, 2, 3, 0, 10, 4, 1, 5, 11, 7], np.int64)


def _vertex_tables():
    """Corner slots ``4 bz + 2 by + bx`` of a voxel: the neighbour bits of the 7 other voxels around
    each corner, the oldest of the corner's three edges (by ``EDGE_RANK``) and that edge's other end."""
    corner_mask = np.zeros(8, np.int64)
    oldest_edge = np.zeros(8, np.int64)
    other_end = np.zeros(8, np.int64)
    for c in range(8):
        bz, by, bx = c >> 2, (c >> 1) & 1, c & 1
        for dz in (0, 2 * bz - 1):
            for dy in (0, 2 * by - 1):
                for dx in (0, 2 * bx - 1):
                    if (dz, dy, dx) != (0, 0, 0):
                        corner_mask[c] |= 1 << _neighbour_bit(dz, dy, dx)
        # the corner's Z-edge (by, bx), Y-edge (bz, bx) and X-edge (bz, by), and their other ends
        edges = (0 + 2 * by + bx, 4 + 2 * bz + bx, 8 + 2 * bz + by)
        ends = (c ^ 4, c ^ 2, c ^ 1)
        k = int(np.argmin([EDGE_RANK[j] for j in edges]))
        oldest_edge[c] = edges[k]
        other_end[c] = ends[k]
    return corner_mask, oldest_edge, other_end


CORNER_MASK, CORNER_OLDEST_EDGE, CORNER_OTHER_END = _vertex_tables()
# Order of the corners of one key (a larger rank is younger), searched like the ranks above for the
# most apparent pairs of dimension 0 (the rows compression leaves out): 92-99 % of the edges that
# kill a component on the 48³ fields, against 69-94 % with the corners in slot order.
VERTEX_RANK = np.array([1, 0, 2, 3, 4, 6, 7, 5], np.int64)
# For the i-th edge of face f: the neighbour bit of the edge's other face of the voxel, and the slot
# flip that moving across that face makes (2: the b1 axis, 1: the b0 axis). The voxel across f itself
# enters later than the face's owner, so it never owns the edge.
EDGE_OTHER_FACE_BIT = np.array([[FACE_BIT[EDGE_FACE_B[j]] if EDGE_FACE_A[j] == f else FACE_BIT[EDGE_FACE_A[j]]
                                 for j in FACE_EDGES[f]] for f in range(6)], np.int64)
EDGE_OTHER_FACE_FLIP = np.array([[1 if EDGE_FACE_A[j] == f else 2 for j in FACE_EDGES[f]] for f in range(6)],
                                np.int64)
# Face slots from the youngest to the oldest (the clearing pass's order inside one voxel).
FACES_YOUNGEST_FIRST = np.argsort(-FACE_RANK).astype(np.int64)


@numba.njit(**_JIT)
def _build_apparent_table(face_a, face_b, face_edges, face_rank, edge_rank):
    """uint32 per local configuration (bits 0-5: face neighbour enters later or is outside; bits
    6-17: the voxel diagonally across edge ``j`` does): bits 0-5 the apparent faces, and for each
    apparent face ``f`` its edge slot in bits ``6 + 4 f`` to ``9 + 4 f``."""
    table = np.zeros(1 << 18, dtype=np.uint32)
    for cfg in range(1 << 18):
        owned_e = 0
        for j in range(12):
            if (cfg >> face_a[j]) & 1 and (cfg >> face_b[j]) & 1 and (cfg >> (6 + j)) & 1:
                owned_e |= 1 << j
        entry = 0
        for f in range(6):
            if not (cfg >> f) & 1:
                continue
            best = -1
            best_rank = -1
            for i in range(4):
                j = face_edges[f, i]
                if (owned_e >> j) & 1 and edge_rank[j] > best_rank:
                    best = j
                    best_rank = edge_rank[j]
            if best < 0:
                continue  # the youngest edge is older than s: never an apparent pair
            g = face_a[best] if face_b[best] == f else face_b[best]
            if face_rank[g] > face_rank[f]:
                entry |= (1 << f) | (best << (6 + 4 * f))
        table[cfg] = entry
    return table


@lru_cache(maxsize=1)
def apparent_table() -> np.ndarray:
    """The ``2**18``-entry table of apparent faces (built once per process, about 5 ms)."""
    table = _build_apparent_table(EDGE_FACE_A, EDGE_FACE_B, FACE_EDGES, FACE_RANK, EDGE_RANK)
    table.setflags(write=False)
    return table


@numba.njit(inline="always", **_JIT)
def _config(mask):
    """The 18-bit local configuration of a voxel from its ``neighbour_masks`` word."""
    later = ~mask
    cfg = np.int64(0)
    for f in range(6):
        cfg |= np.int64((later >> np.uint32(FACE_BIT[f])) & np.uint32(1)) << f
    for j in range(12):
        cfg |= np.int64((later >> np.uint32(EDGE_DIAG_BIT[j])) & np.uint32(1)) << (6 + j)
    return cfg


@numba.njit(inline="always", **_JIT)
def _edge_index(z, y, x, j, H, W, nz_e, ny_e):
    """Compact index of edge slot ``j`` of voxel ``(z, y, x)``."""
    b1 = (j >> 1) & 1
    b0 = j & 1
    base = j >> 2
    if base == 0:
        return (z * (H + 1) + y + b1) * (W + 1) + x + b0
    if base == 1:
        return nz_e + ((z + b1) * H + y) * (W + 1) + x + b0
    return nz_e + ny_e + ((z + b1) * (H + 1) + y + b0) * W + x


DROPPED = np.int32(np.iinfo(np.int32).min)  # ``owner`` of an edge that kills a component (never a pivot)


@numba.njit(inline="always", **_JIT)
def drop_component_edges(mask, z, y, x, H, W, nz_e, ny_e, owner):
    """``owner[e] = DROPPED`` for the edges of voxel ``(z, y, x)`` (neighbour mask ``mask``) in an
    apparent pair ``(vertex, e)`` of dimension 0: edges that kill a component."""
    later = np.int64(~mask)
    for c in range(8):
        cm = CORNER_MASK[c]
        if later & cm != cm:
            continue  # an earlier voxel shares this corner: the corner is not ours
        w = CORNER_OTHER_END[c]
        cw = CORNER_MASK[w]
        if later & cw == cw and VERTEX_RANK[w] > VERTEX_RANK[c]:
            continue  # the edge's youngest vertex is the other end
        owner[_edge_index(z, y, x, CORNER_OLDEST_EDGE[c], H, W, nz_e, ny_e)] = DROPPED


@numba.njit(**_JIT)
def component_edge_marks(shape, masks):
    """int32 per compact edge: ``DROPPED`` for the edges in apparent pairs of dimension 0 (those
    that kill a component, :func:`drop_component_edges` over every voxel), -1 for the others."""
    D, H, W = shape[0], shape[1], shape[2]
    nz_e = D * (H + 1) * (W + 1)
    ny_e = (D + 1) * H * (W + 1)
    marks = np.full(nz_e + ny_e + (D + 1) * (H + 1) * W, -1, dtype=np.int32)
    p = 0
    for z in range(D):
        for y in range(H):
            for x in range(W):
                drop_component_edges(masks[p], z, y, x, H, W, nz_e, ny_e, marks)
                p += 1
    return marks


@numba.njit(**_JIT)
def _local_pass(shape, masks, table, owner):
    """Raster pass: ``owner[e] = -(code + 2)`` for every apparent pair ``(e, s)``, ``code = 8 p + f``
    naming square ``s`` by its owner voxel and face slot, and ``owner[e] = DROPPED`` for every edge
    in an apparent pair ``(vertex, e)`` of dimension 0; returns uint8 per voxel: its owned faces
    that are not apparent (the positive ones and the columns left to reduce).

    An edge that kills a component is never the pivot of a reduced square column, so its row may be
    left out of every column ("compression", Bauer, Kerber & Reininghaus 2014): shorter columns, the
    same pairs."""
    D, H, W = shape[0], shape[1], shape[2]
    nz_e = D * (H + 1) * (W + 1)
    ny_e = (D + 1) * H * (W + 1)
    todo = np.empty(D * H * W, dtype=np.uint8)
    p = 0
    for z in range(D):
        for y in range(H):
            for x in range(W):
                mask = masks[p]
                cfg = _config(mask)
                entry = np.int64(table[cfg])
                drop_component_edges(mask, z, y, x, H, W, nz_e, ny_e, owner)
                app = entry & 63
                todo[p] = np.uint8((cfg & 63) & ~app)
                while app:
                    f = 0
                    while not (app >> f) & 1:
                        f += 1
                    app &= app - 1
                    j = (entry >> (6 + 4 * f)) & 15
                    owner[_edge_index(z, y, x, j, H, W, nz_e, ny_e)] = -(8 * p + f + 2)
                p += 1
    return todo


@numba.njit(**_JIT)
def _clearing_pass(fresh, shape, order, masks, todo, ahead):
    """Clearing by duality, and the cavities (dimension 2) on the way.

    Voxels from last to first, each joining the other sides of its owned faces (a later voxel, or
    the outside node) youngest face first, in a union-find whose roots hold ``-(age + 1)``, the age
    being the step of the reverse pass at which the root's voxel came (the outside: 0, oldest).
    A face joining two components is *positive* (it closes a 2-cycle); a component older than the
    current plateau of equal values that dies there is a cavity, exactly as in
    ``_union_find.top_dim_pairs`` (the same elder rule, so the same pairs and cells).

    Returns ``(codes, births, deaths)``: the codes ``8 p + f`` of the negative squares that are not
    apparent (``todo``), in increasing filtration order, and the flat voxels of the finite
    dimension-2 pairs with different values.
    """
    D, H, W = shape[0], shape[1], shape[2]
    n = D * H * W
    HW = H * W
    cap = 0
    for p in range(n):
        t = todo[p]
        while t:
            t &= t - 1
            cap += 1
    out = np.empty(cap, dtype=np.int64)
    k = 0
    births = np.empty(n // 2 + 2, dtype=np.int64)
    deaths = np.empty(n // 2 + 2, dtype=np.int64)
    m = 0
    parent = np.empty(n + 1, dtype=np.int32)
    outside = n
    parent[outside] = -1  # age 0
    flat = _flat_offsets(shape, FACE_OFFSETS)
    border_flag = np.uint32(1) << np.uint32(BORDER_BIT)
    plateau = 1
    for t in range(n - 1, -1, -1):
        if ahead and t >= ahead:
            q = np.int64(order[t - ahead])
            prefetch(masks, q)
            prefetch(todo, q)
            prefetch_neighbourhood(parent, q, shape)
        p = np.int64(order[t])
        age = np.int64(n - t)
        if t == n - 1 or fresh[t + 1]:
            plateau = age
        parent[p] = -age - 1
        rp = p
        age_p = age
        mask = masks[p]
        later = ~mask
        td = todo[p]
        border = (mask & border_flag) != 0
        if border:
            z = p // HW
            r = p - z * HW
            y = r // W
            x = r - y * W
        for i in range(6):
            f = FACES_YOUNGEST_FIRST[i]
            if not (later >> np.uint32(FACE_BIT[f])) & np.uint32(1):
                continue  # the voxel across enters earlier: that voxel owns the face
            q = p + flat[f]
            if border:
                zz = z + FACE_OFFSETS[f, 0]
                yy = y + FACE_OFFSETS[f, 1]
                xx = x + FACE_OFFSETS[f, 2]
                if not (0 <= zz < D and 0 <= yy < H and 0 <= xx < W):
                    q = outside
            rq = _root(parent, q)
            if rq == rp:
                if (td >> f) & 1:
                    out[k] = 8 * p + f
                    k += 1
                continue
            # positive: cleared; the younger component dies here (the elder rule of
            # _union_find._join_neighbours, written out: as a shared inline function returning a
            # tuple it made the engine's dimension-0 and d-1 passes twice as slow)
            age_q = -np.int64(parent[rq]) - 1
            if age_q < age_p:
                elder, younger, age_y, age_e = rq, rp, age_p, age_q
            else:
                elder, younger, age_y, age_e = rp, rq, age_q, age_p
            if age_y < plateau:
                births[m] = p
                deaths[m] = younger
                m += 1
            parent[younger] = elder
            rp = elder
            age_p = age_e
    return out[:k][::-1].copy(), births[:m].copy(), deaths[:m].copy()


@numba.njit(inline="always", **_JIT)
def _square_frame(code, shape):
    """Square ``code = 8 p + f`` (``shape = (D, H, W)``, C order) as ``(p, f, z, y, x, H, W, nz_e,
    ny_e)``: its voxel, face, the voxel's coordinates and what ``_edge_index`` needs."""
    D, H, W = shape[0], shape[1], shape[2]
    p = code >> 3
    z = p // (H * W)
    r = p - z * (H * W)
    y = r // W
    return (p, code & 7, z, y, r - y * W, H, W,
            D * (H + 1) * (W + 1), (D + 1) * H * (W + 1))


@numba.njit(**_JIT)
def _square_boundary(code, pos, masks, flat, shape, owner, out):
    """Encoded edges (``key << 36 | rank << 32 | edge index``) of square ``code = 8 p + f`` that are
    not ``DROPPED``, into ``out``; returns their number and the position of the youngest one.

    An edge's owner is the first of its (at most four) voxels: ``p`` unless one of the two others
    beside ``p`` (across a face of ``p``, and diagonally across the edge) enters earlier, which
    ``masks[p]`` tells, so ``pos`` is read only for those (``flat``: the 26 flat neighbour offsets).
    """
    p, f, z, y, x, H, W, nz_e, ny_e = _square_frame(code, shape)
    earlier = masks[p]
    own = np.int64(pos[p])
    top = 0
    m = 0
    for i in range(4):
        j = FACE_EDGES[f, i]
        e = _edge_index(z, y, x, j, H, W, nz_e, ny_e)
        if owner[e] == DROPPED:
            continue
        key = own
        flip = 0
        bit = EDGE_OTHER_FACE_BIT[f, i]
        if (earlier >> np.uint32(bit)) & np.uint32(1):
            key = np.int64(pos[p + flat[bit]])
            flip = EDGE_OTHER_FACE_FLIP[f, i]
        bit = EDGE_DIAG_BIT[j]
        if (earlier >> np.uint32(bit)) & np.uint32(1):
            v = np.int64(pos[p + flat[bit]])
            if v < key:
                key = v
                flip = 3
        # the edge's slot seen from its owner: moving across a face flips that axis' side bit
        enc = (key << 36) | (EDGE_RANK[j ^ flip] << 32) | e
        out[m] = enc
        if enc > out[top]:
            top = m
        m += 1
    return m, top


@numba.njit(inline="always", **_JIT)
def _heap_push(heap, n, v):
    i = n
    while i > 0:
        up = (i - 1) >> 1
        if heap[up] >= v:
            break
        heap[i] = heap[up]
        i = up
    heap[i] = v
    return n + 1


@numba.njit(inline="always", **_JIT)
def _heap_pop(heap, n):
    """Remove the largest entry of a max-heap of ``n`` entries; returns the new size."""
    n -= 1
    v = heap[n]
    i = 0
    while True:
        c = 2 * i + 1
        if c >= n:
            break
        if c + 1 < n and heap[c + 1] > heap[c]:
            c += 1
        if heap[c] <= v:
            break
        heap[i] = heap[c]
        i = c
    if n > 0:
        heap[i] = v
    return n


@numba.njit(inline="always", **_JIT)
def _pop_pivot(heap, n):
    """Pop the largest entry that occurs an odd number of times (Z/2): ``(pivot or -1, new size)``."""
    while n > 0:
        top = heap[0]
        n = _heap_pop(heap, n)
        if n > 0 and heap[0] == top:
            n = _heap_pop(heap, n)
            continue
        return top, n
    return np.int64(-1), n


@numba.njit(**_JIT)
def _grow(a, need):
    if need <= a.shape[0]:
        return a
    b = np.empty(max(2 * a.shape[0], need), dtype=a.dtype)
    b[:a.shape[0]] = a
    return b


@numba.njit(inline="always", **_JIT)
def _square_key(code, pos):
    """Filtration order of square ``code = 8 p + f`` (larger: younger): its key, then its slot."""
    return (np.int64(pos[code >> 3]) << 3) | FACE_RANK[code & 7]


@numba.njit(**_JIT)
def _raster_order(codes, n_voxels):
    """``codes`` (distinct ``8 p + f``) sorted increasingly, by one pass over a byte per voxel."""
    faces = np.zeros(n_voxels, dtype=np.uint8)
    for c in codes:
        faces[c >> 3] |= np.uint8(1 << (c & 7))
    out = np.empty_like(codes)
    k = 0
    for p in range(n_voxels):
        t = np.int64(faces[p])
        while t:
            f = 0
            while not (t >> f) & 1:
                f += 1
            t &= t - 1
            out[k] = 8 * p + f
            k += 1
    return out


@numba.njit(inline="always", **_JIT)
def _drain_heap(heap, hn, out, at):
    """Pop the working column's remaining entries (``heap[:hn]``, cancelling pairs) into ``out``
    from index ``at`` on, decreasing; returns the index after the last one written."""
    while hn > 0:
        v, hn = _pop_pivot(heap, hn)
        if v < 0:
            break
        out[at] = v
        at += 1
    return at


@numba.njit(**_JIT)
def _compact(store, starts, n_slots, owner):
    """Move the live slots of ``store`` down over the dead ones (``starts`` -1); returns the new fill."""
    w = 0
    for s in range(n_slots):
        st = starts[s]
        if st < 0:
            continue  # displaced
        total = (store[st] & _LEN_MASK) + 2
        if w != st:
            for k in range(total):
                store[w + k] = store[st + k]
            starts[s] = w
        w += total
    return w


@numba.njit(**_JIT)
def _reduce(values, shape, order, pos, masks, flat, owner, codes, slack):
    """Reduce the columns ``codes`` (increasing code ``8 p + f``: raster order, not filtration
    order); ``owner`` as left by the local pass. Returns flat voxel indices ``(births, deaths)`` of
    the pairs with different values, and the store's final fill (entries).

    The order of the columns is free ("lock-free" reduction, Morozov & Nigmetov 2020): a column
    whose pivot is held by an *earlier* column (``_square_key``) adds that column, as in the
    standard algorithm; one whose pivot is held by a *later* column takes the pivot from it, and the
    later column, plus the current one, is reduced on. Every addition is still of an earlier column
    to a later one, so ``R = D V`` with ``V`` upper triangular and the pivots, hence the pairs, are
    the standard algorithm's. Raster order keeps consecutive columns, and the columns they add, in
    neighbouring memory (128³ near-binary: 1.83 -> 1.57 s, docs/benchmarks.md). An apparent square
    is always earlier than a column whose pivot it holds (it is the oldest square containing its
    edge), so only stored and unstored reduction columns are ever taken from.

    A stored column is ``key << 32 | length, code, pivot, rest...`` (decreasing) in one growing
    store; columns that needed no addition are not stored (``owner[e] = -(code + 2)``, like an
    apparent pair's square). The columns that lose their pivot leave dead entries, compacted away
    when they exceed an eighth of the live ones plus ``slack`` entries.
    """
    n_codes = codes.shape[0]
    heap = np.empty(256, dtype=np.int64)
    # Capacity reserved up front, generously (32 entries per column; 5-12 were used on the
    # benchmark's fields): only the pages written become resident, and growing the store by a copy
    # would hold the old and the new one at once, the peak.
    store = np.empty(32 * n_codes + 4096, dtype=np.int64)
    starts = np.empty(n_codes + 2, dtype=np.int64)  # slot -> its header in store; -1: displaced
    used = 0
    live = 0
    n_slots = 0
    claims = np.empty(n_codes, dtype=np.int64)
    n_claims = 0
    bnd = np.empty(4, dtype=np.int64)
    rest = np.empty(4, dtype=np.int64)
    for i in range(n_codes):
        if used - live > (live >> 3) + slack:
            used = _compact(store, starts, n_slots, owner)
            live = used
        cur = codes[i]
        cur_key = _square_key(cur, pos)
        nb, top = _square_boundary(cur, pos, masks, flat, shape, owner, bnd)
        if nb == 0:
            continue
        piv = bnd[top]
        hn = 0
        for k in range(nb):
            if k != top:
                hn = _heap_push(heap, hn, bnd[k])
        added = False
        while piv >= 0:
            e = piv & _LOW
            o = owner[e]  # never DROPPED: those rows were left out
            if o == -1:
                claims[n_claims] = piv
                n_claims += 1
            elif o <= -2:
                other = np.int64(-(o + 2))
                if _square_key(other, pos) < cur_key:
                    nb, ot = _square_boundary(other, pos, masks, flat, shape, owner, bnd)
                    heap = _grow(heap, hn + 3)
                    for k in range(nb):
                        if k != ot:
                            hn = _heap_push(heap, hn, bnd[k])
                    added = True
                    piv, hn = _pop_pivot(heap, hn)
                    continue
            else:
                st = starts[o]
                if (store[st] >> 32) < cur_key:
                    ln = store[st] & _LEN_MASK
                    heap = _grow(heap, hn + ln)
                    for k in range(st + 3, st + 2 + ln):
                        hn = _heap_push(heap, hn, store[k])
                    added = True
                    piv, hn = _pop_pivot(heap, hn)
                    continue
            # the current column takes pivot e
            if added:
                store = _grow(store, used + hn + 3)
                st_new = used
                store[used + 1] = cur
                store[used + 2] = piv
                used = _drain_heap(heap, hn, store, used + 3)
                hn = 0
                ln_new = used - st_new - 2
                store[st_new] = (cur_key << 32) | ln_new
                live += ln_new + 2
                starts = _grow(starts, n_slots + 1)
                starts[n_slots] = st_new
                owner[e] = n_slots
                n_slots += 1
            else:
                n_rest = _drain_heap(heap, hn, rest, 0)
                hn = 0
                owner[e] = -(cur + 2)
            if o == -1:
                break
            # ... and the later column that held it is reduced on: its column plus the current one
            hn = 0
            if o <= -2:
                cur = np.int64(-(o + 2))
                nb, ot = _square_boundary(cur, pos, masks, flat, shape, owner, bnd)
                for k in range(nb):
                    if k != ot:
                        hn = _heap_push(heap, hn, bnd[k])
            else:
                st = starts[o]
                ln = store[st] & _LEN_MASK
                cur = store[st + 1]
                live -= ln + 2
                starts[o] = -1
                heap = _grow(heap, hn + ln)
                for k in range(st + 3, st + 2 + ln):
                    hn = _heap_push(heap, hn, store[k])
            cur_key = _square_key(cur, pos)
            if added:
                heap = _grow(heap, hn + ln_new)
                for k in range(st_new + 3, st_new + 2 + ln_new):
                    hn = _heap_push(heap, hn, store[k])
            else:
                for k in range(n_rest):
                    hn = _heap_push(heap, hn, rest[k])
            added = True
            piv, hn = _pop_pivot(heap, hn)
    births = np.empty(n_claims, dtype=np.int64)
    deaths = np.empty(n_claims, dtype=np.int64)
    m = 0
    for c in range(n_claims):
        piv = claims[c]
        o = owner[piv & _LOW]
        code = store[starts[o] + 1] if o >= 0 else np.int64(-(o + 2))
        b = np.int64(order[piv >> 36])
        d = code >> 3
        if values[b] != values[d]:
            births[m] = b
            deaths[m] = d
            m += 1
    return births[:m].copy(), deaths[:m].copy(), used


def loops_3d_full(values: np.ndarray, shape: np.ndarray, order: np.ndarray, pos: np.ndarray,
                  masks: np.ndarray, fresh: np.ndarray, ahead: int):
    """Finite pairs of dimensions 1 and 2 of a 3D image (T-construction) as flat voxel indices.

    Args:
        values: the image, flat float64, C order.
        shape: int64 ``(D, H, W)``, at most ``MAX_VOXELS`` voxels.
        order, pos: the superlevel order and its inverse (``_union_find``).
        masks: ``neighbour_masks(shape, pos, neighbour_offsets(3))``.
        fresh: ``plateau_starts(values, order)``.
        ahead: prefetch distance of the filtration-order passes (``prefetch_distance``; 0: off).

    Returns:
        ``((births_1, deaths_1), (births_2, deaths_2))``; zero-persistence pairs are left out. The
        dimension-2 pairs equal ``top_dim_pairs``'s, which this work finds on the way.
    """
    D, H, W = (int(s) for s in shape)
    if D * H * W > MAX_VOXELS:
        raise ValueError(f"loops='ours': expected at most {MAX_VOXELS} voxels, got {D * H * W} ({D}x{H}x{W})")
    n_edges = D * (H + 1) * (W + 1) + (D + 1) * H * (W + 1) + (D + 1) * (H + 1) * W
    owner = np.full(n_edges, -1, dtype=np.int32)
    todo = _local_pass(shape, masks, apparent_table(), owner)
    codes, b2, d2 = _clearing_pass(fresh, shape, order, masks, todo, ahead)
    del todo
    flat = _flat_offsets(shape, neighbour_offsets(3))
    b1, d1, _ = _reduce(values, shape, order, pos, masks, flat, owner, _raster_order(codes, D * H * W), _COMPACT_SLACK)
    return (b1, d1), (b2, d2)
