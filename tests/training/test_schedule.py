from __future__ import annotations

import pytest

from nnunet_topo.training.schedule import topo_weight_at


def test_warmup_then_linear_ramp_exact_values():
    lam = [topo_weight_at(e, weight=0.3, warmup_epochs=2, ramp_epochs=3) for e in range(7)]
    assert lam == pytest.approx([0.0, 0.0, 0.1, 0.2, 0.3, 0.3, 0.3], abs=1e-15)


def test_no_ramp_jumps_to_full_weight_after_warmup():
    assert [topo_weight_at(e, weight=0.5, warmup_epochs=1, ramp_epochs=0) for e in range(3)] == [0.0, 0.5, 0.5]


def test_no_warmup_starts_on_the_ramp():
    assert topo_weight_at(0, weight=1.0, warmup_epochs=0, ramp_epochs=4) == 0.25


@pytest.mark.parametrize("kwargs", [
    {"epoch": -1, "weight": 1.0, "warmup_epochs": 0, "ramp_epochs": 0},
    {"epoch": 0, "weight": -0.1, "warmup_epochs": 0, "ramp_epochs": 0},
    {"epoch": 0, "weight": float("nan"), "warmup_epochs": 0, "ramp_epochs": 0},
    {"epoch": 0, "weight": 1.0, "warmup_epochs": 1.5, "ramp_epochs": 0},
    {"epoch": 0, "weight": 1.0, "warmup_epochs": 0, "ramp_epochs": True},
])
def test_bad_arguments_raise_value_error_naming_the_argument(kwargs):
    epoch = kwargs.pop("epoch")
    with pytest.raises(ValueError, match="expected"):
        topo_weight_at(epoch, **kwargs)
