"""Betti matching: analytic cases with exact expected matchings, result types, input checks."""
from __future__ import annotations

import numpy as np
import pytest

from nnunet_topo.topology import (
    BettiMatchingResult,
    DimensionMatching,
    betti_matching,
    betti_matching_batch,
    persistence,
)


def ring(shape, top, left, height, width, value=1.0):
    """A one-pixel-thick rectangular ring (one loop with 8- and with 4-connectivity)."""
    a = np.zeros(shape)
    a[top:top + height, left:left + width] = value
    a[top + 1:top + height - 1, left + 1:left + width - 1] = 0.0
    return a


def counts(result, k):
    m = result[k]
    return m.num_matched, m.num_unmatched_pred, m.num_unmatched_target


@pytest.mark.parametrize("connectivity", ["full", "face"])
@pytest.mark.parametrize("shape", [(9, 13), (5, 7, 9)])
def test_identical_inputs_match_everything(shape, connectivity):
    rng = np.random.default_rng(0)
    p = rng.random(shape)
    r = betti_matching(p, p.copy(), connectivity=connectivity)
    ph = persistence(p, connectivity=connectivity)
    assert r.error == 0
    for k in r.dims:
        m = r[k]
        assert m.num_matched == len(ph[k]) == len(m.pred) == len(m.target)
        # each bar is matched to the same bar of the other copy
        np.testing.assert_array_equal(m.pred.births[m.matched_pred], m.target.births[m.matched_target])
        np.testing.assert_array_equal(m.pred.birth_cells[m.matched_pred], m.target.birth_cells[m.matched_target])
        np.testing.assert_array_equal(m.pred.deaths[m.matched_pred], m.target.deaths[m.matched_target])


@pytest.mark.parametrize("connectivity", ["full", "face"])
def test_broken_ring_leaves_the_target_loop_unmatched(connectivity):
    target = ring((9, 14), 1, 2, 6, 9)
    pred = 0.9 * target
    pred[3, 2] = 0.0  # break the left side once
    r = betti_matching(pred, target, connectivity=connectivity)
    assert counts(r, 0) == (1, 0, 0)  # one component each, the essential bars match
    assert counts(r, 1) == (0, 0, 1)  # the target's loop has no partner
    m = r[1]
    assert m.target.births[m.unmatched_target[0]] == 1.0 and m.target.deaths[m.unmatched_target[0]] == 0.0
    assert r.error == 1 and r.errors == (0, 1)


def test_spurious_blob_is_unmatched_in_the_prediction():
    target = np.zeros((10, 16))
    target[2:6, 2:6] = 1
    pred = 0.8 * target
    pred[6:9, 10:14] = 0.7  # a blob the target does not have
    r = betti_matching(pred, target)
    assert counts(r, 0) == (1, 1, 0)
    m = r[0]
    bar = m.unmatched_pred[0]
    assert (m.pred.births[bar], m.pred.deaths[bar]) == (0.7, 0.0)
    assert 6 <= m.pred.birth_cells[bar][0] < 9 and 10 <= m.pred.birth_cells[bar][1] < 14
    assert counts(r, 1) == (0, 0, 0)


def test_missing_blob_is_unmatched_in_the_target():
    target = np.zeros((10, 16))
    target[2:6, 2:6] = 1
    target[6:9, 10:14] = 1
    pred = np.zeros_like(target)
    pred[2:6, 2:6] = 0.9
    pred[6:9, 10:14] = 0.2  # too faint: still a component, but born late
    r = betti_matching(pred, target)
    # the faint blob is still a component of the prediction at 0.2: both blobs match
    assert counts(r, 0) == (2, 0, 0)
    pred[6:9, 10:14] = 0.0  # now it is really missing
    r = betti_matching(pred, target)
    assert counts(r, 0) == (1, 0, 1)
    m = r[0]
    assert m.target.birth_cells[m.unmatched_target[0]].tolist() in [[6, 10], [2, 2]]


