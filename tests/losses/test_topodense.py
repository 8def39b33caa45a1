"""TopoDenseLoss: which pixels get gradient, in which direction, with which weight; exact zeros; priors."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from nnunet_topo.losses import BettiMatchingLoss, TopoDenseLoss

from .conftest import logits_from_probs, ring


def _broken_ring_with_blob():
    """Target: a ring on a 40x44 grid. Prediction: the ring with a 7x7 gap cut and a 4x4 blob added."""
    t = ring((40, 44), (20, 22), 6.0, 10.0)
    p = 0.02 + 0.95 * t
    p[17:24, 27:34] = np.where(t[17:24, 27:34] > 0, 0.05, p[17:24, 27:34])  # the gap (ring pixels only)
    p[2:6, 2:6] = 0.9  # spurious blob
    return p, t


def _run(loss, p, t):
    x = logits_from_probs(p).requires_grad_()
    v = loss(x, torch.tensor(t).reshape(1, 1, *t.shape))
    v.backward()
    return v.detach(), x.grad[0, 0].numpy()


def test_zero_loss_and_gradient_when_prediction_equals_target():
    t = ring((40, 44), (20, 22), 6.0, 10.0)
    for nonlinearity, x in (("sigmoid", logits_from_probs(t * 0.98 + 0.01)),
                            ("softmax", torch.tensor(np.stack([-(2 * t - 1), 2 * t - 1]) * 5.0)[None])):
        x = x.clone().requires_grad_()
        loss = TopoDenseLoss(nonlinearity=nonlinearity)
        v = loss(x, torch.tensor(t).reshape(1, 1, 40, 44).long())
        v.backward()
        assert float(v.detach()) == 0.0 and torch.count_nonzero(x.grad) == 0
        assert loss.last_stats["num_wrong_features"] == 0


def test_noise_bars_outside_the_band_get_no_weight():
    """Many low-persistence bars far from the threshold: the binarised topology is right, loss 0."""
    rng = np.random.default_rng(0)
    t = ring((40, 44), (20, 22), 6.0, 10.0)
    p = np.where(t > 0, 0.75 + 0.24 * rng.random(t.shape), 0.3 * rng.random(t.shape))
    loss = TopoDenseLoss(nonlinearity="sigmoid")
    v, g = _run(loss, p, t)
    assert float(v) == 0.0 and not g.any()
    # the sparse loss sees hundreds of noise bars
    sparse = BettiMatchingLoss(nonlinearity="sigmoid")
    sparse(logits_from_probs(p), torch.tensor(t).reshape(1, 1, 40, 44))
    assert sparse.last_stats["num_wrong_features"] > 100


def test_gap_raised_blob_lowered_nothing_else():
    p, t = _broken_ring_with_blob()
    loss = TopoDenseLoss(nonlinearity="sigmoid", support="wrong")
    v, g = _run(loss, p, t)
    assert loss.last_stats["num_wrong_features"] == 2  # the weak ring hole and the blob
    gap = np.zeros_like(t, bool)
    gap[17:24, 27:34] = t[17:24, 27:34] > 0
    blob = np.zeros_like(t, bool)
    blob[2:6, 2:6] = True
    assert np.array_equal(g < 0, gap)  # d loss / d logit < 0: gradient descent raises the gap
    assert np.array_equal(g > 0, blob)  # and lowers the blob
    assert sorted(loss.last_stats["support_sizes"]) == sorted([int(blob.sum()), int(gap.sum())])
    # value: mean over features of each feature's mean BCE
    expected = 0.5 * (-np.log(0.05) - np.log(1 - 0.9))
    assert float(v) == pytest.approx(expected, rel=1e-9)


def test_every_wrong_feature_weighs_the_same():
    """Two spurious blobs of 4 and 36 pixels: equal total gradient per blob, loss independent of size."""
    p = np.full((30, 33), 0.02)
    p[2:4, 2:4] = 0.9
    p[15:21, 20:26] = 0.9
    t = np.zeros_like(p)
    loss = TopoDenseLoss(nonlinearity="sigmoid", reduction="sum")
    v, g = _run(loss, p, t)
    assert float(v) == pytest.approx(-np.log(0.1), rel=1e-9)
    assert g[2:4, 2:4].sum() == pytest.approx(g[15:21, 20:26].sum(), rel=1e-9)
    assert g[2:4, 2:4].sum() + g[15:21, 20:26].sum() == pytest.approx(g.sum(), rel=1e-12)


def test_denser_than_betti_matching_per_wrong_feature():
    p, t = _broken_ring_with_blob()
    _, g_dense = _run(TopoDenseLoss(nonlinearity="sigmoid"), p, t)
    sparse = BettiMatchingLoss(nonlinearity="sigmoid")
    _, g_sparse = _run(sparse, p, t)
    # the sparse loss touches at most two pixels per bar (here 1 unmatched + matched pairs)
    assert np.count_nonzero(g_dense) / 2 >= 10 * 2
    assert np.count_nonzero(np.abs(g_sparse) > 1e-9) <= 2 * 4


def test_fragment_gap_in_a_vessel_is_filled():
    """A line cut by a gap: the fragment is an unmatched bar; the gap pixels (target 1) are raised."""
    t = np.zeros((15, 30))
    t[7, 2:28] = 1
    p = 0.03 + 0.94 * t
    p[7, 12:16] = 0.1  # gap of 4 pixels
    p[6, 13] = 0.2  # the saddle path need not stay inside the target: the support still is the gap
    loss = TopoDenseLoss(nonlinearity="sigmoid", support="wrong")
    _, g = _run(loss, p, t)
    assert loss.last_stats["num_wrong_features"] == 1
    raised = np.zeros_like(t, bool)
    raised[7, 12:16] = True
    assert np.array_equal(g < 0, raised) and not (g > 0).any()


def test_bridge_between_two_components_is_cut():
    """Target: two bars; prediction joins them through a bridge: the bridge (target 0) is lowered."""
    t = np.zeros((12, 20))
    t[3:9, 2:7] = 1
    t[3:9, 12:18] = 1
    p = 0.02 + 0.96 * t
    p[5:7, 7:12] = 0.8  # bridge
    loss = TopoDenseLoss(nonlinearity="sigmoid", support="wrong")
    _, g = _run(loss, p, t)
    bridge = np.zeros_like(t, bool)
    bridge[5:7, 7:12] = True
    assert np.array_equal(g > 0, bridge) and not (g < 0).any()


def _line_with_gap():
    t = np.zeros((15, 30))
    t[7, 2:28] = 1
    p = 0.03 + 0.94 * t
    p[7, 12:16] = 0.1
    return p, t


def _two_bars_with_bridge():
    t = np.zeros((12, 20))
    t[3:9, 2:7] = 1
    t[3:9, 12:18] = 1
    p = 0.02 + 0.96 * t
    p[5:7, 7:12] = 0.8
    return p, t


@pytest.mark.parametrize("case", ["ring+blob", "line+gap", "bridge"])
def test_region_support_adds_the_rest_of_the_carrying_region(case):
    """support="region": the wrong pixels get exactly the gradient of support="wrong"; the other pixels
    of the region (here the fragment of the line / ring that the feature belongs to, or the target
    component a bridge merges) get a pull toward their target class, never away from it."""
    p, t = {"ring+blob": _broken_ring_with_blob, "line+gap": _line_with_gap, "bridge": _two_bars_with_bridge}[case]()
    v_w, g_w = _run(TopoDenseLoss(nonlinearity="sigmoid", support="wrong"), p, t)
    dense = TopoDenseLoss(nonlinearity="sigmoid", support="region")
    v_r, g_r = _run(dense, p, t)
    wrong = ((t > 0.5) & (p < 0.6)) | ((t <= 0.5) & (p > 0.4))
    np.testing.assert_allclose(g_r[wrong], g_w[wrong], rtol=1e-12, atol=0)
    extra = (g_r != 0) & ~wrong
    assert extra.sum() > (g_w != 0).sum()  # denser: the rest of the region
    assert (g_r[t > 0.5] <= 0).all() and (g_r[t <= 0.5] >= 0).all()  # always toward the target
    assert float(v_r) > float(v_w)
    if case == "line+gap":  # region = the unmatched fragment (one side of the gap) + the gap
        side = g_r[7] != 0
        assert side[12:16].all() and (side[2:12].all() != side[16:28].all())
        assert not (g_r[np.arange(15) != 7] != 0).any()


def test_binarised_matching_decides_which_features_are_wrong():
    """Ties of a binarised map are broken toward the target: a spurious blob in the first rows (born
    first in index order) is the unmatched feature, not the true structure it would tie with."""
    t = np.zeros((20, 23))
    t[10:16, 4:20] = 1
    p = 0.02 + 0.96 * t
    p[1:4, 1:4] = 0.99  # spurious blob, brighter than the true structure and first in index order
    loss = TopoDenseLoss(nonlinearity="sigmoid")
    _, g = _run(loss, p, t)
    assert loss.last_stats["num_wrong_features"] == 1
    assert (g[1:4, 1:4] > 0).all() and not (g < 0).any() and np.count_nonzero(g) == 9


@pytest.mark.slow
def test_repairs_the_bench_cases_that_the_continuous_matching_missed(shared_data):
    """Regression: CHASE Image_01R@r565c417 of `nnunet-topo bench repair` (a blob the continuous
    matching paired with a true component) is repaired; the criterion is the binarised Betti matching."""
    from nnunet_topo.benchmarking._repair_corpus import build_corpus
    from nnunet_topo.benchmarking.repair import run_case

    corpus = build_corpus(shared_data, 120, seed=0)
    i = next(k for k, c in enumerate(corpus) if c.name == "CHASE_DB1/Image_01R_1stHO.png@r565c417")
    rec = run_case(corpus[i], "topodense", steps=100, lr=0.1, fidelity=0.01, amplitude=3.0, seed=i)
    assert rec["repaired_at"] is not None and rec["final_dice"] > 0.99


def test_prior_mode_without_target():
    """Ring prior (1, 1) and no target: the gap of a broken ring is raised and a blob lowered."""
    p, t = _broken_ring_with_blob()
    p[19:22, 28:33] = np.where(t[19:22, 28:33] > 0, 0.3, p[19:22, 28:33])  # a ridge across the gap
    loss = TopoDenseLoss(nonlinearity="sigmoid", priors={0: (1, 1)})
    x = logits_from_probs(p).requires_grad_()
    v = loss(x)
    v.backward()
    g = x.grad[0, 0].numpy()
    assert loss.last_stats["num_wrong_features"] == 2
    assert (g[2:6, 2:6] > 0).all()  # blob lowered (cheaper than connecting it)
    raised = np.argwhere(g < 0)
    assert len(raised) > 0 and all(17 <= r < 24 and 27 <= c < 34 for r, c in raised)  # only in the gap
    with pytest.raises(ValueError, match="needs a prior"):
        TopoDenseLoss(nonlinearity="sigmoid")(x)


def test_ignored_pixels_get_no_gradient():
    p, t = _broken_ring_with_blob()
    lab = t.astype(np.int64)
    lab[0:8, 0:8] = 5  # the blob lies in the ignored region
    x = torch.tensor(np.stack([np.zeros_like(p), np.log(p / (1 - p))]))[None].requires_grad_()
    loss = TopoDenseLoss(ignore_label=5)
    loss(x, torch.tensor(lab)[None, None]).backward()
    g = x.grad[0, 1].numpy()
    assert not g[0:8, 0:8].any()
    assert (g[17:24, 27:34] < 0).any()
    assert loss.last_stats["num_wrong_features"] == 1


def test_3d_missing_cavity_and_slice_wise():
    t = np.zeros((7, 8, 9))
    t[1:6, 1:7, 1:8] = 1
    t[3, 3:5, 3:6] = 0  # a cavity of 6 voxels
    p = 0.02 + 0.96 * t
    p[3, 3:5, 3:6] = 0.7  # predicted filled
    loss = TopoDenseLoss(nonlinearity="sigmoid")
    _, g = _run(loss, p, t)
    cavity = np.zeros_like(t, bool)
    cavity[3, 3:5, 3:6] = True
    assert np.array_equal(g > 0, cavity) and not (g < 0).any()
    # slice-wise along axis 0: only slice 3 has an error (a 2D hole there)
    sw = TopoDenseLoss(nonlinearity="sigmoid", slice_axis=0, reduction="none")
    x = logits_from_probs(p).requires_grad_()
    v = sw(x, torch.tensor(t)[None, None])
    v.sum().backward()
    assert x.grad[0, 0, 3].ne(0).any() and x.grad[0, 0, [0, 1, 2, 4, 5, 6]].eq(0).all()
    assert float(v[0, 0].detach()) == pytest.approx(float(TopoDenseLoss(nonlinearity="sigmoid")(
        logits_from_probs(p[3]), torch.tensor(t[3])[None, None])) / 7, rel=1e-9)


def test_3d_loop_uses_neighbourhoods():
    """A solid torus in 3D whose loop is cut: dimension 1 is repaired through critical-cell neighbourhoods."""
    t = np.zeros((5, 11, 12))
    t[2, 2:9, 2:10] = 1
    t[2, 4:7, 4:8] = 0  # a planar ring: one loop (dim 1) in 3D
    p = 0.02 + 0.96 * t
    p[2, 5, 8:10] = 0.1  # cut the ring
    loss = TopoDenseLoss(nonlinearity="sigmoid", dims=[1], support="wrong")
    _, g = _run(loss, p, t)
    assert loss.last_stats["num_wrong_features"] == 1
    assert (g[2, 5, 8:10] < 0).all() and not (g > 0).any()


def test_gradcheck_float64():
    rng = np.random.default_rng(4)
    p = 0.05 + 0.9 * rng.random((6, 7))  # no ties: the pairing is locally constant
    t = (rng.random((6, 7)) > 0.5).astype(np.float64)
    x = logits_from_probs(p).requires_grad_()
    loss = TopoDenseLoss(nonlinearity="sigmoid")
    target = torch.tensor(t)[None, None]
    assert float(loss(x, target)) > 0
    assert torch.autograd.gradcheck(lambda z: loss(z, target), (x,))


@pytest.mark.parametrize("kind", ["zeros", "ones", "const", "single", "empty"])
def test_degenerate_inputs_finite(kind):
    shape = (2, 3, 9, 11)
    logits = {"zeros": torch.zeros(shape), "ones": torch.ones(shape), "const": torch.full(shape, -4.0),
              "single": torch.randn(shape, generator=torch.Generator().manual_seed(0)),
              "empty": torch.randn(shape, generator=torch.Generator().manual_seed(1))}[kind].double()
    target = torch.zeros(2, 1, 9, 11, dtype=torch.long)
    if kind == "single":
        target[:] = 2
    x = logits.requires_grad_()
    v = TopoDenseLoss()(x, target)
    v.backward()
    assert torch.isfinite(v) and torch.isfinite(x.grad).all()


def test_ill_options():
    for kwargs in ({"margin": 0.6}, {"threshold": 1.0}, {"max_features": 0}, {"dims": [3]},
                   {"pixel_loss": "l1"}, {"priors": {1: (1, -1)}}):
        with pytest.raises(ValueError):
            TopoDenseLoss(**kwargs)
    with pytest.raises(ValueError, match="do not exist"):
        TopoDenseLoss(dims=[2])(torch.zeros(1, 2, 5, 6), torch.zeros(1, 1, 5, 6))
