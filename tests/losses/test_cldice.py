"""SoftClDiceLoss: soft skeleton honours the iteration count; clDice values on analytic cases."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from nnunet_topo.losses import SoftClDiceLoss
from nnunet_topo.losses.cldice import soft_skeleton


def test_skeleton_of_thick_bar_needs_half_thickness_iterations():
    bar = torch.zeros(1, 1, 11, 23, dtype=torch.float64)
    bar[0, 0, 3:8, 2:21] = 1.0  # thickness 5 -> half-thickness 2
    assert soft_skeleton(bar, 1).abs().sum() == 0
    skel = soft_skeleton(bar, 2)[0, 0]
    rows = torch.nonzero(skel)[:, 0]
    assert len(rows) > 0 and bool((rows == 5).all())  # only the centre line
    assert torch.equal(skel[5, 4:19], torch.ones(15, dtype=torch.float64))


def test_skeleton_3d_thick_slab():
    slab = torch.zeros(1, 1, 9, 10, 12, dtype=torch.float64)
    slab[0, 0, 3:6, 1:9, 1:11] = 1.0  # thickness 3 along axis 0
    assert soft_skeleton(slab, 0).abs().sum() == 0
    nz = torch.nonzero(soft_skeleton(slab, 1)[0, 0])
    assert len(nz) > 0 and bool((nz[:, 0] == 4).all())


def test_perfect_prediction_gives_zero_and_disjoint_gives_one():
    t = np.zeros((9, 14))
    t[4, 1:13] = 1
    target = torch.tensor(t).reshape(1, 1, 9, 14)
    logits = torch.tensor((2 * t - 1) * 40.0).reshape(1, 1, 9, 14)  # sigmoid -> exactly 0/1 in float64... nearly
    loss = SoftClDiceLoss(nonlinearity="sigmoid", smooth=1e-8)
    assert float(loss(logits, target)) < 1e-9
    # prediction on a different row: skeleton of P misses T and skeleton of T misses P
    p = np.zeros((9, 14))
    p[1, 1:13] = 1
    logits2 = torch.tensor((2 * p - 1) * 40.0).reshape(1, 1, 9, 14)
    assert float(loss(logits2, target)) == pytest.approx(1.0, abs=1e-6)


def test_known_value_half_coverage():
    """Prediction = left half of a line target: Tprec = 1, Tsens = 1/2 -> clDice = 2/3."""
    t = np.zeros((5, 12))
    t[2, 1:11] = 1
    p = np.zeros((5, 12))
    p[2, 1:6] = 1
    loss = SoftClDiceLoss(nonlinearity="sigmoid", smooth=1e-10, num_iter=2)
    v = loss(torch.tensor((2 * p - 1) * 40.0).reshape(1, 1, 5, 12), torch.tensor(t).reshape(1, 1, 5, 12))
    assert float(v) == pytest.approx(1 / 3, abs=1e-6)


def test_gradients_finite_on_degenerate_inputs():
    loss = SoftClDiceLoss()
    for logits in (torch.zeros(1, 2, 6, 9), torch.full((1, 2, 6, 9), 3.0)):
        logits = logits.double().requires_grad_()
        for target in (torch.zeros(1, 1, 6, 9), torch.ones(1, 1, 6, 9)):
            v = loss(logits, target)
            v.backward()
            assert torch.isfinite(v) and torch.isfinite(logits.grad).all()


def test_gradcheck():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(1, 2, 5, 7, generator=g, dtype=torch.float64, requires_grad=True)
    target = torch.randint(0, 2, (1, 1, 5, 7), generator=g)
    assert torch.autograd.gradcheck(lambda x: SoftClDiceLoss(num_iter=2)(x, target), (logits,))
