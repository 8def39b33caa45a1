"""Reference backend: gudhi's cubical complex, all homology dimensions.

Superlevel filtration of ``image`` = sublevel filtration of ``-image``. ``connectivity="full"`` uses
``CubicalComplex(top_dimensional_cells=...)`` (T-construction), ``"face"`` uses
``CubicalComplex(vertices=...)`` (V-construction). gudhi indexes cells with the first axis varying
fastest (Fortran order); we convert to C-order coordinates here.
"""
from __future__ import annotations

import numpy as np

from ._types import Diagram

__all__ = ["gudhi_diagrams", "sort_bars"]


def sort_bars(births, deaths, birth_idx, death_idx, essential):
    """Order bars by decreasing persistence (essential first), ties by birth then death index.

    Same order as ``np.lexsort((death_idx, birth_idx, -persistence))``, computed as two stable sorts
    (an int64 composite key, then the persistence), which is several times faster on many bars.
    """
    births = np.asarray(births, dtype=np.float64)
    n = len(births)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    pers = np.where(essential, np.inf, births - np.asarray(deaths, dtype=np.float64))
    birth_idx = np.asarray(birth_idx, dtype=np.int64)
    death_idx = np.asarray(death_idx, dtype=np.int64)
    span = int(death_idx.max()) + 2  # death_idx >= -1
    first = np.argsort(birth_idx * span + (death_idx + 1), kind="stable")
    second = np.argsort(-pers[first], kind="stable")
    return first[second]


def gudhi_diagrams(image: np.ndarray, dims: tuple[int, ...], connectivity: str) -> dict[int, Diagram]:
    """Diagrams of the superlevel filtration of a validated float64 C-contiguous 2D/3D ``image``."""
    import gudhi  # imported lazily: the fast backend does not need it

    shape = image.shape
    if connectivity == "full":
        cc = gudhi.CubicalComplex(top_dimensional_cells=-image)
    else:
        cc = gudhi.CubicalComplex(vertices=-image)
    cc.compute_persistence(homology_coeff_field=2, min_persistence=-1.0)
    regular, essential = (
        cc.cofaces_of_persistence_pairs() if connectivity == "full" else cc.vertices_of_persistence_pairs()
    )
    flat = image.ravel(order="F")
    out: dict[int, Diagram] = {}
    for k in dims:
        reg = regular[k] if k < len(regular) else np.zeros((0, 2), dtype=np.int64)
        ess = essential[k] if k < len(essential) else np.zeros(0, dtype=np.int64)
        reg = np.asarray(reg, dtype=np.int64).reshape(-1, 2)
        ess = np.asarray(ess, dtype=np.int64).reshape(-1)
        # gudhi keeps zero-persistence pairs with min_persistence=-1; drop them (not features).
        keep = flat[reg[:, 0]] != flat[reg[:, 1]]
        reg = reg[keep]
        b_f = np.concatenate([reg[:, 0], ess])
        d_f = np.concatenate([reg[:, 1], np.full(len(ess), -1, dtype=np.int64)])
        is_ess = np.concatenate([np.zeros(len(reg), bool), np.ones(len(ess), bool)])
        births = flat[b_f] if len(b_f) else np.zeros(0)
        deaths = np.where(is_ess, -np.inf, flat[np.where(is_ess, 0, d_f)]) if len(b_f) else np.zeros(0)
        b_cells = np.stack(np.unravel_index(b_f, shape, order="F"), axis=1) if len(b_f) else np.zeros((0, len(shape)), np.int64)
        d_cells = np.full((len(b_f), len(shape)), -1, dtype=np.int64)
        if (~is_ess).any():
            d_cells[~is_ess] = np.stack(np.unravel_index(d_f[~is_ess], shape, order="F"), axis=1)
        b_c = np.ravel_multi_index(tuple(b_cells.T), shape) if len(b_f) else np.zeros(0, np.int64)
        d_c = np.full(len(b_f), -1, dtype=np.int64)
        if (~is_ess).any():
            d_c[~is_ess] = np.ravel_multi_index(tuple(d_cells[~is_ess].T), shape)
        order = sort_bars(births, deaths, b_c, d_c, is_ess)
        out[k] = Diagram(
            dim=k,
            shape=shape,
            births=births[order],
            deaths=deaths[order],
            birth_cells=b_cells[order],
            death_cells=d_cells[order],
            essential=is_ess[order],
        )
    return out
