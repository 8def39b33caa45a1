"""Analytic binary masks with known topology (non-square on purpose), shared by the metric tests."""
from __future__ import annotations

import numpy as np

SHAPE = (20, 27)


def ring() -> np.ndarray:
    m = np.zeros(SHAPE, dtype=bool)
    m[4:16, 5:21] = True
    m[7:13, 8:18] = False
    return m  # b = (1, 1)


def broken_ring() -> np.ndarray:
    m = ring()
    m[9:11, 5:8] = False  # cut the left wall, 2 rows high: no diagonal contact either
    return m  # b = (1, 0)


def ring_with_island() -> np.ndarray:
    m = ring()
    m[17:19, 23:25] = True
    return m  # b = (2, 1)


def blob(dr: int = 0, dc: int = 0) -> np.ndarray:
    m = np.zeros(SHAPE, dtype=bool)
    m[5 + dr:11 + dr, 6 + dc:14 + dc] = True  # 6 x 8
    return m


def two_blobs() -> np.ndarray:
    m = blob()
    m[14:18, 18:25] = True
    return m

