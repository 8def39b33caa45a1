"""Weight schedule of the topological term: off during a warm-up, then a linear ramp to the full weight."""
from __future__ import annotations

import math

__all__ = ["topo_weight_at"]


def topo_weight_at(epoch: int, *, weight: float, warmup_epochs: int, ramp_epochs: int) -> float:
    """λ(epoch) for the topological term.

    ``0`` for ``epoch < warmup_epochs``; from ``warmup_epochs`` on it grows linearly and reaches ``weight``
    at ``epoch = warmup_epochs + ramp_epochs - 1``::

        λ(e) = weight * min(1, (e - warmup_epochs + 1) / ramp_epochs)     (ramp_epochs >= 1)
        λ(e) = weight                                                      (ramp_epochs == 0)

    It depends on the epoch only, so a run resumed with ``--c`` (nnU-Net restores ``current_epoch``)
    continues the schedule where it stopped.

    Raises:
        ValueError: negative epoch/warm-up/ramp, or a weight that is negative or not finite.
    """
    for name, value in (("epoch", epoch), ("warmup_epochs", warmup_epochs), ("ramp_epochs", ramp_epochs)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name}: expected a non-negative int, got {value!r}")
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) or weight < 0:
        raise ValueError(f"weight: expected a finite float >= 0, got {weight!r}")
    if epoch < warmup_epochs:
        return 0.0
    if ramp_epochs == 0:
        return float(weight)
    return float(weight) * min(1.0, (epoch - warmup_epochs + 1) / ramp_epochs)
