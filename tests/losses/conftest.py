"""Fixtures and helpers of the loss tests: analytic shapes on non-square grids, logits from probabilities."""
from __future__ import annotations

import numpy as np
import torch


def ring(shape=(20, 24), center=(10, 12), r_in=4.0, r_out=7.0) -> np.ndarray:
    """Binary annulus (one component, one hole with 8/4 connectivity)."""
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    r = np.hypot(yy - center[0], xx - center[1])
    return ((r >= r_in) & (r <= r_out)).astype(np.float64)


def logits_from_probs(p: np.ndarray, channels: int = 1) -> torch.Tensor:
    """float64 sigmoid logits ``(1, 1, *shape)`` whose sigmoid is ``p`` (clipped to [1e-12, 1-1e-12])."""
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-12, 1 - 1e-12)
    return torch.tensor(np.log(p / (1 - p))).reshape(1, 1, *p.shape)


def softmax_logits(labels: np.ndarray, num_classes: int, scale: float = 20.0) -> torch.Tensor:
    """float64 logits ``(1, C, *shape)``: ``+scale`` on the labelled class, ``-scale`` elsewhere."""
    onehot = np.stack([(labels == c) for c in range(num_classes)]).astype(np.float64)
    return torch.tensor((2 * onehot - 1) * scale).unsqueeze(0)
