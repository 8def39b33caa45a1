"""Fixtures of the metric tests."""
from __future__ import annotations

import numpy as np
import pytest
from _metric_shapes import blob, broken_ring, ring, ring_with_island, two_blobs


@pytest.fixture
def shapes() -> dict[str, np.ndarray]:
    return {
        "ring": ring(),
        "broken_ring": broken_ring(),
        "ring_with_island": ring_with_island(),
        "blob": blob(),
        "shifted_blob": blob(0, 2),
        "two_blobs": two_blobs(),
    }