@pytest.mark.parametrize("shape,shift", [((12, 20), (0, 8)), ((6, 12, 14), (0, 0, 7))])
def test_shifted_blob_is_unmatched_on_both_sides(shape, shift):
    """Betti numbers agree (two components each) but the second blobs do not overlap."""
    target = np.zeros(shape)
    pred = np.zeros(shape)
    anchor = tuple(slice(1, 4) for _ in shape)
    target[anchor] = 1
    pred[anchor] = 0.9
    blob = tuple(slice(1, 4) if s == 0 else slice(s, s + 3) for s in shift)
    moved = tuple(slice(1, 4) if s == 0 else slice(s + 3 + 1, s + 7) for s in shift)
    target[blob] = 1
    pred[moved] = 0.8
    r = betti_matching(pred, target)
    assert counts(r, 0) == (1, 1, 1)
    assert r.error == 2


def test_overlapping_shifted_blob_is_matched():
    target = np.zeros((10, 20))
    target[2:7, 3:8] = 1
    pred = np.zeros_like(target)
    pred[2:7, 5:10] = 0.9  # shifted but overlapping
    r = betti_matching(pred, target)
    assert counts(r, 0) == (1, 0, 0) and r.error == 0


def test_cavity_in_3d():
    target = np.zeros((7, 8, 9))
    target[1:6, 1:7, 1:8] = 1
    target[2:5, 2:6, 2:7] = 0  # a hollow box: one cavity
    pred = target * 0.9
    pred[3, 3, 1] = 0.0  # a hole in the wall opens the cavity
    r = betti_matching(pred, target)
    assert counts(r, 0) == (1, 0, 0)
    assert counts(r, 1) == (0, 0, 0)
    assert counts(r, 2) == (0, 0, 1)
    r = betti_matching(target * 0.7, target)
    assert [counts(r, k) for k in (0, 1, 2)] == [(1, 0, 0), (0, 0, 0), (1, 0, 0)]


def test_loop_in_3d():
    target = np.zeros((5, 9, 10))
    target[2] = ring((9, 10), 1, 1, 7, 8)
    pred = 0.9 * target
    r = betti_matching(pred, target)
    assert [counts(r, k) for k in (0, 1, 2)] == [(1, 0, 0), (1, 0, 0), (0, 0, 0)]
    pred[2, 4, 1] = 0.0  # broken
    r = betti_matching(pred, target)
    assert [counts(r, k) for k in (0, 1, 2)] == [(1, 0, 0), (0, 0, 1), (0, 0, 0)]
    # a second, displaced loop in the prediction instead of the target's one
    pred = np.zeros_like(target)
    pred[2] = 0.9 * ring((9, 10), 1, 1, 7, 8)
    pred[2, 4, 1] = 0.0
    pred[4] = 0.8 * ring((9, 10), 1, 1, 7, 8)
    r = betti_matching(pred, target)
    assert counts(r, 1) == (0, 1, 1)


def test_diagonal_ring_depends_on_connectivity():
    """A diamond closed only through corners is a loop for 8-connectivity, not for 4."""
    rows, cols = np.indices((9, 11))
    target = (np.abs(rows - 4) + np.abs(cols - 5) == 3).astype(float)
    pred = 0.9 * target
    full = betti_matching(pred, target, connectivity="full")
    face = betti_matching(pred, target, connectivity="face")
    assert counts(full, 1) == (1, 0, 0)
    assert counts(face, 1) == (0, 0, 0)
    assert face[0].num_matched == len(face[0].pred) > 1


def test_binary_prediction_against_probability_target():
    rng = np.random.default_rng(3)
    target = rng.random((11, 17))
    pred = (target > 0.5).astype(np.uint8)
    r = betti_matching(pred, target)
    assert r[0].pred.births.dtype == np.float64
    assert set(np.unique(r[0].pred.births)) <= {1.0}


