"""Training budget of the fixed-budget trainers, passed to nnU-Net child processes by environment variables."""
from __future__ import annotations

import os

__all__ = ["BUDGET_ENV", "budget_from_env"]

BUDGET_ENV = {
    "epochs": "NNUNET_TOPO_EPOCHS",
    "iterations": "NNUNET_TOPO_ITERS",
    "val_iterations": "NNUNET_TOPO_VAL_ITERS",
    "seed": "NNUNET_TOPO_SEED",
}


def budget_from_env(defaults: dict[str, int]) -> dict[str, int]:
    """``defaults`` with each key overridden by its ``BUDGET_ENV`` variable when set.

    Raises:
        ValueError: a variable that is not an integer, or a length below 1 / a negative seed.
    """
    out = dict(defaults)
    for key, var in BUDGET_ENV.items():
        raw = os.environ.get(var)
        if raw is None or raw == "":
            continue
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"{var}: expected an integer, got {raw!r}") from None
        if value < (0 if key == "seed" else 1):
            raise ValueError(f"{var}: expected {'>= 0' if key == 'seed' else '>= 1'}, got {value}")
        out[key] = value
    return out
