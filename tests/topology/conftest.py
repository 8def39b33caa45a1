"""Shapes shared by the engine's tests (ring, torus shell) as fixtures."""
from __future__ import annotations

import numpy as np
import pytest


def _grid(shape):
    return np.stack(np.meshgrid(*[np.arange(n, dtype=float) for n in shape], indexing="ij"))


def make_ring(shape=(21, 30), r_in=4.0, r_out=8.0) -> np.ndarray:
    """Bool annulus centred in a non-square 2D grid: Betti numbers (1, 1)."""
    z = _grid(shape)
    c = (np.array(shape, float) - 1) / 2
    d = np.sqrt(((z - c.reshape(-1, 1, 1)) ** 2).sum(0))
    return (d >= r_in) & (d <= r_out)


def make_torus_shell(shape=(14, 31, 34), big_r=9.0, r_in=1.5, r_out=4.0) -> np.ndarray:
    """Bool hollow torus in a non-cubic grid: (1, 2, 1); with ``r_in < 0`` a solid torus: (1, 1, 0)."""
    z, y, x = _grid(shape)
    cz, cy, cx = (np.array(shape, float) - 1) / 2
    q = np.sqrt((y - cy) ** 2 + (x - cx) ** 2) - big_r
    d = np.sqrt(q**2 + (z - cz) ** 2)
    return (d >= r_in) & (d <= r_out)


@pytest.fixture
def ring() -> np.ndarray:
    return make_ring()


@pytest.fixture
def torus_shell() -> np.ndarray:
    return make_torus_shell()


@pytest.fixture
def solid_torus() -> np.ndarray:
    return make_torus_shell(r_in=-1.0)