def test_result_types_are_immutable_and_consistent():
    rng = np.random.default_rng(1)
    p = rng.random((12, 9))
    t = (rng.random((12, 9)) > 0.5).astype(float)
    r = betti_matching(p, t)
    assert isinstance(r, BettiMatchingResult) and r.shape == (12, 9) and r.connectivity == "full"
    assert r.dims == (0, 1)
    m = r[1]
    assert isinstance(m, DimensionMatching) and m.dim == 1
    with pytest.raises(Exception):
        r.shape = (1, 1)
    with pytest.raises(ValueError):
        m.matched_pred[...] = 0
    for m in r:
        both = np.concatenate([m.matched_pred, m.unmatched_pred])
        assert sorted(both.tolist()) == list(range(len(m.pred)))
        both = np.concatenate([m.matched_target, m.unmatched_target])
        assert sorted(both.tolist()) == list(range(len(m.target)))
        assert m.error == m.num_unmatched_pred + m.num_unmatched_target
        # matched bars: the prediction's bar and the target's bar overlap in the comparison image
        assert np.all(m.pred.births[m.matched_pred] > m.target.deaths[m.matched_target])
        assert np.all(m.target.births[m.matched_target] > m.pred.deaths[m.matched_pred])
    assert r.error == sum(m.error for m in r)
    with pytest.raises(KeyError, match="matched dims"):
        r[2]


def test_dims_option():
    rng = np.random.default_rng(2)
    p, t = rng.random((6, 7, 8)), rng.random((6, 7, 8))
    full = betti_matching(p, t)
    for dims in (0, [2], (0, 1)):
        r = betti_matching(p, t, dims=dims)
        for k in r.dims:
            assert counts(r, k) == counts(full, k)


def test_diagrams_equal_the_engine_values():
    rng = np.random.default_rng(4)
    for shape in [(13, 8), (5, 6, 7)]:
        p = rng.random(shape)
        t = (rng.random(shape) > 0.4).astype(float)
        r = betti_matching(p, t)
        for x, side in ((p, "pred"), (t, "target")):
            ph = persistence(x)
            for k in r.dims:
                ours = getattr(r[k], side)
                np.testing.assert_array_equal(np.sort(ours.births), np.sort(ph[k].births))
                np.testing.assert_array_equal(np.sort(ours.deaths), np.sort(ph[k].deaths))
                np.testing.assert_array_equal(ours.essential.sum(), ph[k].essential.sum())
                # the cells carry the values
                fin = ~ours.essential
                np.testing.assert_array_equal(x.ravel()[ours.birth_index], ours.births)
                np.testing.assert_array_equal(x.ravel()[ours.death_index[fin]], ours.deaths[fin])


def test_batch_equals_single_calls():
    rng = np.random.default_rng(5)
    preds = [rng.random((10, 12)) for _ in range(3)] + [rng.random((4, 5, 6))]
    targets = [(rng.random(p.shape) > 0.5).astype(float) for p in preds]
    batch = betti_matching_batch(preds, targets, num_threads=2)
    for p, t, b in zip(preds, targets, batch):
        s = betti_matching(p, t)
        assert b.errors == s.errors
        for k in s.dims:
            np.testing.assert_array_equal(b[k].matched_pred, s[k].matched_pred)
            np.testing.assert_array_equal(b[k].matched_target, s[k].matched_target)
    assert betti_matching_batch([], []) == []


@pytest.mark.parametrize(
    "pred,target,exc,match",
    [
        (np.zeros((4, 5)), np.zeros((5, 4)), ValueError, "same shape"),
        (np.zeros(4), np.zeros(4), ValueError, "2D or 3D"),
        (np.full((3, 3), np.nan), np.zeros((3, 3)), ValueError, "NaN"),
        (np.zeros((3, 3), dtype=complex), np.zeros((3, 3)), TypeError, "real numeric"),
    ],
)
def test_bad_input(pred, target, exc, match):
    with pytest.raises(exc, match=match):
        betti_matching(pred, target)


def test_bad_options():
    with pytest.raises(ValueError, match="connectivity"):
        betti_matching(np.zeros((3, 3)), np.zeros((3, 3)), connectivity="8")
    with pytest.raises(ValueError, match="dims"):
        betti_matching(np.zeros((3, 3)), np.zeros((3, 3)), dims=2)
    with pytest.raises(ValueError, match="same number"):
        betti_matching_batch([np.zeros((3, 3))], [])
    with pytest.raises(ValueError, match="num_threads"):
        betti_matching_batch([np.zeros((3, 3))], [np.zeros((3, 3))], num_threads=0)
