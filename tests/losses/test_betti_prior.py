"""BettiPriorLoss: analytic values (Clough eq. 3-4), priors, only_if_whole, gradcheck, degenerate input."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from nnunet_topo.losses import BettiPriorLoss
from nnunet_topo.topology import persistence

from .conftest import logits_from_probs, ring


def test_perfect_ring_gives_zero():
    p = ring()
    loss = BettiPriorLoss(priors={0: (1, 1)}, nonlinearity="sigmoid")
    v = loss(logits_from_probs(p))
    assert float(v) < 1e-10
    assert loss.last_stats["num_wrong_features"] == 0


@pytest.mark.parametrize("q", [0.0, 0.3, 0.45])
def test_broken_ring_expected_value(q):
    """A gap of probability q: the loop is born at q and dies at 0, so L1 = 1 - q^2 (L0 = 0)."""
    p = ring()
    p[9:12, 15:21] *= q  # the ring pixels of the gap carry q (the loop closes there)
    v = BettiPriorLoss(priors={0: (1, 1)}, nonlinearity="sigmoid")(logits_from_probs(p))
    expected = 1.0 if q == 0.0 else 1.0 - q**2  # q = 0: no loop at all -> one missing bar costs 1
    assert float(v) == pytest.approx(expected, abs=1e-9)


def test_extra_component_is_pushed_down():
    """Disk (prior (1, 0)) plus a blob of height h: L0 = (1 - 1) + h^2."""
    p = np.zeros((14, 19))
    p[2:7, 2:7] = 1.0
    p[9:12, 12:16] = 0.7
    loss = BettiPriorLoss(priors={0: (1, 0)}, nonlinearity="sigmoid", reduction="sum")
    x = logits_from_probs(p).requires_grad_()
    v = loss(x)
    assert float(v.detach()) == pytest.approx(0.7**2, abs=1e-9)
    assert loss.last_stats["num_wrong_features"] == 1
    v.backward()
    # only the blob's birth pixel gets a sizeable gradient (others sit at saturated p = 0 / 1),
    # and it pushes the blob down (positive d/dlogit): 2 h * h (1 - h)
    nz = torch.nonzero(x.grad[0, 0].abs() > 1e-9)
    assert len(nz) == 1 and 9 <= nz[0, 0] < 12 and 12 <= nz[0, 1] < 16
    assert float(x.grad[0, 0, nz[0, 0], nz[0, 1]]) == pytest.approx(2 * 0.7 * 0.7 * 0.3, rel=1e-9)
    assert float(x.grad[0, 0, nz[0, 0], nz[0, 1]]) > 0


def test_against_gudhi_diagram_sum():
    """Loss equals the formula evaluated directly on the engine's diagram of a random map."""
    rng = np.random.default_rng(3)
    p = rng.random((8, 11))
    res = persistence(p)
    expected = 0.0
    for k, beta in enumerate((2, 1)):
        dg = res[k]
        pers = np.sort(dg.births - np.where(dg.essential, 0.0, dg.deaths))[::-1]
        expected += (1 - pers[:beta] ** 2).sum() + (pers[beta:] ** 2).sum() + max(beta - len(pers), 0)
    v = BettiPriorLoss(priors={0: (2, 1)}, nonlinearity="sigmoid")(logits_from_probs(p))
    assert float(v) == pytest.approx(expected, rel=1e-6)


def test_softmax_multi_class_and_only_if_whole():
    lab = np.zeros((20, 24), dtype=np.int64)
    lab[ring() > 0] = 1
    yy, xx = np.mgrid[:20, :24]
    lab[np.hypot(yy - 10, xx - 12) < 4] = 2  # blood pool inside the ring
    from .conftest import softmax_logits

    logits = softmax_logits(lab, 3)
    target = torch.tensor(lab).reshape(1, 1, 20, 24)
    loss = BettiPriorLoss(priors={1: (1, 1), 2: (1, 0)}, reduction="none")
    assert loss(logits, target).abs().max() < 1e-10
    # structure cut by the patch border: only_if_whole switches the term off for that class
    cut_logits, cut_target = logits[..., :, :8], target[..., :, :8]
    whole = BettiPriorLoss(priors={1: (1, 1), 2: (1, 0)}, only_if_whole=True, reduction="none")
    v = whole(cut_logits, cut_target)
    assert torch.equal(v, torch.zeros(1, 2, dtype=v.dtype))
    assert whole.last_stats["num_active_terms"] == 0
    with pytest.raises(ValueError, match="target is required"):
        whole(cut_logits)


def test_ill_priors():
    with pytest.raises(ValueError):
        BettiPriorLoss(priors=None)
    with pytest.raises(ValueError):
        BettiPriorLoss(priors={1: (1, -1)})
    with pytest.raises(ValueError):
        BettiPriorLoss(priors={1: "11"})
    with pytest.raises(ValueError, match="no entry"):
        BettiPriorLoss(priors={1: (1, 0)}, classes=[1, 2])
    with pytest.raises(ValueError, match="do not fit"):
        BettiPriorLoss(priors={1: (1, 0, 0)})(torch.zeros(1, 2, 5, 6), torch.zeros(1, 1, 5, 6))


def test_slice_wise_3d_equals_mean_of_slices():
    rng = np.random.default_rng(0)
    logits = torch.tensor(rng.normal(size=(1, 2, 3, 7, 9)))
    target = torch.zeros(1, 1, 3, 7, 9)
    loss = BettiPriorLoss(priors={1: (1, 1)}, slice_axis=0, reduction="none")
    ref = np.mean([float(BettiPriorLoss(priors={1: (1, 1)})(logits[:, :, s], target[:, :, s])) for s in range(3)])
    assert float(loss(logits, target)[0, 0]) == pytest.approx(ref, rel=1e-9)


def test_3d_prior():
    p = np.zeros((6, 7, 8))
    p[1:5, 1:6, 1:7] = 1.0
    p[2:4, 3, 3:5] = 0.0  # a cavity
    v = BettiPriorLoss(priors={0: (1, 0, 1)}, nonlinearity="sigmoid")(logits_from_probs(p))
    assert float(v) < 1e-10


def test_gradcheck_float64():
    rng = np.random.default_rng(1)
    x = torch.tensor(rng.normal(size=(1, 2, 5, 7)), requires_grad=True)
    loss = BettiPriorLoss(priors={1: (1, 1)})
    assert torch.autograd.gradcheck(lambda z: loss(z), (x,))


@pytest.mark.parametrize("value", [0.0, 5.0, -5.0])
def test_degenerate_constant_logits_finite(value):
    x = torch.full((2, 3, 6, 9), value, dtype=torch.float64, requires_grad=True)
    target = torch.zeros(2, 1, 6, 9, dtype=torch.long)
    v = BettiPriorLoss(priors={1: (1, 1), 2: (1, 0)})(x, target)
    v.backward()
    assert torch.isfinite(v) and torch.isfinite(x.grad).all()
