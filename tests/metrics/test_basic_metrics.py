"""Dice, clDice, Betti errors, Euler characteristic and slice agreement on analytic cases and oracles."""
from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from scipy import ndimage
from skimage.measure import euler_number

from nnunet_topo.metrics import (BettiErrorMetric, ClDiceMetric, DiceMetric, EulerErrorMetric, SliceTopologyMetric,
                                 betti_errors, cldice, dice, euler_characteristic, euler_error, mask_betti_numbers,
                                 slice_betti_numbers, slice_prior_agreement, slice_target_agreement)


def scipy_betti_2d(mask: np.ndarray, connectivity: str) -> tuple[int, int]:
    """Oracle: b0 = foreground components, b1 = background components not touching the border."""
    fg = ndimage.generate_binary_structure(2, 2 if connectivity == "full" else 1)
    bg = ndimage.generate_binary_structure(2, 1 if connectivity == "full" else 2)
    b0 = ndimage.label(mask, structure=fg)[1]
    padded = np.pad(~mask, 1, constant_values=True)
    b1 = ndimage.label(padded, structure=bg)[1] - 1
    return b0, b1


def test_dice_analytic(shapes):
    assert dice(shapes["blob"], shapes["blob"]) == 1.0
    assert dice(shapes["shifted_blob"], shapes["blob"]) == pytest.approx(2 * 36 / 96)
    assert dice(shapes["blob"], np.zeros_like(shapes["blob"])) == 0.0
    assert math.isnan(dice(np.zeros((3, 5)), np.zeros((3, 5))))
    ignore = np.zeros_like(shapes["blob"])
    ignore[:, 14:] = True  # ignore the columns where only the shifted blob is
    assert dice(shapes["shifted_blob"], shapes["blob"], ignore_mask=ignore) == pytest.approx(2 * 36 / (36 + 48))


def test_cldice_lines_2d_and_3d():
    gt = np.zeros((5, 30), bool)
    gt[2, 3:23] = True  # a 1-pixel line of 20 pixels is its own skeleton
    pred = np.zeros_like(gt)
    pred[2, 3:13] = True  # first half: Tprec = 1, Tsens = 1/2
    assert cldice(gt, gt) == 1.0
    assert cldice(pred, gt) == pytest.approx(2 * 1 * 0.5 / 1.5)
    gt3 = np.zeros((4, 5, 30), bool)
    gt3[2, 2, 3:23] = True
    pred3 = np.zeros_like(gt3)
    pred3[2, 2, 3:13] = True
    assert cldice(pred3, gt3) == pytest.approx(2 / 3)
    # per slice: a stack of the 2D lines gives the 2D value; a 1-voxel 3D line lies in one slice
    assert cldice(np.stack([pred, pred]), np.stack([gt, gt]), per_slice=True) == pytest.approx(2 / 3)
    assert cldice(pred3, gt3, per_slice=True) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="per_slice"):
        cldice(pred, gt, per_slice=True)
    assert cldice(np.zeros_like(gt), gt) == 0.0
    assert math.isnan(cldice(np.zeros_like(gt), np.zeros_like(gt)))


def test_cldice_thick_ring_against_broken(shapes):
    # the broken ring lies inside the ring: every predicted skeleton pixel is in the target
    sp_in_t = cldice(shapes["broken_ring"], shapes["ring"])
    assert 0.5 < sp_in_t < 1.0


@pytest.mark.parametrize("connectivity", ["full", "face"])
def test_betti_numbers_against_scipy(shapes, connectivity):
    rng = np.random.default_rng(1)
    masks = list(shapes.values()) + [ndimage.binary_opening(rng.random((23, 31)) > 0.55) for _ in range(5)]
    for m in masks:
        assert mask_betti_numbers(m, connectivity=connectivity) == scipy_betti_2d(m, connectivity)


def test_betti_errors_analytic(shapes):
    assert betti_errors(shapes["ring"], shapes["ring"]) == (0, 0)
    assert betti_errors(shapes["broken_ring"], shapes["ring"]) == (0, 1)
    assert betti_errors(shapes["ring_with_island"], shapes["ring"]) == (1, 0)
    assert betti_errors(shapes["two_blobs"], shapes["blob"]) == (1, 0)
    assert betti_errors(shapes["shifted_blob"], shapes["blob"]) == (0, 0)
    metric = BettiErrorMetric()
    metric(shapes["broken_ring"], shapes["ring"])
    metric(shapes["ring_with_island"], shapes["ring"])
    assert metric.aggregate() == (0.5, 0.5)


def test_betti_connectivity_changes_diagonal_contact():
    m = np.zeros((6, 9), bool)
    m[1, 1] = m[2, 2] = True  # diagonal neighbours
    assert mask_betti_numbers(m, connectivity="full") == (1, 0)
    assert mask_betti_numbers(m, connectivity="face") == (2, 0)


