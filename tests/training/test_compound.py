"""TopoCompoundLoss: nnU-Net's deep-supervised loss + λ * topological term on output 0 only."""
from __future__ import annotations

import pytest
import torch
from nnunetv2.training.loss.compound_losses import DC_and_CE_loss
from nnunetv2.training.loss.deep_supervision import DeepSupervisionWrapper

from nnunet_topo.losses import SoftClDiceLoss
from nnunet_topo.training.compound import TopoCompoundLoss


def _base():
    loss = DC_and_CE_loss({"batch_dice": True, "smooth": 1e-5, "do_bg": False, "ddp": False}, {}, weight_ce=1, weight_dice=1)
    return DeepSupervisionWrapper(loss, [0.6, 0.4])


def _inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    out = [torch.randn(2, 3, 12, 20, generator=g, requires_grad=True),
           torch.randn(2, 3, 6, 10, generator=g, requires_grad=True)]
    tgt = [torch.randint(0, 3, (2, 1, 12, 20), generator=g).float(), torch.randint(0, 3, (2, 1, 6, 10), generator=g).float()]
    return out, tgt


def test_weight_zero_is_exactly_nnunets_loss_and_skips_the_term():
    out, tgt = _inputs()
    loss = TopoCompoundLoss(_base(), [SoftClDiceLoss(classes=[1, 2])], deep_supervision=True)
    assert loss(out, tgt).item() == _base()(out, tgt).item()
    assert loss.stats["calls"] == 0


def test_weighted_term_on_full_resolution_output_only():
    out, tgt = _inputs()
    term = SoftClDiceLoss(classes=[1, 2])
    loss = TopoCompoundLoss(_base(), [term], deep_supervision=True)
    loss.weight = 0.25
    value = loss(out, tgt)
    expected = _base()(out, tgt) + 0.25 * term(out[0], tgt[0])
    assert value.item() == pytest.approx(expected.item(), rel=1e-6)
    value.backward()
    # gradient of the low-resolution output is nnU-Net's alone
    out_ref, tgt_ref = _inputs()
    _base()(out_ref, tgt_ref).backward()
    assert torch.equal(out[1].grad, out_ref[1].grad)
    assert not torch.allclose(out[0].grad, out_ref[0].grad)
    assert loss.stats["calls"] == 1 and loss.stats["seconds"] > 0
    assert loss.stats["topo_loss"] == pytest.approx(term(out[0], tgt[0]).item(), rel=1e-6)


def test_no_term_without_gradients_validation_steps():
    out, tgt = _inputs()
    loss = TopoCompoundLoss(_base(), [SoftClDiceLoss(classes=[1, 2])], deep_supervision=True)
    loss.weight = 1.0
    with torch.no_grad():
        assert loss(out, tgt).item() == _base()(out, tgt).item()
    assert loss.stats["calls"] == 0


def test_without_deep_supervision_tensors_are_used_directly():
    out, tgt = _inputs()
    base = DC_and_CE_loss({"batch_dice": True, "smooth": 1e-5, "do_bg": False, "ddp": False}, {}, weight_ce=1, weight_dice=1)
    term = SoftClDiceLoss(classes=[2])
    loss = TopoCompoundLoss(base, [term], deep_supervision=False)
    loss.weight = 2.0
    assert loss(out[0], tgt[0]).item() == pytest.approx((base(out[0], tgt[0]) + 2 * term(out[0], tgt[0])).item(),
                                                        rel=1e-6)


def test_stats_accumulate_and_reset():
    out, tgt = _inputs()
    loss = TopoCompoundLoss(_base(), [SoftClDiceLoss(classes=[1]), SoftClDiceLoss(classes=[2])], deep_supervision=True)
    loss.weight = 1.0
    loss(out, tgt)
    loss(out, tgt)
    assert loss.stats["calls"] == 2
    loss.reset_stats()
    assert loss.stats == {"calls": 0, "topo_loss": 0.0, "num_wrong_features": 0, "seconds": 0.0, "seconds_ph": 0.0}


def test_bad_construction_raises_type_error():
    with pytest.raises(TypeError, match="base"):
        TopoCompoundLoss("dice", [SoftClDiceLoss()], deep_supervision=True)
    with pytest.raises(TypeError, match="terms"):
        TopoCompoundLoss(_base(), [], deep_supervision=True)
