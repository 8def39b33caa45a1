"""Input checks of the engine: one wording everywhere, naming what was expected and what was seen."""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

__all__ = ["CONNECTIVITIES", "check_image", "check_connectivity", "check_dims", "look_up_option"]

CONNECTIVITIES = ("full", "face")


def look_up_option(name: str, value: object, allowed: Sequence[str]) -> str:
    """Return ``value`` if it is one of ``allowed``; otherwise raise naming both."""
    if not isinstance(value, str):
        raise TypeError(f"{name}: expected one of {tuple(allowed)}, got {type(value).__name__} {value!r}")
    if value not in allowed:
        raise ValueError(f"{name}: expected one of {tuple(allowed)}, got {value!r}")
    return value


def check_connectivity(connectivity: object) -> str:
    """``"full"`` (T-construction, 8/26-connected foreground) or ``"face"`` (V-construction)."""
    return look_up_option("connectivity", connectivity, CONNECTIVITIES)


def check_image(image: object, *, name: str = "image", allow_bool: bool = True) -> np.ndarray:
    """Validate a 2D or 3D real-valued finite array; return it as C-contiguous float64.

    Raises:
        TypeError: not an array-like of a real numeric (or bool) dtype.
        ValueError: not 2D/3D, empty, or containing NaN/inf.
    """
    if not isinstance(image, np.ndarray):
        if hasattr(image, "detach") and hasattr(image, "cpu"):
            raise TypeError(f"{name}: expected a numpy.ndarray, got a tensor ({type(image).__name__}); "
                            "pass tensor.detach().cpu().numpy()")
        try:
            image = np.asarray(image)
        except Exception as exc:  # pragma: no cover - numpy raises various types
            raise TypeError(f"{name}: expected an array-like of numbers, got {type(image).__name__}") from exc
    kind = image.dtype.kind
    if kind == "b" and not allow_bool:
        raise TypeError(f"{name}: expected a real floating/integer dtype, got {image.dtype}")
    if kind not in "biuf":
        raise TypeError(f"{name}: expected a real numeric dtype (bool, int, uint or float), got {image.dtype}")
    if image.ndim not in (2, 3):
        raise ValueError(f"{name}: expected a 2D or 3D array, got {image.ndim}D with shape {image.shape}")
    if image.size == 0:
        raise ValueError(f"{name}: expected a non-empty array, got shape {image.shape}")
    out = np.ascontiguousarray(image, dtype=np.float64)
    if not np.isfinite(out).all():
        n_nan = int(np.isnan(out).sum())
        n_inf = int(np.isinf(out).sum())
        raise ValueError(f"{name}: expected finite values, got {n_nan} NaN and {n_inf} inf")
    return out


def check_dims(dims: Iterable[int] | None, ndim: int) -> tuple[int, ...]:
    """Homology dimensions to compute: ``None`` means all of ``0 .. ndim-1``."""
    if dims is None:
        return tuple(range(ndim))
    if isinstance(dims, (int, np.integer)):
        dims = (int(dims),)
    out = []
    for k in dims:
        if not isinstance(k, (int, np.integer)) or isinstance(k, bool):
            raise TypeError(f"dims: expected integers in 0..{ndim - 1}, got {k!r}")
        if not 0 <= int(k) < ndim:
            raise ValueError(f"dims: expected integers in 0..{ndim - 1} for a {ndim}D image, got {int(k)}")
        out.append(int(k))
    return tuple(sorted(set(out)))
