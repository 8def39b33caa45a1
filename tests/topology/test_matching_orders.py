"""The linear-time orders behind Betti matching, against numpy's stable argsort (the oracle)."""
from __future__ import annotations

import numpy as np
import pytest

from nnunet_topo.topology import betti_matching
from nnunet_topo.topology._matching_reduction import _counting_order, _reduce, _reduce_in_order
from nnunet_topo.topology._matching_union_find import merge_max_order, two_level_order


def superlevel_argsort(values: np.ndarray) -> np.ndarray:
    """Value descending, ties by flat index ascending (-0.0 == 0.0)."""
    return np.argsort(-(values + 0.0), kind="stable")


@pytest.mark.parametrize("levels", [(0.0, 1.0), (0.25, -3.0), (1.0,), (-0.0, 0.0, 1.0)])
def test_two_level_order_equals_stable_sort(levels):
    rng = np.random.default_rng(len(levels))
    flat = rng.choice(np.array(levels), size=7 * 11)
    ok, perm = two_level_order(flat)
    assert ok
    assert perm.dtype == np.int32
    np.testing.assert_array_equal(perm, superlevel_argsort(flat))


def test_two_level_order_refuses_three_levels():
    flat = np.array([0.0, 1.0, 0.5, 1.0])
    ok, perm = two_level_order(flat)
    assert not ok and perm.size == 0


@pytest.mark.parametrize("kind", ["continuous", "binary_target", "ties"])
def test_merge_max_order_equals_sort_of_the_maximum(kind):
    rng = np.random.default_rng(3)
    n = 9 * 13
    p = rng.random(n)
    g = (rng.random(n) > 0.5).astype(np.float64) if kind != "continuous" else rng.random(n)
    if kind == "ties":
        p = np.round(p * 3) / 3  # many equal values, also across the two images
    perm_p, perm_g = superlevel_argsort(p).astype(np.int32), superlevel_argsort(g).astype(np.int32)
    perm, values = merge_max_order(perm_p, p[perm_p], perm_g, g[perm_g])
    expected = superlevel_argsort(np.maximum(p, g))
    np.testing.assert_array_equal(perm, expected)
    np.testing.assert_array_equal(values, np.maximum(p, g)[expected])


def test_counting_order_is_a_stable_sort_by_key():
    rng = np.random.default_rng(5)
    keys = rng.integers(0, 17, size=200).astype(np.int32)
    cells = rng.permutation(200)[:120].astype(np.int64)
    order = _counting_order(keys, cells)
    np.testing.assert_array_equal(order, np.argsort(keys[cells], kind="stable"))


def test_reduction_of_a_known_matrix():
    """Columns {0,1}, {1,2}, {0,2}, {2,3}: the third reduces to zero, the others keep their lowest row."""
    rows = np.array([[0, 1, -1, -1], [1, 2, -1, -1], [0, 2, -1, -1], [2, 3, -1, -1]], dtype=np.int32)
    np.testing.assert_array_equal(_reduce_in_order(rows, 4), [1, 2, -1, 3])
    # through the wrapper: processing order 3, 0, 1, 2 and column 1 skipped
    pivots = _reduce(np.array([3, 0, 1, 2]), np.array([False, True, False, False]), rows.astype(np.int64), 4)
    np.testing.assert_array_equal(pivots, [1, -1, 2, 3])


@pytest.mark.parametrize("connectivity", ["full", "face"])
def test_binary_fast_path_matches_the_radix_path(connectivity, monkeypatch):
    """The O(n) order of binary masks and the radix sort give the same matching."""
    import nnunet_topo.topology._matching_union_find as uf

    rng = np.random.default_rng(11)
    p = (rng.random((6, 7, 5)) > 0.5).astype(np.float64)
    g = (rng.random((6, 7, 5)) > 0.45).astype(np.float64)
    fast = betti_matching(p, g, connectivity=connectivity)
    calls = []

    def refuse(flat):
        calls.append(flat.size)
        return False, np.empty(0, dtype=np.int32)

    monkeypatch.setattr(uf, "two_level_order", refuse)
    slow = betti_matching(p, g, connectivity=connectivity)
    assert calls  # the radix path was taken
    assert fast.errors == slow.errors
    for ma, mb in zip(fast, slow):
        np.testing.assert_array_equal(ma.matched_pred, mb.matched_pred)
        np.testing.assert_array_equal(ma.matched_target, mb.matched_target)
        np.testing.assert_array_equal(ma.pred.birth_cells, mb.pred.birth_cells)
        np.testing.assert_array_equal(ma.pred.death_cells, mb.pred.death_cells)
        np.testing.assert_array_equal(ma.target.birth_cells, mb.target.birth_cells)
        np.testing.assert_array_equal(ma.target.death_cells, mb.target.death_cells)


@pytest.mark.parametrize("ndim", [2, 3])
@pytest.mark.parametrize("full", [True, False])
def test_neighbour_adjacency_by_brute_force(ndim, full):
    """adj[j] has bit i exactly when selected neighbours i and j of a cell are neighbours of each other."""
    from nnunet_topo.topology._union_find import _adjacency_masks, connectivity_bits, neighbour_offsets

    offsets = neighbour_offsets(ndim)
    select = connectivity_bits(offsets, full)
    adj = _adjacency_masks(offsets, select)
    steps = offsets[:, 3 - ndim:] if ndim == 2 else offsets
    assert len(steps) == 3**ndim - 1
    for j, a in enumerate(steps):
        for i, b in enumerate(steps):
            d = np.abs(a - b)
            touching = i != j and bool((select >> i) & 1) and d.max() <= 1 and (full or d.sum() == 1)
            assert bool((int(adj[j]) >> i) & 1) == touching
    if not full:
        assert not any(int(adj[j]) for j in range(len(steps)) if (select >> j) & 1)  # face neighbours never touch