"""BettiMatchingLoss: analytic values of each term (matched, unmatched prediction, unmatched target)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from nnunet_topo.losses import BettiMatchingLoss

from .conftest import logits_from_probs, ring


def _disk(shape, center, radius):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (np.hypot(yy - center[0], xx - center[1]) <= radius).astype(np.float64)


def _loss(p, t, **kw):
    loss = BettiMatchingLoss(nonlinearity="sigmoid", reduction="sum", **kw)
    x = logits_from_probs(p).requires_grad_()
    v = loss(x, torch.tensor(t)[None, None])
    v.backward()
    return float(v.detach()), x.grad[0, 0].numpy(), loss


def test_unmatched_prediction_bar_pushed_to_diagonal():
    t = _disk((20, 23), (9, 8), 4)
    p = 0.01 + 0.97 * t  # disk at 0.98, background 0.01
    p[14:17, 17:20] = 0.7  # spurious blob
    v, g, loss = _loss(p, t)
    # matched essential bar: 2 (0.98 - 1)^2 ; blob: (0.7 - 0.01)^2
    assert v == pytest.approx(2 * 0.02**2 + 0.69**2, rel=1e-9)
    assert loss.last_stats["num_wrong_features"] == 1
    assert np.count_nonzero(np.abs(g) > 1e-12) <= 3  # essential birth + blob birth + blob death


def test_unmatched_target_bar_raises_its_cells():
    t = _disk((20, 23), (6, 6), 3) + _disk((20, 23), (13, 16), 3)
    p = 0.01 + 0.97 * _disk((20, 23), (6, 6), 3)  # the second disk is missing
    v, g, loss = _loss(p, t)
    assert v == pytest.approx(2 * 0.02**2 + 2 * ((0.01 - 1) ** 2 + 0.01**2), rel=1e-9)
    assert loss.last_stats["num_wrong_features"] == 1
    assert (g[10:17, 13:20] < 0).sum() == 1  # one birth cell inside the missing disk is raised


def test_zero_when_equal_and_ring_hole_matched():
    t = ring()
    v, g, loss = _loss(np.where(t > 0, 1 - 1e-12, 1e-12), t)
    assert v < 1e-20 and loss.last_stats["num_wrong_features"] == 0


def test_ignore_label_drops_terms_in_ignored_region():
    t = _disk((20, 23), (9, 8), 4)
    p = 0.01 + 0.97 * t
    p[14:17, 17:20] = 0.7
    lab = t.astype(np.int64)
    lab[12:20, 15:23] = 9
    x = torch.tensor(np.stack([np.zeros_like(p), np.log(p / (1 - p))]))[None].requires_grad_()
    loss = BettiMatchingLoss(ignore_label=9, reduction="sum")
    v = loss(x, torch.tensor(lab)[None, None])
    assert float(v.detach()) == pytest.approx(2 * 0.02**2, rel=1e-9)


def test_gradcheck_float64():
    rng = np.random.default_rng(2)
    x = torch.tensor(rng.normal(size=(1, 2, 5, 7)), requires_grad=True)
    target = torch.tensor(rng.integers(0, 2, size=(1, 1, 5, 7)))
    loss = BettiMatchingLoss()
    assert torch.autograd.gradcheck(lambda z: loss(z, target), (x,))


@pytest.mark.parametrize("value", [0.0, 3.0])
def test_degenerate_finite(value):
    x = torch.full((1, 2, 6, 9), value, dtype=torch.float64, requires_grad=True)
    for target in (torch.zeros(1, 1, 6, 9, dtype=torch.long), torch.ones(1, 1, 6, 9, dtype=torch.long)):
        v = BettiMatchingLoss()(x, target)
        v.backward()
        assert torch.isfinite(v) and torch.isfinite(x.grad).all()
    with pytest.raises(ValueError, match="target is required"):
        BettiMatchingLoss()(x)
