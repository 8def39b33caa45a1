"""Image persistence of dimension 1 of 3D images, T-construction, on the engine's compact cells (numba).

The Betti matching of 3D images needs, besides the loop barcodes of ``P`` and of ``C = max(P, G)``
(the engine's ``_loops3d``), the barcode of the image of ``H_1(P_t) -> H_1(C_t)``: the boundary
matrix ``squares -> edges`` reduced with the columns in the order of ``C`` and the rows in the order
of ``P`` (Cohen-Steiner, Edelsbrunner, Harer & Morozov 2009; Bauer & Schmahl 2022). A pivot
``(edge e, square s)`` is the image bar ``[P(e), C(s))``.

Cells and their order are the engine's (``_loops3d``): a cell enters with the first of its voxels
(its owner); cells of one owner are ordered by ``EDGE_RANK`` / ``FACE_RANK``.

* **Columns**: the squares negative in ``C``, in ``C``'s order. The positive ones reduce to zero
  whatever the row order, so they are left out ("clearing"); ``_loops3d._clearing_pass`` finds
  them by duality, a union-find on the voxels.
* **Rows**: the edges in ``P``'s order, numbered by a counting sort over the owner voxels (each
  voxel owns at most 12 edges), except the edges in apparent pairs of dimension 0 of ``P``: they
  kill a component in ``P``'s order (the same refinement), so they are never a pivot
  ("compression", Bauer, Kerber & Reininghaus 2014).
* **Reduction**: ``_matching_reduction._reduce_in_order`` (columns as sorted int32 row lists).

The doubled-grid reduction of ``_matching_reduction`` computes the same bars (told by voxels) with
another refinement; the tests compare the two.
"""
from __future__ import annotations

import numba
import numpy as np

from ._loops3d import (
    DROPPED,
    EDGE_DIAG_BIT,
    EDGE_FACE_A,
    EDGE_FACE_B,
    EDGE_RANK,
    FACE_BIT,
    FACE_EDGES,
    MAX_VOXELS,
    _clearing_pass,
    _edge_index,
    component_edge_marks,
)
from ._matching_reduction import _reduce_in_order

__all__ = ["negative_squares", "image_bars"]

_JIT = dict(cache=True, nogil=True)
# Edge slots from the oldest to the youngest inside one owner voxel.
_EDGES_OLDEST_FIRST = np.argsort(EDGE_RANK).astype(np.int64)


@numba.njit(**_JIT)
def _owned_faces(masks):
    """uint8 per voxel: the faces it owns (the voxel across enters later, or lies outside)."""
    n = masks.shape[0]
    out = np.empty(n, dtype=np.uint8)
    for p in range(n):
        later = ~masks[p]
        t = 0
        for f in range(6):
            t |= ((later >> np.uint32(FACE_BIT[f])) & np.uint32(1)) << f
        out[p] = np.uint8(t)
    return out


def negative_squares(shape: np.ndarray, order: np.ndarray, masks: np.ndarray, fresh: np.ndarray,
                     ahead: int) -> np.ndarray:
    """int64 codes ``8 p + f`` (owner voxel ``p``, face slot ``f``) of the squares negative in an
    image, in its filtration order (``order``, ``masks``, ``fresh`` and ``ahead`` as for
    ``_loops3d.loops_3d_full``)."""
    codes, _, _ = _clearing_pass(fresh, shape, order, masks, _owned_faces(masks), ahead)
    return codes


@numba.njit(inline="always", **_JIT)
def _owns_edge(mask, j):
    """Whether a voxel with neighbour mask ``mask`` owns its edge slot ``j`` (no other voxel of the
    edge enters earlier)."""
    earlier = (np.uint32(1) << np.uint32(FACE_BIT[EDGE_FACE_A[j]])) | \
        (np.uint32(1) << np.uint32(FACE_BIT[EDGE_FACE_B[j]])) | (np.uint32(1) << np.uint32(EDGE_DIAG_BIT[j]))
    return (mask & earlier) == 0


@numba.njit(**_JIT)
def _rows(shape, order, masks):
    """Row numbers of the edges in the order of one image.

    Returns ``(row, row_voxel, n_rows)``: int32 ``row[e]`` per compact edge (negative: left out,
    the edges that kill a component) and int32 ``row_voxel[r]``, the owner voxel of row ``r``.
    """
    D, H, W = shape[0], shape[1], shape[2]
    n = D * H * W
    nz_e = D * (H + 1) * (W + 1)
    ny_e = (D + 1) * H * (W + 1)
    row = component_edge_marks(shape, masks)
    count = np.zeros(n, dtype=np.int32)
    p = 0
    for z in range(D):
        for y in range(H):
            for x in range(W):
                c = 0
                for j in range(12):
                    if _owns_edge(masks[p], j) and row[_edge_index(z, y, x, j, H, W, nz_e, ny_e)] != DROPPED:
                        c += 1
                count[p] = c
                p += 1
    start = np.empty(n, dtype=np.int32)  # first row of each voxel: a counting sort by rank
    total = 0
    for t in range(n):
        q = order[t]
        start[q] = total
        total += count[q]
    row_voxel = np.empty(total, dtype=np.int32)
    p = 0
    for z in range(D):
        for y in range(H):
            for x in range(W):
                r = start[p]
                for k in range(12):
                    j = _EDGES_OLDEST_FIRST[k]
                    if not _owns_edge(masks[p], j):
                        continue
                    e = _edge_index(z, y, x, j, H, W, nz_e, ny_e)
                    if row[e] == DROPPED:
                        continue
                    row[e] = r
                    row_voxel[r] = p
                    r += 1
                p += 1
    return row, row_voxel, total


@numba.njit(**_JIT)
def _column_rows(codes, shape, row):
    """int32 ``(len(codes), 4)`` rows of the edges of each square ``8 p + f`` (-1: left out)."""
    D, H, W = shape[0], shape[1], shape[2]
    nz_e = D * (H + 1) * (W + 1)
    ny_e = (D + 1) * H * (W + 1)
    HW = H * W
    out = np.empty((codes.shape[0], 4), dtype=np.int32)
    for i in range(codes.shape[0]):
        p = codes[i] >> 3
        f = codes[i] & 7
        z = p // HW
        rem = p - z * HW
        y = rem // W
        x = rem - y * W
        for k in range(4):
            r = row[_edge_index(z, y, x, FACE_EDGES[f, k], H, W, nz_e, ny_e)]
            out[i, k] = r if r >= 0 else -1
    return out


def image_bars(shape: np.ndarray, order_p: np.ndarray, masks_p: np.ndarray, columns_c: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
    """The image bars of ``H_1(P_t) -> H_1(C_t)`` of a 3D pair with ``C >= P`` (T-construction).

    Args:
        shape: int64 ``(D, H, W)``, at most ``MAX_VOXELS`` voxels.
        order_p, masks_p: ``P``'s superlevel order (int32 flat voxels) and ``neighbour_masks``.
        columns_c: :func:`negative_squares` of ``C``.

    Returns:
        int64 flat voxels ``(births, deaths)``: the owner in ``P`` of each bar's birth edge and the
        owner in ``C`` of its death square, zero-length bars included.
    """
    if int(np.prod(shape)) > MAX_VOXELS:
        raise ValueError(f"loops: expected at most {MAX_VOXELS} voxels, got {int(np.prod(shape))}")
    row, row_voxel, n_rows = _rows(shape, order_p, masks_p)
    pivots = _reduce_in_order(_column_rows(columns_c, shape, row), n_rows)
    del row
    paired = pivots >= 0
    return row_voxel[pivots[paired]].astype(np.int64), columns_c[paired] >> 3
