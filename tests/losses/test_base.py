"""Shared input handling of the losses: validation, channels, ignore mask, slice-wise 3D, reduction."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from nnunet_topo.losses import BettiPriorLoss, SoftClDiceLoss


def _inputs(shape=(2, 3, 9, 11), seed=0):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(*shape, generator=g, dtype=torch.float64)
    target = torch.randint(0, shape[1], (shape[0], 1, *shape[2:]), generator=g)
    return logits, target


@pytest.mark.parametrize("kwargs, err", [
    ({"nonlinearity": "relu"}, ValueError),
    ({"nonlinearity": 3}, TypeError),
    ({"reduction": "max"}, ValueError),
    ({"connectivity": "8"}, ValueError),
    ({"classes": []}, ValueError),
    ({"classes": [1, 1]}, ValueError),
    ({"classes": [-1]}, TypeError),
    ({"classes": ["a"]}, TypeError),
    ({"slice_axis": 3}, ValueError),
    ({"ignore_label": 1.5}, TypeError),
    ({"num_threads": 0}, ValueError),
    ({"num_iter": -1}, ValueError),
    ({"smooth": 0}, ValueError),
])
def test_ill_opts(kwargs, err):
    with pytest.raises(err):
        SoftClDiceLoss(**kwargs)


def test_ill_shapes_and_values():
    loss = SoftClDiceLoss()
    logits, target = _inputs()
    with pytest.raises(ValueError, match="target"):
        loss(logits, target[:, :, :-1])
    with pytest.raises(ValueError, match="label map"):
        loss(logits, torch.zeros_like(logits))
    with pytest.raises(ValueError, match="net_output"):
        loss(logits[0], target[0])
    with pytest.raises(TypeError, match="floating"):
        loss(logits.long(), target)
    with pytest.raises(TypeError):
        loss(logits.numpy(), target)
    bad = logits.clone()
    bad[0, 0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="1 NaN"):
        loss(bad, target)
    with pytest.raises(ValueError, match="labels in 0..2"):
        loss(logits, target + 5)
    with pytest.raises(ValueError, match="channel"):
        SoftClDiceLoss(classes=[3])(logits, target)
    with pytest.raises(ValueError, match="sigmoid expects"):
        SoftClDiceLoss(nonlinearity="sigmoid")(logits, target)
    with pytest.raises(ValueError, match="3D input"):
        SoftClDiceLoss(slice_axis=0)(logits, target)
    with pytest.raises(ValueError, match="fractional"):
        loss(logits, target.double() + 0.5)


def test_reduction_and_classes_shapes():
    logits, target = _inputs()
    none = SoftClDiceLoss(reduction="none")(logits, target)
    assert none.shape == (2, 2)  # channels 1 and 2 of 3
    s = SoftClDiceLoss(reduction="sum")(logits, target)
    m = SoftClDiceLoss(reduction="mean")(logits, target)
    assert torch.allclose(s, none.sum()) and torch.allclose(m, none.mean())
    only2 = SoftClDiceLoss(classes=[2], reduction="none")(logits, target)
    assert torch.allclose(only2[:, 0], none[:, 1])


def test_ignore_label_softmax_equals_cropped():
    """Ignored pixels behave like background with no prediction (prob 0) in clDice."""
    logits, target = _inputs(shape=(1, 2, 8, 13))
    t_ign = target.clone()
    t_ign[..., 10:] = 7
    loss = SoftClDiceLoss(ignore_label=7, reduction="none")
    a = loss(logits, t_ign)
    # same with the ignored columns given an impossible logit: probs -> 0 and target -> 0 there
    l2 = logits.clone()
    l2[:, 1, :, 10:] = -1e4
    l2[:, 0, :, 10:] = 1e4
    t2 = target.clone()
    t2[..., 10:] = 0
    b = SoftClDiceLoss(reduction="none")(l2, t2)
    assert torch.allclose(a, b)


def test_sigmoid_regions_with_ignore_channel():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(2, 2, 7, 10, generator=g, dtype=torch.float64)
    regions = (torch.rand(2, 2, 7, 10, generator=g) > 0.5).double()
    ign = torch.zeros(2, 1, 7, 10, dtype=torch.float64)
    loss = SoftClDiceLoss(nonlinearity="sigmoid", ignore_label=1, reduction="none")
    a = loss(logits, torch.cat([regions, ign], 1))
    b = SoftClDiceLoss(nonlinearity="sigmoid", reduction="none")(logits, regions)
    assert torch.allclose(a, b)
    with pytest.raises(ValueError, match="binary"):
        SoftClDiceLoss(nonlinearity="sigmoid")(logits, regions * 0.5)


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_slice_axis_is_mean_of_2d_slices(axis):
    g = torch.Generator().manual_seed(2)
    logits = torch.randn(2, 2, 4, 6, 5, generator=g, dtype=torch.float64)
    target = torch.randint(0, 2, (2, 1, 4, 6, 5), generator=g)
    got = SoftClDiceLoss(slice_axis=axis, reduction="none")(logits, target)
    ref = torch.stack([
        SoftClDiceLoss(reduction="none")(logits.select(2 + axis, s), target.select(2 + axis, s))
        for s in range(logits.shape[2 + axis])
    ]).mean(0)
    assert torch.allclose(got, ref)


def test_last_stats_refreshed():
    logits, target = _inputs()
    loss = BettiPriorLoss(priors={1: (1, 0)})
    loss(logits, target)
    assert set(loss.last_stats) >= {"num_wrong_features", "seconds_ph"}
    assert loss.last_stats["seconds_ph"] > 0


def test_autocast_bfloat16_input_is_handled_in_float32():
    logits, target = _inputs()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        v = BettiPriorLoss(priors={1: (1, 0)})(logits.to(torch.bfloat16), target)
    assert v.dtype == torch.float32 and torch.isfinite(v)


def test_bool_region_target_with_nnunet_ignore_channel():
    """nnU-Net may hand region targets as bool, with the ignore mask as the extra last channel."""
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(1, 2, 7, 10, generator=g, dtype=torch.float64)
    regions = torch.rand(1, 2, 7, 10, generator=g) > 0.5
    ign = torch.zeros(1, 1, 7, 10, dtype=torch.bool)
    ign[..., :3] = True
    a = SoftClDiceLoss(nonlinearity="sigmoid", ignore_label=1, reduction="none")(logits, torch.cat([regions, ign], 1))
    l2 = logits.clone()
    l2[..., :3] = -1e4  # ignored pixels: probability 0 and target 0 in clDice
    r2 = regions.clone()
    r2[..., :3] = False
    b = SoftClDiceLoss(nonlinearity="sigmoid", reduction="none")(l2, r2)
    assert torch.allclose(a, b)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_inputs_keep_their_device():
    from nnunet_topo.losses import TopoDenseLoss

    logits, target = _inputs()
    x = logits.cuda().float().requires_grad_()
    with torch.autocast("cuda", dtype=torch.bfloat16):
        v = TopoDenseLoss()(x, target.cuda())
    v.backward()
    assert v.device.type == "cuda" and x.grad.device.type == "cuda" and torch.isfinite(x.grad).all()
