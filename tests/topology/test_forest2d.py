"""The 2D gradient-forest passes against independent oracles.

* pairs: the rank-based union-find passes of ``_union_find`` (a global sort, every pixel visited
  in filtration order), cell for cell;
* maxima, minima, saddles: brute force over each pixel's 3x3 neighbourhood with scipy labelling;
* matchings: the rank-based matching path (``_match_by_ranks``), matched cells and counts;
* the per-thread working buffers: results stay valid after later calls and in threads.
"""
from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from nnunet_topo.topology import betti_matching, betti_matching_batch, persistence, persistence_batch
from nnunet_topo.topology import _forest2d as F
from nnunet_topo.topology import _union_find as U
from nnunet_topo.topology._fast_backend import _join_table
from nnunet_topo.topology.matching import _match_2d, _match_by_ranks

CONNECTIVITIES = [True, False]
IDS = ["full", "face"]


def _random_image(rng: np.random.Generator, kind: int) -> np.ndarray:
    H, W = (int(x) for x in rng.integers(1, 15, 2))
    if kind == 0:
        return rng.random((H, W))
    if kind == 1:
        return rng.integers(0, 3, (H, W)) / 2.0  # many ties
    if kind == 2:
        return (rng.random((H, W)) > 0.5).astype(np.float64)  # binary
    if kind == 3:  # 1-pixel-thin lines on a noisy background
        im = rng.random((H, W)) * 0.2
        im[rng.integers(0, H), :] = 0.9
        im[:, rng.integers(0, W)] = 0.8
        return im
    if kind == 4:
        return np.full((H, W), 0.5)
    return rng.integers(0, 6, (H, W)).astype(np.float32).astype(np.float64)


def _tables(full: bool):
    off = U.neighbour_offsets(2)
    return off, _join_table(2, U.connectivity_bits(off, full)), _join_table(2, U.connectivity_bits(off, not full))


def _rank_based_pairs(values: np.ndarray, shape: tuple[int, int], full: bool):
    off = U.neighbour_offsets(2)
    shape3 = np.array((1,) + shape, dtype=np.int64)
    order = U.radix_argsort_decreasing(values)
    masks = U.neighbour_masks(shape3, U.inverse_permutation(order), off)
    fresh = U.plateau_starts(values, order)
    fg, bg = U.connectivity_bits(off, full), U.connectivity_bits(off, not full)
    b0, d0, essential = U.dim0_pairs(fresh, shape3, order, masks, off, fg, _join_table(2, fg), 0)
    b1, d1 = U.top_dim_pairs(fresh, shape3, order, masks, off, bg, _join_table(2, bg), 0)
    return (b0, d0), (b1, d1), int(essential)


def _forest_pairs(values: np.ndarray, shape: tuple[int, int], full: bool):
    off, fg, bg = _tables(full)
    fo = F.forest_pass(values, shape, off, full, fg, bg)
    b0, d0 = F.superlevel_pairs(values, shape[1], off, fo, F.sort_decreasing(values, fo.saddles))
    b0 = fo.maxima[b0]
    b1, d1, _ = F.sublevel_pairs(values, shape[1], off, fo, F.sort_decreasing(values, fo.dual_saddles))
    first = fo.maxima[F.sort_decreasing(values, fo.maxima)[0]]
    return (b0, d0), (b1, fo.minima[d1]), int(first)


def _cells(pairs, values):
    b, d = (np.asarray(x, dtype=np.int64) for x in pairs)
    keep = values[b] != values[d]  # zero-length pairs are no bars
    return sorted(zip(b[keep].tolist(), d[keep].tolist()))


@pytest.mark.parametrize("full", CONNECTIVITIES, ids=IDS)
def test_pairs_equal_rank_based_passes_cell_for_cell(full):
    rng = np.random.default_rng(11 + full)
    for it in range(600):
        im = _random_image(rng, it % 6)
        values = im.ravel()
        old0, old1, old_essential = _rank_based_pairs(values, im.shape, full)
        new0, new1, new_essential = _forest_pairs(values, im.shape, full)
        assert _cells(new0, values) == _cells(old0, values), (im.shape, it)
        assert _cells(new1, values) == _cells(old1, values), (im.shape, it)
        assert new_essential == old_essential


def _earlier(values: np.ndarray, p: int, q: int) -> bool:
    return values[q] > values[p] or (values[q] == values[p] and q < p)


def _groups(values: np.ndarray, shape, y: int, x: int, earlier: bool, eight: bool) -> int:
    """Number of components, in the 3x3 ring around (y, x) without the centre, of the present cells
    (entering earlier / later) that hold a neighbour of the connectivity (scipy labelling)."""
    H, W = shape
    p = y * W + x
    present = np.zeros((3, 3), dtype=bool)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            yy, xx = y + dy, x + dx
            if (dy or dx) and 0 <= yy < H and 0 <= xx < W:
                present[dy + 1, dx + 1] = _earlier(values, p, yy * W + xx) == earlier
    labels, _ = ndimage.label(present, structure=np.ones((3, 3)) if eight else None)
    touching = labels * (np.ones((3, 3), bool) if eight else ndimage.generate_binary_structure(2, 1))
    touching[1, 1] = 0
    return len(set(touching[touching > 0].tolist()))


