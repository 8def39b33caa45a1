"""Bad input to the engine raises TypeError/ValueError naming what was expected and what was seen."""
from __future__ import annotations

import numpy as np
import pytest

from nnunet_topo.topology import persistence, persistence_batch

GOOD = np.zeros((4, 5))


@pytest.mark.parametrize(
    "image, error, words",
    [
        (np.array([[0.0, np.nan], [1.0, 0.0]]), ValueError, "finite values, got 1 NaN and 0 inf"),
        (np.array([[0.0, np.inf], [-np.inf, 0.0]]), ValueError, "0 NaN and 2 inf"),
        (np.zeros(7), ValueError, "2D or 3D array, got 1D"),
        (np.zeros((2, 3, 4, 5)), ValueError, r"2D or 3D array, got 4D with shape \(2, 3, 4, 5\)"),
        (np.zeros((0, 4)), ValueError, r"non-empty array, got shape \(0, 4\)"),
        (np.zeros((3, 0, 2)), ValueError, "non-empty"),
        (np.array([["a", "b"], ["c", "d"]]), TypeError, "real numeric dtype.*<U1"),
        (np.zeros((2, 2), dtype=complex), TypeError, "complex128"),
        (np.zeros((2, 2), dtype=object), TypeError, "object"),
    ],
)
@pytest.mark.parametrize("backend", ["auto", "fast", "gudhi"])
def test_bad_images(image, error, words, backend):
    with pytest.raises(error, match=words):
        persistence(image, backend=backend)


def test_bad_options():
    with pytest.raises(ValueError, match=r"connectivity: expected one of \('full', 'face'\), got '8'"):
        persistence(GOOD, connectivity="8")
    with pytest.raises(TypeError, match="connectivity: expected one of"):
        persistence(GOOD, connectivity=8)
    with pytest.raises(ValueError, match="backend: expected one of .*got 'cripser'"):
        persistence(GOOD, backend="cripser")
    with pytest.raises(ValueError, match=r"dims: expected integers in 0..1 for a 2D image, got 2"):
        persistence(GOOD, dims=[0, 2])
    with pytest.raises(TypeError, match="dims: expected integers"):
        persistence(GOOD, dims=[0.5])


def test_keyword_only_options():
    with pytest.raises(TypeError):
        persistence(GOOD, [0])  # type: ignore[misc]


def test_tensors_are_refused_with_advice():
    class FakeTensor:
        def detach(self):
            return self

        def cpu(self):
            return self

    with pytest.raises(TypeError, match="tensor.detach"):
        persistence(FakeTensor())


def test_batch_names_the_bad_item():
    with pytest.raises(ValueError, match=r"images\[1\]: expected finite values"):
        persistence_batch([GOOD, np.full((3, 3), np.nan)])
    with pytest.raises(TypeError, match=r"num_threads: expected a positive int"):
        persistence_batch([GOOD], num_threads=0)
