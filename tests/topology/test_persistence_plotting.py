"""Plots of diagrams: one marker per bar, essential bars on the -inf line, bad input refused."""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from nnunet_topo.topology import persistence  # noqa: E402
from nnunet_topo.topology.plotting import plot_critical_cells, plot_diagram  # noqa: E402


def _image():
    img = np.full((9, 12), 0.1)
    img[2:7, 3:9] = 0.9
    img[4, 5:7] = 0.2
    img[0, 11] = 0.5
    return img


def test_plot_diagram_draws_every_bar():
    import matplotlib.pyplot as plt

    res = persistence(_image())
    ax = plot_diagram(res, title="t")
    offsets = [c.get_offsets() for c in ax.collections]
    assert [len(o) for o in offsets] == [len(res[0]), len(res[1])]
    # births on x; the essential bar sits below every finite value, on the -inf line
    dim0 = np.asarray(offsets[0])
    assert sorted(dim0[:, 0].tolist()) == sorted(res[0].births.tolist())
    ess_y = dim0[res[0].essential][:, 1]
    assert np.all(ess_y < res[0].deaths[~res[0].essential].min())
    plt.close("all")


def test_plot_critical_cells_marks_cells():
    import matplotlib.pyplot as plt

    res = persistence(_image())
    ax = plot_critical_cells(_image(), res, min_persistence=0.3)
    births0 = np.asarray(ax.collections[0].get_offsets())
    # the essential bar (0.9) and the corner pixel (0.5 -> 0.1) pass the threshold; (row, col) -> (x, y)
    assert births0.tolist() == [[3.0, 2.0], [11.0, 0.0]]  # essential: first max pixel in C order
    deaths1 = np.asarray(ax.collections[3].get_offsets())
    assert deaths1.tolist() in ([[5.0, 4.0]], [[6.0, 4.0]])
    with pytest.raises(ValueError, match="expected a 2D array"):
        plot_critical_cells(np.zeros((2, 3, 4)), res)
    with pytest.raises(TypeError, match="PersistenceResult or a Diagram"):
        plot_diagram([1, 2])
    plt.close("all")
