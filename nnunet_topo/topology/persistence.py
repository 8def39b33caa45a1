"""Public entry points of the engine: ``persistence`` and ``persistence_batch``.

Superlevel filtration of a 2D/3D float array (C order). ``connectivity="full"`` (default, the
project's convention) is the T-construction: pixels/voxels are top cells, the foreground is
8-connected (2D) / 26-connected (3D) and the background 4- / 6-connected. ``connectivity="face"``
is the V-construction (foreground 4 / 6), for comparison with tools that only know it.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Iterable, Sequence

import numpy as np

from ._types import PersistenceResult
from ._validation import check_connectivity, check_dims, check_image, look_up_option

__all__ = ["persistence", "persistence_batch", "BACKENDS"]

BACKENDS = ("auto", "fast", "gudhi")


def _compute(image: np.ndarray, dims: tuple[int, ...], connectivity: str, backend: str) -> PersistenceResult:
    if backend == "gudhi":
        from ._gudhi_backend import gudhi_diagrams

        diagrams = gudhi_diagrams(image, dims, connectivity)
    else:  # "auto" is "fast": the fastest correct backend for every dimension (see docs/topology.md)
        from ._fast_backend import fast_diagrams

        diagrams, backend = fast_diagrams(image, dims, connectivity)
    return PersistenceResult(shape=image.shape, connectivity=connectivity, backend=backend, diagrams=diagrams)


def persistence(
    image: np.ndarray,
    *,
    dims: Iterable[int] | int | None = None,
    connectivity: str = "full",
    backend: str = "auto",
) -> PersistenceResult:
    """Cubical persistent homology of the superlevel filtration of ``image``.

    Args:
        image: 2D ``(H, W)`` or 3D ``(D, H, W)`` array, any real dtype, finite values, C order.
        dims: homology dimensions to compute (default all, ``0 .. ndim-1``).
        connectivity: ``"full"`` (T-construction, foreground 8/26-connected) or ``"face"``
            (V-construction, foreground 4/6-connected).
        backend: ``"auto"`` (fastest correct backend, currently ``"fast"``), ``"fast"`` (union-find
            for dims 0 and ``d - 1``, cripser for dim 1 of 3D images) or ``"gudhi"`` (reference).

    Returns:
        PersistenceResult indexable by dimension; see :class:`Diagram` for the fields.

    Raises:
        TypeError: non-numeric dtype or a non-string option.
        ValueError: NaN/inf, not 2D/3D, empty, unknown option or dimension.
    """
    image = check_image(image)
    connectivity = check_connectivity(connectivity)
    backend = look_up_option("backend", backend, BACKENDS)
    return _compute(image, check_dims(dims, image.ndim), connectivity, backend)


def persistence_batch(
    images: Sequence[np.ndarray],
    *,
    dims: Iterable[int] | int | None = None,
    connectivity: str = "full",
    backend: str = "auto",
    num_threads: int | None = None,
) -> list[PersistenceResult]:
    """``persistence`` of many maps on a thread pool; results in input order.

    ``images`` is a sequence of 2D/3D arrays (or one array whose first axis is the batch).
    ``num_threads=None`` uses ``min(len(images), os.cpu_count())``; ``1`` runs serially.
    """
    import os

    if num_threads is not None and (
        not isinstance(num_threads, (int, np.integer)) or isinstance(num_threads, bool) or num_threads < 1
    ):
        raise TypeError(f"num_threads: expected a positive int or None, got {num_threads!r}")
    images = list(images)
    if not images:
        return []
    checked = [check_image(im, name=f"images[{i}]") for i, im in enumerate(images)]
    connectivity = check_connectivity(connectivity)
    backend = look_up_option("backend", backend, BACKENDS)
    dims_t = [check_dims(dims, im.ndim) for im in checked]
    n = min(len(checked), int(num_threads or os.cpu_count() or 1))
    if n <= 1:
        return [_compute(im, d, connectivity, backend) for im, d in zip(checked, dims_t)]
    # The numba kernels release the GIL (nogil), so threads run in parallel.
    with ThreadPoolExecutor(max_workers=n) as pool:
        return list(pool.map(lambda a: _compute(a[0], a[1], connectivity, backend), zip(checked, dims_t)))