@pytest.mark.parametrize("connectivity,sk", [("full", 2), ("face", 1)])
def test_euler_against_skimage_2d(shapes, connectivity, sk):
    rng = np.random.default_rng(2)
    masks = list(shapes.values()) + [rng.random((17, 29)) > 0.5 for _ in range(5)]
    for m in masks:
        assert euler_characteristic(m, connectivity=connectivity) == euler_number(m, connectivity=sk)


@pytest.mark.parametrize("connectivity,sk", [("full", 3), ("face", 1)])
def test_euler_against_skimage_3d(connectivity, sk):
    rng = np.random.default_rng(3)
    for _ in range(4):
        m = ndimage.binary_opening(rng.random((9, 11, 13)) > 0.5)
        assert euler_characteristic(m, connectivity=connectivity) == euler_number(m, connectivity=sk)


def test_euler_error(shapes):
    assert euler_error(shapes["broken_ring"], shapes["ring"]) == 1
    assert euler_error(shapes["ring_with_island"], shapes["broken_ring"]) == 0  # chi 2-1 = 1-0
    assert euler_error(shapes["two_blobs"], shapes["ring"]) == 2
    metric = EulerErrorMetric(connectivity="face")
    assert metric(shapes["two_blobs"], shapes["blob"]) == 1


def test_slices():
    from _metric_shapes import broken_ring, ring

    vol_gt = np.stack([ring(), ring(), ring(), np.zeros_like(ring())])
    vol_pred = np.stack([ring(), broken_ring(), ring(), ring()])
    np.testing.assert_array_equal(slice_betti_numbers(vol_pred), [[1, 1], [1, 0], [1, 1], [1, 1]])
    # prior holds on the 3 slices where the ground truth has the structure; slice 1 is broken
    assert slice_prior_agreement(vol_pred, (1, 1), target=vol_gt) == pytest.approx(2 / 3)
    # without a target: the 4 slices where the prediction has foreground
    assert slice_prior_agreement(vol_pred, (1, 1)) == pytest.approx(3 / 4)
    # vs the ground truth over slices where either has foreground: slices 1 and 3 disagree
    assert slice_target_agreement(vol_pred, vol_gt) == pytest.approx(2 / 4)
    assert math.isnan(slice_target_agreement(np.zeros((2, 3, 4)), np.zeros((2, 3, 4))))
    metric = SliceTopologyMetric(prior=(1, 1))
    assert metric(vol_pred, vol_gt) == pytest.approx(2 / 3)


def test_metric_classes_aggregate_nan(shapes):
    m = DiceMetric()
    assert math.isnan(m.aggregate())
    m(np.zeros((3, 4)), np.zeros((3, 4)))
    assert math.isnan(m.aggregate())
    m(shapes["blob"], shapes["blob"])
    assert m.aggregate() == 1.0
    m.reset()
    assert math.isnan(m.aggregate())
    c = ClDiceMetric()
    c(shapes["ring"], shapes["ring"])
    assert c.aggregate() == 1.0


class _FakeTensor:
    def detach(self):  # pragma: no cover - only the attribute matters
        return self

    def cpu(self):  # pragma: no cover
        return self


def test_bad_inputs(shapes):
    labels = shapes["blob"].astype(np.uint8) * 2
    with pytest.raises(ValueError, match="binary mask"):
        dice(labels, shapes["blob"])
    with pytest.raises(ValueError, match="same shape"):
        betti_errors(shapes["blob"], shapes["blob"][:, :-1])
    with pytest.raises(ValueError, match="2D or 3D"):
        cldice(np.zeros(5), np.zeros(5))
    with pytest.raises(TypeError, match="tensor"):
        dice(_FakeTensor(), shapes["blob"])
    with pytest.raises(ValueError, match="connectivity"):
        betti_errors(shapes["blob"], shapes["blob"], connectivity="8")
    with pytest.raises(ValueError, match="connectivity"):
        BettiErrorMetric(connectivity="diagonal")
    with pytest.raises(ValueError, match="NaN"):
        dice(np.full((3, 4), np.nan), np.zeros((3, 4)))
    with pytest.raises(ValueError, match="prior"):
        SliceTopologyMetric(prior=(1, 1, 0))
    with pytest.raises(ValueError, match="3D"):
        slice_betti_numbers(shapes["blob"])


def test_no_torch_import():
    code = ("import sys; import nnunet_topo.metrics, nnunet_topo.evaluation, nnunet_topo.evaluation.cli; "
            "import nnunet_topo.evaluation.report, nnunet_topo.evaluation.error_maps; "
            "assert 'torch' not in sys.modules, sorted(m for m in sys.modules if m.startswith('torch'))")
    subprocess.run([sys.executable, "-c", code], check=True)
