"""Small immutable result types of the persistent-homology engine.

Conventions (shared by the whole project):

* Filtration by **superlevel** sets of the input: a feature is *born* at the higher value and *dies*
  at the lower one, so ``births >= deaths`` for every finite bar.
* Cell coordinates are integer indices of **top cells** (pixels in 2D, voxels in 3D) in **C order**,
  shape ``(n, ndim)``; ``birth_index``/``death_index`` are the same cells as flat C-order indices,
  ready for ``tensor.flatten()[index]``.
* Essential (infinite) bars are flagged by the explicit ``essential`` mask. Their ``deaths`` are
  ``-inf`` (a superlevel set never loses them) and their death cells are ``-1`` rows: always test
  ``essential`` rather than the values.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

__all__ = ["Diagram", "PersistenceResult"]


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array)
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class Diagram:
    """Persistence diagram of one homology dimension with its critical cells.

    Attributes:
        dim: homology dimension ``k``.
        shape: shape of the image the diagram was computed from.
        births: ``(n,)`` float64, value at which each feature appears (the higher value).
        deaths: ``(n,)`` float64, value at which it disappears; ``-inf`` where ``essential``.
        birth_cells: ``(n, ndim)`` int64 C-order coordinates of the top cell carrying ``births``.
        death_cells: ``(n, ndim)`` int64 coordinates of the cell carrying ``deaths``; ``-1`` rows
            where ``essential``.
        essential: ``(n,)`` bool, True for bars that never die.

    Bars are sorted by decreasing persistence (essential bars first); ties keep the order of
    ``birth_index`` then ``death_index``, so the order is deterministic.
    """

    dim: int
    shape: tuple[int, ...]
    births: np.ndarray
    deaths: np.ndarray
    birth_cells: np.ndarray
    death_cells: np.ndarray
    essential: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.births)
        ndim = len(self.shape)
        for name, arr, expected in (
            ("births", self.births, (n,)),
            ("deaths", self.deaths, (n,)),
            ("birth_cells", self.birth_cells, (n, ndim)),
            ("death_cells", self.death_cells, (n, ndim)),
            ("essential", self.essential, (n,)),
        ):
            if np.shape(arr) != expected:
                raise ValueError(f"Diagram.{name}: expected shape {expected}, got {np.shape(arr)}")
        object.__setattr__(self, "births", _frozen(np.asarray(self.births, dtype=np.float64)))
        object.__setattr__(self, "deaths", _frozen(np.asarray(self.deaths, dtype=np.float64)))
        object.__setattr__(self, "birth_cells", _frozen(np.asarray(self.birth_cells, dtype=np.int64)))
        object.__setattr__(self, "death_cells", _frozen(np.asarray(self.death_cells, dtype=np.int64)))
        object.__setattr__(self, "essential", _frozen(np.asarray(self.essential, dtype=bool)))

    def __len__(self) -> int:
        return len(self.births)

    @property
    def persistence(self) -> np.ndarray:
        """``(n,)`` float64 ``births - deaths`` (``inf`` for essential bars)."""
        return self.births - self.deaths

    @property
    def birth_index(self) -> np.ndarray:
        """``(n,)`` int64 flat C-order index of each birth cell."""
        if len(self) == 0:
            return np.zeros(0, dtype=np.int64)
        return np.ravel_multi_index(tuple(self.birth_cells.T), self.shape).astype(np.int64)

    @property
    def death_index(self) -> np.ndarray:
        """``(n,)`` int64 flat C-order index of each death cell; ``-1`` for essential bars."""
        out = np.full(len(self), -1, dtype=np.int64)
        finite = ~self.essential
        if finite.any():
            out[finite] = np.ravel_multi_index(tuple(self.death_cells[finite].T), self.shape)
        return out

    def pairs(self) -> np.ndarray:
        """``(n, 2)`` float64 array of ``(birth, death)``, ``-inf`` deaths for essential bars."""
        return np.stack([self.births, self.deaths], axis=1)

    def subset(self, keep: np.ndarray) -> "Diagram":
        """A new diagram with the bars selected by a boolean mask or an index array."""
        keep = np.asarray(keep)
        return Diagram(
            dim=self.dim,
            shape=self.shape,
            births=self.births[keep],
            deaths=self.deaths[keep],
            birth_cells=self.birth_cells[keep],
            death_cells=self.death_cells[keep],
            essential=self.essential[keep],
        )

    def __repr__(self) -> str:
        return (
            f"Diagram(dim={self.dim}, shape={self.shape}, n_bars={len(self)}, "
            f"n_essential={int(self.essential.sum())})"
        )


@dataclass(frozen=True, eq=False)
class PersistenceResult:
    """Diagrams of one image, indexable by homology dimension: ``result[k]``.

    Attributes:
        shape: shape of the input image (2D or 3D, C order).
        connectivity: ``"full"`` (T-construction; foreground 8/26-connected) or ``"face"``
            (V-construction; foreground 4/6-connected).
        backend: name of the backend that produced the diagrams.
        diagrams: mapping ``dim -> Diagram`` for the requested dimensions only.
    """

    shape: tuple[int, ...]
    connectivity: str
    backend: str
    diagrams: dict[int, Diagram] = field(default_factory=dict)

    @property
    def dims(self) -> tuple[int, ...]:
        """The homology dimensions that were computed, ascending."""
        return tuple(sorted(self.diagrams))

    def __getitem__(self, dim: int) -> Diagram:
        if dim not in self.diagrams:
            raise KeyError(
                f"homology dimension {dim!r} was not computed; computed dims are {self.dims}"
            )
        return self.diagrams[dim]

    def __iter__(self) -> Iterator[Diagram]:
        return (self.diagrams[k] for k in self.dims)

    def __len__(self) -> int:
        return len(self.diagrams)

    def betti_numbers_at(self, threshold: float) -> tuple[int, ...]:
        """Betti numbers of the superlevel set ``{image >= threshold}`` read off the diagrams.

        A bar ``(b, d)`` is alive at ``t`` when ``b >= t > d``. Only computed dims are returned.
        """
        return tuple(
            int(np.count_nonzero((d.births >= threshold) & (d.essential | (d.deaths < threshold))))
            for d in self
        )
