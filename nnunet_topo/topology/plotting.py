"""Plots of persistence results: the diagram, and the critical cells on the image (matplotlib, lazy).

Superlevel convention: births are the *higher* values, so every finite point lies **below** the
diagonal ``death = birth``; the distance to the diagonal is the persistence. Essential bars (which
never die) are drawn on a line under the lowest value, labelled ``-inf``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ._types import Diagram, PersistenceResult

__all__ = ["plot_diagram", "plot_critical_cells"]

_MARKERS = {0: ("o", "tab:blue"), 1: ("s", "tab:orange"), 2: ("^", "tab:green")}


def plot_diagram(result: PersistenceResult | Diagram, *, ax: Any = None, title: str | None = None) -> Any:
    """Scatter ``(birth, death)`` of every bar, one marker per homology dimension; returns the axes.

    Args:
        result: a :class:`PersistenceResult` (all its dims) or one :class:`Diagram`.
        ax: matplotlib axes to draw on (default: a new figure).
        title: axes title.
    """
    import matplotlib.pyplot as plt

    if not isinstance(result, (PersistenceResult, Diagram)):
        raise TypeError(f"result: expected a PersistenceResult or a Diagram, got {type(result).__name__}")
    diagrams = [result] if isinstance(result, Diagram) else list(result)
    if ax is None:
        _, ax = plt.subplots(figsize=(4.2, 4.2))
    finite = np.concatenate([np.r_[d.births, d.deaths[~d.essential]] for d in diagrams] + [np.zeros(0)])
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    span = max(hi - lo, 1e-12)
    ess_y = lo - 0.08 * span
    for d in diagrams:
        marker, colour = _MARKERS.get(d.dim, ("x", "k"))
        y = np.where(d.essential, ess_y, d.deaths)
        ax.scatter(d.births, y, s=22, marker=marker, color=colour, alpha=0.8, label=f"dim {d.dim} ({len(d)})")
    ax.plot([ess_y, hi + 0.02 * span], [ess_y, hi + 0.02 * span], color="0.6", lw=1)
    ax.axhline(ess_y, color="0.8", lw=0.8, ls="--")
    ax.text(hi, ess_y, " -inf", va="center", ha="left", fontsize=8, color="0.4")
    ax.set_xlabel("birth (higher value)")
    ax.set_ylabel("death (lower value)")
    ax.set_aspect("equal")
    ax.legend(loc="upper left", fontsize=8)
    if title:
        ax.set_title(title)
    return ax


def plot_critical_cells(
    image: np.ndarray, result: PersistenceResult, *, min_persistence: float = 0.0, ax: Any = None,
    title: str | None = None,
) -> Any:
    """Show a 2D image with the birth (filled) and death (hollow) cells of bars above ``min_persistence``."""
    import matplotlib.pyplot as plt

    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"image: expected a 2D array, got {image.ndim}D with shape {image.shape}")
    if tuple(result.shape) != image.shape:
        raise ValueError(f"result: expected a result computed on shape {image.shape}, got {result.shape}")
    if ax is None:
        _, ax = plt.subplots(figsize=(4.2, 4.2))
    ax.imshow(image, cmap="gray", vmin=float(image.min()), vmax=float(image.max()))
    for d in result:
        marker, colour = _MARKERS.get(d.dim, ("x", "k"))
        keep = d.essential | (d.persistence > min_persistence)
        b = d.birth_cells[keep]
        ax.scatter(b[:, 1], b[:, 0], s=40, marker=marker, color=colour, label=f"dim {d.dim} birth")
        fin = keep & ~d.essential
        dc = d.death_cells[fin]
        ax.scatter(dc[:, 1], dc[:, 0], s=60, marker=marker, facecolors="none", edgecolors=colour,
                   linewidths=1.5, label=f"dim {d.dim} death")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.legend(loc="lower right", fontsize=7, framealpha=0.8)
    if title:
        ax.set_title(title)
    return ax
