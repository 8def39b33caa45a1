"""Draws docs/figures/topology_diagram.png: a probability map, its critical cells and its diagram.

Run: .venv/bin/python docs/figures/make_topology_figure.py
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy import ndimage  # noqa: E402

from nnunet_topo.topology import persistence  # noqa: E402
from nnunet_topo.topology.plotting import plot_critical_cells, plot_diagram  # noqa: E402


def example_map() -> np.ndarray:
    """A ring with a weak spot (0.45), a small spurious blob and mild noise, shape (64, 80)."""
    yy, xx = np.mgrid[:64, :80].astype(float)
    r = np.hypot(yy - 32, xx - 34)
    ring = np.exp(-((r - 17) ** 2) / 8.0)
    ring = ring * np.where((xx > 44) & (np.abs(yy - 32) < 4), 0.45, 1.0)  # thin, uncertain part
    blob = 0.7 * np.exp(-((yy - 10) ** 2 + (xx - 70) ** 2) / 6.0)
    noise = ndimage.gaussian_filter(np.random.default_rng(0).random((64, 80)), 1.5) * 0.25
    return np.clip(np.maximum(ring, blob) + noise, 0, 1)


def main() -> None:
    image = example_map()
    res = persistence(image)
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.3))
    plot_critical_cells(image, res, min_persistence=0.2, ax=axes[0],
                        title="probability map; cells of bars with persistence > 0.2")
    plot_diagram(res, ax=axes[1], title="persistence diagram (superlevel, T-construction)")
    fig.tight_layout()
    out = Path(__file__).with_name("topology_diagram.png")
    fig.savefig(out, dpi=110)
    print(out)
    for d in res:
        big = d.subset(d.essential | (d.persistence > 0.2))
        print(d.dim, big.pairs().round(3).tolist(), big.birth_cells.tolist(), big.death_cells.tolist())


if __name__ == "__main__":
    main()
