"""Immutable result types of the Betti matching (``betti_matching``)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from ._types import Diagram

__all__ = ["DimensionMatching", "BettiMatchingResult"]


def _index_array(name: str, values: object, n: int) -> np.ndarray:
    arr = np.ascontiguousarray(np.asarray(values, dtype=np.int64).reshape(-1))
    if arr.size and (arr.min() < 0 or arr.max() >= n):
        raise ValueError(f"DimensionMatching.{name}: expected indices in [0, {n}), got {arr.min()}..{arr.max()}")
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class DimensionMatching:
    """The Betti matching of one homology dimension ``k``.

    Attributes:
        dim: homology dimension ``k``.
        pred, target: the full :class:`Diagram` of dimension ``k`` of each input (zero-length bars
            left out, the essential dimension-0 bar kept).
        matched_pred, matched_target: ``(m,)`` int64 indices into ``pred`` / ``target``; the
            ``i``-th entries are a matched pair.
        unmatched_pred, unmatched_target: int64 indices of the bars left unmatched, ascending.

    Every bar of each diagram is either matched or unmatched, exactly once.
    """

    dim: int
    pred: Diagram
    target: Diagram
    matched_pred: np.ndarray
    matched_target: np.ndarray
    unmatched_pred: np.ndarray
    unmatched_target: np.ndarray

    def __post_init__(self) -> None:
        for name, diagram in (("matched_pred", self.pred), ("matched_target", self.target),
                              ("unmatched_pred", self.pred), ("unmatched_target", self.target)):
            object.__setattr__(self, name, _index_array(name, getattr(self, name), len(diagram)))
        if len(self.matched_pred) != len(self.matched_target):
            raise ValueError(
                "DimensionMatching: matched_pred and matched_target must have the same length, got "
                f"{len(self.matched_pred)} and {len(self.matched_target)}"
            )

    @property
    def num_matched(self) -> int:
        """Number of matched pairs."""
        return int(len(self.matched_pred))

    @property
    def num_unmatched_pred(self) -> int:
        """Number of bars of the prediction without a partner."""
        return int(len(self.unmatched_pred))

    @property
    def num_unmatched_target(self) -> int:
        """Number of bars of the target without a partner."""
        return int(len(self.unmatched_target))

    @property
    def error(self) -> int:
        """Betti-matching error of this dimension: unmatched prediction + unmatched target bars."""
        return self.num_unmatched_pred + self.num_unmatched_target

    def __repr__(self) -> str:
        return (f"DimensionMatching(dim={self.dim}, matched={self.num_matched}, "
                f"unmatched_pred={self.num_unmatched_pred}, unmatched_target={self.num_unmatched_target})")


@dataclass(frozen=True, eq=False)
class BettiMatchingResult:
    """Betti matching of a prediction and a target, indexable by homology dimension: ``result[k]``.

    Attributes:
        shape: shape of both inputs (2D or 3D, C order).
        connectivity: ``"full"`` (T-construction) or ``"face"`` (V-construction).
        matchings: mapping ``dim -> DimensionMatching`` for the requested dimensions only.
    """

    shape: tuple[int, ...]
    connectivity: str
    matchings: dict[int, DimensionMatching] = field(default_factory=dict)

    @property
    def dims(self) -> tuple[int, ...]:
        """The homology dimensions that were matched, ascending."""
        return tuple(sorted(self.matchings))

    def __getitem__(self, dim: int) -> DimensionMatching:
        if dim not in self.matchings:
            raise KeyError(f"homology dimension {dim!r} was not matched; matched dims are {self.dims}")
        return self.matchings[dim]

    def __iter__(self) -> Iterator[DimensionMatching]:
        return (self.matchings[k] for k in self.dims)

    def __len__(self) -> int:
        return len(self.matchings)

    @property
    def error(self) -> int:
        """Total Betti-matching error: unmatched bars of both inputs summed over the matched dims."""
        return int(sum(m.error for m in self))

    @property
    def errors(self) -> tuple[int, ...]:
        """Per-dimension Betti-matching errors, in the order of :attr:`dims`."""
        return tuple(m.error for m in self)

    def __repr__(self) -> str:
        return (f"BettiMatchingResult(shape={self.shape}, connectivity={self.connectivity!r}, "
                f"dims={self.dims}, errors={self.errors})")
