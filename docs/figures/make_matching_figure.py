"""Draw docs/figures/betti_matching_example.png: a worked Betti-matching example.

Run from the repository root: ``python docs/figures/make_matching_figure.py``.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from nnunet_topo.topology import betti_matching  # noqa: E402


def example() -> tuple[np.ndarray, np.ndarray]:
    """A target with a ring and two blobs; a prediction that breaks the ring, shifts a blob, adds one."""
    target = np.zeros((14, 22))
    target[2:9, 2:9] = 1
    target[3:8, 3:8] = 0          # ring (one component, one loop)
    target[10:13, 3:6] = 1        # blob A
    target[2:5, 13:16] = 1        # blob B
    pred = np.zeros_like(target)
    pred[2:9, 2:9] = 0.9
    pred[3:8, 3:8] = 0.1
    pred[5, 2] = 0.0              # the ring is broken at one pixel
    pred[10:13, 3:6] = 0.8        # blob A: found
    pred[2:5, 17:20] = 0.7        # blob B: shifted, no overlap with the target's blob B
    pred[10:13, 15:18] = 0.6      # a spurious blob
    return pred, target


def main() -> None:
    pred, target = example()
    result = betti_matching(pred, target)
    comp = np.maximum(pred, target)
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    for ax, image, title in zip(axes, (pred, target, comp), ("prediction P", "target G", "comparison C = max(P, G)")):
        ax.imshow(image, cmap="gray", vmin=0, vmax=1)
        ax.set_title(title)
        ax.set_xticks([])
        ax.set_yticks([])
    colours = {"matched": "tab:green", "unmatched": "tab:red"}
    for k, marker in ((0, "o"), (1, "s")):
        m = result[k]
        for ax, diagram, matched, unmatched in ((axes[0], m.pred, m.matched_pred, m.unmatched_pred),
                                                (axes[1], m.target, m.matched_target, m.unmatched_target)):
            for idx, kind in [(i, "matched") for i in matched] + [(i, "unmatched") for i in unmatched]:
                r, c = diagram.birth_cells[idx]
                ax.scatter([c], [r], s=70, marker=marker, facecolors="none", edgecolors=colours[kind], linewidths=2)
    handles = [plt.Line2D([], [], marker="o", ls="", mfc="none", mec="tab:green", label="dim 0, matched"),
               plt.Line2D([], [], marker="o", ls="", mfc="none", mec="tab:red", label="dim 0, unmatched"),
               plt.Line2D([], [], marker="s", ls="", mfc="none", mec="tab:green", label="dim 1, matched"),
               plt.Line2D([], [], marker="s", ls="", mfc="none", mec="tab:red", label="dim 1, unmatched")]
    fig.legend(handles=handles, loc="lower center", ncol=4, frameon=False)
    fig.suptitle("Betti matching, birth cells of the bars (connectivity='full'): "
                 f"errors per dimension {result.errors}, total {result.error}")
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    out = Path(__file__).with_name("betti_matching_example.png")
    fig.savefig(out, dpi=110)
    print(out, result.errors)


if __name__ == "__main__":
    main()
