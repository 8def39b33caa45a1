"""Input checks and the accumulate/aggregate base shared by the metric classes (NumPy only)."""
from __future__ import annotations

from typing import Any

import numpy as np

from nnunet_topo.topology._validation import check_connectivity

__all__ = ["check_mask", "check_pair", "check_connectivity", "CumulativeMetric"]


def check_mask(mask: object, *, name: str = "mask") -> np.ndarray:
    """Validate a binary 2D ``(H, W)`` or 3D ``(D, H, W)`` mask; return it as a C-contiguous bool array.

    Accepts ``bool`` arrays and numeric arrays whose values are only 0 and 1.

    Raises:
        TypeError: a tensor, or a non-numeric dtype.
        ValueError: not 2D/3D, empty, NaN, or values other than 0/1 (e.g. a multi-label map).
    """
    if hasattr(mask, "detach") and hasattr(mask, "cpu") and not isinstance(mask, np.ndarray):
        raise TypeError(f"{name}: expected a numpy.ndarray, got a tensor ({type(mask).__name__}); "
                        "pass tensor.detach().cpu().numpy()")
    arr = np.asarray(mask)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name}: expected a bool or numeric binary mask, got dtype {arr.dtype}")
    if arr.ndim not in (2, 3):
        raise ValueError(f"{name}: expected a 2D or 3D mask, got {arr.ndim}D with shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name}: expected a non-empty mask, got shape {arr.shape}")
    if arr.dtype.kind == "b":
        return np.ascontiguousarray(arr)
    if arr.dtype.kind == "f" and np.isnan(arr).any():
        raise ValueError(f"{name}: expected a binary mask, got {int(np.isnan(arr).sum())} NaN values")
    out = arr != 0
    if not np.array_equal(out, arr == 1):
        seen = np.unique(arr)[:8]
        raise ValueError(f"{name}: expected a binary mask (bool or values in {{0, 1}}), got values {seen.tolist()}"
                         " (convert a label map with `labels == k` first)")
    return np.ascontiguousarray(out)


def check_pair(pred: object, target: object) -> tuple[np.ndarray, np.ndarray]:
    """Two binary masks of the same shape (see :func:`check_mask`)."""
    p = check_mask(pred, name="pred")
    t = check_mask(target, name="target")
    if p.shape != t.shape:
        raise ValueError(f"pred and target: expected the same shape, got {p.shape} and {t.shape}")
    return p, t


class CumulativeMetric:
    """MONAI-style accumulation: ``metric(pred, target)`` returns the value of one case and stores it;
    ``aggregate()`` returns the NaN-ignoring mean over stored cases (NaN when none is defined);
    ``reset()`` empties the buffer."""

    def __init__(self) -> None:
        self._buffer: list[Any] = []

    def _compute(self, pred: np.ndarray, target: np.ndarray) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, pred: np.ndarray, target: np.ndarray) -> Any:
        value = self._compute(pred, target)
        self._buffer.append(value)
        return value

    def reset(self) -> None:
        self._buffer.clear()

    def aggregate(self) -> Any:
        if not self._buffer:
            return float("nan")
        values = np.asarray(self._buffer, dtype=np.float64)
        if np.isnan(values).all(axis=0).all():
            return float("nan") if values.ndim == 1 else tuple(float("nan") for _ in range(values.shape[1]))
        with np.errstate(all="ignore"):
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                mean = np.nanmean(values, axis=0)
        return float(mean) if mean.ndim == 0 else tuple(float(v) for v in mean)