@pytest.mark.parametrize("full", CONNECTIVITIES, ids=IDS)
def test_event_lists_equal_brute_force(full):
    """maxima: no earlier foreground neighbour; saddles: two or more groups of earlier foreground
    neighbours; minima: interior pixels without a later background neighbour; dual saddles: interior
    pixels with two or more groups of later background neighbours, border pixels with one or more."""
    rng = np.random.default_rng(5 + full)
    off, fg, bg = _tables(full)
    for it in range(150):
        im = _random_image(rng, it % 6)
        H, W = im.shape
        values = im.ravel()
        fo = F.forest_pass(values, im.shape, off, full, fg, bg)
        maxima, saddles, minima, dual = [], [], [], []
        for y in range(H):
            for x in range(W):
                up = _groups(values, im.shape, y, x, True, full)
                down = _groups(values, im.shape, y, x, False, not full)
                border = y in (0, H - 1) or x in (0, W - 1)
                maxima += [y * W + x] if up == 0 else []
                saddles += [y * W + x] if up >= 2 else []
                minima += [y * W + x] if down == 0 and not border else []
                dual += [y * W + x] if down >= (1 if border else 2) else []
        np.testing.assert_array_equal(fo.maxima, maxima)
        np.testing.assert_array_equal(fo.saddles, saddles)
        np.testing.assert_array_equal(fo.minima, minima)
        np.testing.assert_array_equal(fo.dual_saddles, dual)
        # roots hold their list position; every other pixel points to an earlier pixel
        np.testing.assert_array_equal(fo.up[fo.maxima], -(np.arange(len(maxima)) + 1))
        for p in np.flatnonzero(fo.up >= 0):
            assert _earlier(values, p, fo.up[p])


def test_sort_decreasing_equals_stable_argsort():
    """Also float64 values closer than float32 can tell apart (few and many per group), beyond
    float32's range and below its smallest subnormal, and -0.0 == 0.0."""
    rng = np.random.default_rng(2)
    near = 0.5 + rng.integers(0, 40, 300) * 2.0**-40  # one float32, 40 float64 values
    mixed = np.r_[near[:100], rng.random(100), 0.25 + rng.integers(0, 3, 100) * 2.0**-45]
    extreme = np.r_[1e300, 3e300, -1e300, 1e-300, -1e-300, 0.0, -0.0, 1e-310, rng.random(20)]
    for values in (rng.random(300), np.round(rng.standard_normal(300), 1), np.r_[np.full(50, 0.5), 1e300, -0.0, 0.0],
                   near, mixed, extreme):
        cells = np.sort(rng.choice(values.size, size=values.size // 2, replace=False)).astype(np.int32)
        expected = np.argsort(-(values[cells] + 0.0), kind="stable")
        np.testing.assert_array_equal(F.sort_decreasing(values, cells), expected)


def _summary(matchings: dict) -> list:
    out = []
    for k in sorted(matchings):
        m = matchings[k]
        cells = zip(*(a.tolist() for a in (m.pred.birth_index[m.matched_pred], m.pred.death_index[m.matched_pred],
                                           m.target.birth_index[m.matched_target],
                                           m.target.death_index[m.matched_target])))
        out.append((k, sorted(cells), m.num_unmatched_pred, m.num_unmatched_target, len(m.pred), len(m.target)))
    return out


@pytest.mark.parametrize("connectivity", ["full", "face"])
def test_matching_equals_rank_based_path(connectivity):
    rng = np.random.default_rng(3 if connectivity == "full" else 4)
    for it in range(400):
        p = _random_image(rng, it % 6)
        kind = it % 3
        if kind == 0:
            g = (rng.random(p.shape) > 0.5).astype(np.float64)
        elif kind == 1:
            g = rng.integers(0, 3, p.shape) / 2.0
        else:
            g = rng.random(p.shape)
        dims = (0, 1) if it % 4 else ((0,), (1,))[it % 8 // 4]
        expected = _summary(_match_by_ranks(p, g, dims, connectivity))
        assert _summary(_match_2d(p, g, dims, connectivity)) == expected, (p.shape, it)


def test_results_survive_later_calls_on_the_working_buffers():
    rng = np.random.default_rng(8)
    a, b = rng.random((37, 53)), rng.random((37, 53))
    first = persistence(a)
    births, death_cells = first[1].births.copy(), first[1].death_cells.copy()
    persistence(b)
    np.testing.assert_array_equal(first[1].births, births)
    np.testing.assert_array_equal(first[1].death_cells, death_cells)
    m = betti_matching(a, b > 0.5)
    matched = m[0].matched_pred.copy(), m[1].pred.birth_cells.copy()
    betti_matching(b, a > 0.5)
    np.testing.assert_array_equal(m[0].matched_pred, matched[0])
    np.testing.assert_array_equal(m[1].pred.birth_cells, matched[1])


def test_threads_use_their_own_buffers():
    rng = np.random.default_rng(9)
    images = [rng.random((41, 29 + i)) for i in range(8)]
    targets = [rng.random(im.shape) > 0.6 for im in images]
    serial = [persistence(im) for im in images]
    for one, par in zip(serial, persistence_batch(images, num_threads=4)):
        for k in (0, 1):
            np.testing.assert_array_equal(par[k].births, one[k].births)
            np.testing.assert_array_equal(par[k].death_cells, one[k].death_cells)
    serial = [betti_matching(im, t) for im, t in zip(images, targets)]
    for one, par in zip(serial, betti_matching_batch(images, targets, num_threads=4)):
        assert [m.num_matched for m in par] == [m.num_matched for m in one]
        assert par.error == one.error
