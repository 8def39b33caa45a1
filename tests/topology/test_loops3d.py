"""The 3D loop reduction's local structures against a brute-force cell complex.

``tests/topology/test_persistence.py`` checks the diagrams against gudhi; here each intermediate of
``_loops3d`` is checked against its definition, computed cell by cell on the doubled grid of small
non-cubic images: the apparent pairs of dimension 1 (square, youngest edge) and of dimension 0
(edge, youngest vertex) written into ``owner``, and the columns left to reduce (negative squares,
found by a plain Z/2 reduction of the cube-to-square boundary matrix, that are not apparent).
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from nnunet_topo.topology import _loops3d as L
from nnunet_topo.topology._fast_backend import _join_table
from nnunet_topo.topology._union_find import (
    connectivity_bits,
    inverse_permutation,
    neighbour_masks,
    neighbour_offsets,
    plateau_starts,
    radix_argsort_decreasing,
    top_dim_pairs,
)


class _Complex:
    """Every cell of the T-construction of a ``(D, H, W)`` image on the doubled grid, with its key
    (the rank of its first voxel), owner voxel, slot in the owner and the module's compact index."""

    def __init__(self, pos: np.ndarray) -> None:
        D, H, W = pos.shape
        self.shape = pos.shape
        self.pos = pos
        self.cells = {}  # doubled coordinates -> (dim, key, owner flat index, slot)
        for a, b, c in itertools.product(range(2 * D + 1), range(2 * H + 1), range(2 * W + 1)):
            dim = a % 2 + b % 2 + c % 2
            voxels = [(z, y, x) for z in range(D) for y in range(H) for x in range(W)
                      if abs(2 * z + 1 - a) <= 1 and abs(2 * y + 1 - b) <= 1 and abs(2 * x + 1 - c) <= 1]
            owner = min(voxels, key=lambda v: pos[v])
            off = (a - 2 * owner[0] - 1, b - 2 * owner[1] - 1, c - 2 * owner[2] - 1)
            self.cells[(a, b, c)] = (dim, int(pos[owner]), int(np.ravel_multi_index(owner, pos.shape)),
                                     self._slot(dim, off))

    @staticmethod
    def _slot(dim: int, off: tuple[int, int, int]) -> int:
        bit = [(o + 1) // 2 for o in off]
        if dim == 0:
            return 4 * bit[0] + 2 * bit[1] + bit[2]
        if dim == 1:
            axis = [i for i in range(3) if off[i] == 0][0]  # the edge runs along this axis
            b1, b0 = [bit[i] for i in range(3) if i != axis]
            return 4 * axis + 2 * b1 + b0
        if dim == 2:
            normal = [i for i in range(3) if off[i] != 0][0]
            return 2 * normal + bit[normal]
        return -1

    def order_key(self, cell):
        dim, key, _, slot = self.cells[cell]
        rank = {0: L.VERTEX_RANK, 1: L.EDGE_RANK, 2: L.FACE_RANK}.get(dim)
        return (key, int(rank[slot]) if rank is not None else 0)

    def edge_index(self, cell) -> int:
        D, H, W = self.shape
        a, b, c = cell
        nz_e = D * (H + 1) * (W + 1)
        ny_e = (D + 1) * H * (W + 1)
        if a % 2:
            return ((a // 2) * (H + 1) + b // 2) * (W + 1) + c // 2
        if b % 2:
            return nz_e + ((a // 2) * H + b // 2) * (W + 1) + c // 2
        return nz_e + ny_e + ((a // 2) * (H + 1) + b // 2) * W + c // 2

    def of_dim(self, dim: int):
        return [cell for cell, v in self.cells.items() if v[0] == dim]

    def facets(self, cell):
        out = []
        for i in range(3):
            if cell[i] % 2:
                for d in (-1, 1):
                    f = list(cell)
                    f[i] += d
                    out.append(tuple(f))
        return out

    def cofacets(self, cell):
        out = []
        for i in range(3):
            if cell[i] % 2 == 0:
                for d in (-1, 1):
                    f = list(cell)
                    f[i] += d
                    if tuple(f) in self.cells:
                        out.append(tuple(f))
        return out

    def code(self, square) -> int:
        _, _, owner, slot = self.cells[square]
        return 8 * owner + slot


def _image(rng, shape, kind, *, levels):
    """A float64 test image: uniform ``random``, ``levels`` quantised values, a ``binary`` mask, or a
    ``near_binary`` map (a sigmoid of a noisy field, like a trained network's output)."""
    if kind == "random":
        return rng.random(shape)
    if kind == "levels":
        return rng.integers(0, levels, shape).astype(np.float64)
    if kind == "binary":
        return (rng.random(shape) > 0.5).astype(np.float64)
    return 1.0 / (1.0 + np.exp(-8.0 * (rng.random(shape) - 0.7) - rng.normal(0, 0.5, shape)))


def _filtration(image):
    """What the loop passes read: flat values, the superlevel order and its inverse, the shape as
    int64, the neighbour masks (26-neighbourhood) and the plateau starts."""
    values = image.ravel()
    order = radix_argsort_decreasing(values)
    pos = inverse_permutation(order)
    shape3 = np.array(image.shape, np.int64)
    masks = neighbour_masks(shape3, pos, neighbour_offsets(3))
    return values, order, pos, shape3, masks, plateau_starts(values, order)


def _expected(cx: _Complex):
    """``owner`` after the local pass, and the codes of the columns to reduce, by definition."""
    D, H, W = cx.shape
    n_edges = D * (H + 1) * (W + 1) + (D + 1) * H * (W + 1) + (D + 1) * (H + 1) * W
    owner = np.full(n_edges, -1, np.int64)
    apparent = set()
    for s in cx.of_dim(2):
        e = max(cx.facets(s), key=cx.order_key)
        if min(cx.cofacets(e), key=cx.order_key) == s:
            owner[cx.edge_index(e)] = -(cx.code(s) + 2)
            apparent.add(s)
    for e in cx.of_dim(1):
        v = max(cx.facets(e), key=cx.order_key)
        if min(cx.cofacets(v), key=cx.order_key) == e:
            owner[cx.edge_index(e)] = L.DROPPED
    # positive squares: the pivots of the reduced cube -> square boundary matrix, cubes in order
    squares = sorted(cx.of_dim(2), key=cx.order_key)
    rank = {s: i for i, s in enumerate(squares)}
    pivots = {}
    positive = set()
    for cube in sorted(cx.of_dim(3), key=cx.order_key):
        col = {rank[s] for s in cx.facets(cube)}
        while col and max(col) in pivots:
            col ^= pivots[max(col)]
        assert col, "every cube of a box kills a 2-cycle"
        pivots[max(col)] = col
        positive.add(squares[max(col)])
    codes = [cx.code(s) for s in squares if s not in positive and s not in apparent]
    return owner, codes


@pytest.mark.parametrize("shape, kind", [((3, 4, 5), "random"), ((4, 3, 2), "levels"), ((2, 5, 3), "binary"),
                                         ((1, 4, 6), "random"), ((5, 2, 4), "levels")])
def test_local_pass_and_clearing_match_their_definitions(shape, kind):
    rng = np.random.default_rng([3, len(kind), *shape])
    for _ in range(3):
        image = _image(rng, shape, kind, levels=3)
        values, order, pos, shape3, masks, fresh = _filtration(image)
        want_owner, want_codes = _expected(_Complex(pos[:-1].reshape(shape)))
        owner = np.full(len(want_owner), -1, np.int32)
        todo = L._local_pass(shape3, masks, L.apparent_table(), owner)
        assert np.array_equal(owner, want_owner)
        # the Betti matching's reduction leaves the same rows out, named on its doubled grid
        from nnunet_topo.topology._matching_reduction import _component_edges_full

        grid = tuple(2 * s + 1 for s in shape)
        cx = _Complex(pos[:-1].reshape(shape))
        want_grid = sorted(int(np.ravel_multi_index(e, grid)) for e in cx.of_dim(1)
                           if want_owner[cx.edge_index(e)] == L.DROPPED)
        assert sorted(_component_edges_full(shape3, masks).tolist()) == want_grid
        codes, births, deaths = L._clearing_pass(fresh, shape3, order, masks, todo, 0)
        assert codes.tolist() == want_codes
        # the cavities found on the way are the engine's dimension-2 pass's, cell for cell
        offsets = neighbour_offsets(3)
        select = connectivity_bits(offsets, False)
        want_b, want_d = top_dim_pairs(fresh, shape3, order, masks, offsets, select, _join_table(3, select), 0)
        assert sorted(zip(births.tolist(), deaths.tolist())) == sorted(zip(want_b.tolist(), want_d.tolist()))


def test_too_large_a_volume_is_refused_before_any_work():
    with pytest.raises(ValueError, match="expected at most 134217728 voxels, got 134479872"):
        L.loops_3d_full(np.zeros(1), np.array([513, 512, 512], np.int64), np.zeros(1, np.int32),
                        np.zeros(2, np.int32), np.zeros(1, np.uint32), np.zeros(1, np.uint8), 0)


def test_auto_hands_volumes_beyond_the_limit_to_another_backend(monkeypatch):
    from nnunet_topo.topology import _fast_backend, persistence

    image = np.random.default_rng(5).random((5, 4, 6))
    assert persistence(image, backend="fast").backend == "fast"
    monkeypatch.setattr(_fast_backend, "MAX_VOXELS", 100)
    res = persistence(image, backend="fast")
    assert res.backend == ("fast+cripser" if _fast_backend._cripser_modules() else "fast+gudhi")
    ref = persistence(image, backend="gudhi")
    assert sorted(res[1].pairs().tolist()) == sorted(ref[1].pairs().tolist())


@pytest.mark.parametrize("shape, kind", [((7, 9, 11), "random"), ((12, 5, 8), "levels"), ((6, 10, 9), "near_binary")])
def test_reduction_in_any_column_order_gives_gudhis_loops(shape, kind):
    """The lock-free reduction: raster order (the engine's), filtration order, and raster order
    compacting the store at every column all give gudhi's dimension-1 diagram; compacting shrinks it."""
    from nnunet_topo.topology import persistence
    from nnunet_topo.topology._union_find import _flat_offsets

    rng = np.random.default_rng([11, len(kind), *shape])
    compacted = 0
    for _ in range(3):
        image = _image(rng, shape, kind, levels=4)
        values, order, pos, shape3, masks, fresh = _filtration(image)
        flat = _flat_offsets(shape3, neighbour_offsets(3))
        ref = persistence(image, dims=(1,), backend="gudhi")[1]
        finite = ~ref.essential & (ref.births != ref.deaths)
        want = sorted(zip(ref.births[finite].tolist(), ref.deaths[finite].tolist()))
        used = {}
        for name, slack in (("raster", 1 << 40), ("filtration", 1 << 40), ("compacting", -(1 << 40))):
            D, H, W = shape
            n_edges = D * (H + 1) * (W + 1) + (D + 1) * H * (W + 1) + (D + 1) * (H + 1) * W
            owner = np.full(n_edges, -1, np.int32)
            todo = L._local_pass(shape3, masks, L.apparent_table(), owner)
            codes, _, _ = L._clearing_pass(fresh, shape3, order, masks, todo, 0)
            if name != "filtration":
                codes = L._raster_order(codes, values.size)
                assert np.all(np.diff(codes) > 0)
            births, deaths, used[name] = L._reduce(values, shape3, order, pos, masks, flat, owner, codes, slack)
            assert sorted(zip(values[births].tolist(), values[deaths].tolist())) == want, name
        assert used["compacting"] <= used["raster"]
        compacted += used["compacting"] < used["raster"]
    assert compacted > 0, "no column was ever displaced: the test does not reach the compaction"
