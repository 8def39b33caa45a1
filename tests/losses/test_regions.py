"""Pixel-set helpers of TopoDense: level components, monotone saddle paths, adjacency, neighbourhoods."""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from nnunet_topo.losses._regions import LevelComponents, adjacent_components, monotone_paths, neighbourhood


def test_level_components_match_scipy_with_both_connectivities():
    rng = np.random.default_rng(0)
    p = rng.random((9, 13))
    for full, struct in ((True, np.ones((3, 3))), (False, ndimage.generate_binary_structure(2, 1))):
        comps = LevelComponents(p, primal=True, full=full)
        lab = ndimage.label(p > 0.6, structure=struct)[0].ravel()
        seed = int(np.flatnonzero(lab)[0])
        assert np.array_equal(comps.component(0.6, seed), np.flatnonzero(lab == lab[seed]))
        # the dual side uses the complementary connectivity
        dual = LevelComponents(p, primal=False, full=full)
        dual_struct = ndimage.generate_binary_structure(2, 1) if full else np.ones((3, 3))
        lab = ndimage.label(p < 0.4, structure=dual_struct)[0].ravel()
        seed = int(np.flatnonzero(lab)[0])
        assert np.array_equal(dual.component(0.4, seed), np.flatnonzero(lab == lab[seed]))
    assert comps.component(0.99, int(np.argmin(p))).size == 0


def test_ascent_path_crosses_a_gap_to_both_sides():
    """Two plateaus at 1 joined by a valley row: the paths from the saddle climb into both plateaus."""
    p = np.zeros((5, 12))
    p[1:4, 0:4] = 1.0
    p[1:4, 8:12] = 1.0
    p[2, 4:8] = [0.7, 0.5, 0.3, 0.6]  # the saddle is (2, 6)
    saddle = np.ravel_multi_index((2, 6), p.shape)
    path = monotone_paths(p, saddle, ascending=True, stop=0.9, full=True)
    coords = {tuple(c) for c in np.stack(np.unravel_index(path, p.shape), 1)}
    assert {(2, 4), (2, 5), (2, 6), (2, 7)} <= coords
    assert any(c[1] <= 3 and p[c] == 1.0 for c in coords) and any(c[1] >= 8 and p[c] == 1.0 for c in coords)
    # descending with 4-connectivity from the same saddle goes to the zero rows above and below
    down = monotone_paths(p, saddle, ascending=False, stop=0.1, full=False)
    coords = {tuple(c) for c in np.stack(np.unravel_index(down, p.shape), 1)}
    assert coords == {(1, 6), (2, 6), (3, 6)}


def test_adjacent_components_and_neighbourhood():
    lab = np.zeros((6, 8), dtype=np.int32)
    lab[0, 0:2] = 1
    lab[4:6, 6:8] = 2
    region = np.array([np.ravel_multi_index((1, 2), (6, 8))])  # diagonal neighbour of component 1
    got = adjacent_components(lab.ravel(), region, (6, 8))
    assert np.array_equal(got, np.flatnonzero(lab.ravel() == 1))
    nb = neighbourhood(np.array([0, 47]), (6, 8), 1)
    assert sorted(nb.tolist()) == [0, 1, 8, 9, 38, 39, 46, 47]
