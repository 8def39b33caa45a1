"""Self-contained HTML report of an evaluation: summary table, per-metric distributions, and for the
worst cases image / ground truth / prediction overlays with the error regions marked, plus persistence
diagrams (of nnU-Net's saved probabilities when PRED_DIR has ``CASE.npz``) or matching counts.

Figures are matplotlib PNGs embedded as base64, so the page is one file with no external resources.
"""
from __future__ import annotations

import base64
import html
import io
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from .error_maps import ERROR_CODES
from .io import LabelSet, label_key, read_segmentation

__all__ = ["write_report", "ERROR_COLOURS", "worst_case_order"]

ERROR_COLOURS: dict[int, str] = {
    1: "#e41a1c",  # spurious component: red
    2: "#377eb8",  # missing component: blue
    3: "#ff7f00",  # spurious hole/loop: orange
    4: "#00c0c0",  # missing hole/loop: cyan
    5: "#f781bf",  # spurious cavity: pink
    6: "#984ea3",  # missing cavity: purple
}
DIST_KEYS = ("Dice", "clDice", "Betti0_error", "Betti1_error", "Betti2_error", "BettiMatching_error")


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        if math.isnan(v):
            return "–"
        return f"{v:.4g}"
    return html.escape(str(v))


def worst_case_order(summary: Mapping[str, Any]) -> list[int]:
    """Case indices, worst first: highest total Betti-matching error (Betti errors where not matched),
    then lowest mean Dice."""
    scores = []
    for i, r in enumerate(summary["metric_per_case"]):
        topo, dices = 0.0, []
        for m in r["metrics"].values():
            bm = m.get("BettiMatching_error", math.nan)
            if isinstance(bm, float) and math.isnan(bm):
                bm = sum(v for k, v in m.items() if k.startswith("Betti") and k[5:6].isdigit())
            topo += bm
            if not math.isnan(m["Dice"]):
                dices.append(m["Dice"])
        scores.append((-topo, float(np.mean(dices)) if dices else 1.0, i))
    return [i for *_, i in sorted(scores)]


def _distribution_figure(summary: Mapping[str, Any], labels: LabelSet) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [k for k in DIST_KEYS if k in summary["foreground_mean"]]
    fig, axes = plt.subplots(1, len(keys), figsize=(3.1 * len(keys), 3.2), squeeze=False)
    rng = np.random.default_rng(0)
    for ax, key in zip(axes[0], keys):
        data, names = [], []
        for item, name in zip(labels.items, labels.names):
            vals = np.array([r["metrics"][label_key(item)].get(key, math.nan) for r in summary["metric_per_case"]],
                            dtype=float)
            data.append(vals[~np.isnan(vals)])
            names.append(name)
        ax.boxplot([d if len(d) else [np.nan] for d in data], showfliers=False, widths=0.5)
        for j, d in enumerate(data):
            ax.scatter(j + 1 + rng.uniform(-0.15, 0.15, len(d)), d, s=9, alpha=0.6, color="#444")
        ax.set_xticks(range(1, len(names) + 1), names, rotation=30, ha="right", fontsize=8)
        ax.set_title(key, fontsize=10)
        if key.endswith("_error"):
            ax.set_ylim(bottom=-0.5)
        else:
            ax.set_ylim(-0.02, 1.02)
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return _png(fig)


def _load_probabilities(pred_dir: Path, case: str) -> np.ndarray | None:
    f = pred_dir / f"{case}.npz"
    if not f.is_file():
        return None
    try:
        with np.load(f) as z:
            return np.asarray(z["probabilities"], dtype=np.float32)
    except Exception:  # a corrupt/foreign .npz only costs the diagram; the report says so
        return None


def _case_figure(case: str, ref: np.ndarray, pred: np.ndarray, image: np.ndarray | None, item, name: str,
                 labels: LabelSet, opt, connectivity: str, probs: np.ndarray | None, item_index: int) -> tuple[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch

    from .evaluate import label_metrics

    ignore = ref == labels.ignore_label if labels.ignore_label is not None else None
    r, p = labels.mask(ref, item), labels.mask(pred, item)
    metrics, emap = label_metrics(p, r, ignore, connectivity=connectivity, options=opt, want_map=True)
    where = ""
    if r.ndim == 3:  # show the slice with most error pixels (or most foreground)
        per_z = (emap > 0).reshape(emap.shape[0], -1).sum(1) if emap is not None else np.zeros(r.shape[0])
        if per_z.max() == 0:
            per_z = (r | p).reshape(r.shape[0], -1).sum(1)
        z = int(np.argmax(per_z))
        where = f", slice z={z} of {r.shape[0]}"
        r, p = r[z], p[z]
        emap = emap[z] if emap is not None else None
        image = image[z] if image is not None and image.ndim == 3 else image
        if probs is not None and probs.ndim == 4:
            probs = probs[:, z]
    if probs is not None and probs.ndim == 4 and probs.shape[1] == 1:
        probs = probs[:, 0]
    # zoom on the structures: bounding box of ground truth, prediction and errors, with a margin
    anything = r | p if emap is None else (r | p | (emap > 0))
    if anything.any():
        idx = np.argwhere(anything)
        lo, hi = idx.min(0), idx.max(0) + 1
        margin = np.maximum(8, ((hi - lo) * 0.15).astype(int))
        box = tuple(slice(max(0, int(a - m)), min(n, int(b + m))) for a, b, m, n in zip(lo, hi, margin, r.shape))
        r, p = r[box], p[box]
        emap = emap[box] if emap is not None else None
        image = image[box] if image is not None and image.shape == anything.shape else image
        if probs is not None and probs.shape[1:] == anything.shape:
            probs = probs[(slice(None),) + box]
    fig, axes = plt.subplots(1, 4, figsize=(14.5, 4.2), gridspec_kw={"width_ratios": [1, 1, 1.7, 1.15]})
    # agreement composite: both (grey), ground truth only (green), prediction only (yellow)
    rgb = np.zeros(r.shape + (3,), dtype=np.float32)
    rgb[r & p] = (0.55, 0.55, 0.55)
    rgb[r & ~p] = (0.15, 0.7, 0.15)
    rgb[~r & p] = (0.8, 0.7, 0.1)
    if image is not None:
        lo, hi = np.percentile(image, (1, 99))
        grey = np.clip((image - lo) / (hi - lo + 1e-9), 0, 1)[..., None]
        axes[0].imshow(grey[..., 0], cmap="gray", interpolation="nearest")
        axes[1].imshow(grey[..., 0], cmap="gray", interpolation="nearest")
        axes[0].contour(r, levels=[0.5], colors="#33dd33", linewidths=0.7)
        axes[1].contour(p, levels=[0.5], colors="#ffcc00", linewidths=0.7)
        mixed = np.where((r | p)[..., None], 0.35 * grey + 0.65 * rgb, 0.45 * grey)
        axes[2].imshow(mixed, interpolation="nearest")
    else:
        axes[0].imshow(r, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        axes[1].imshow(p, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
        axes[2].imshow(rgb, interpolation="nearest")
    for ax in axes[:3]:
        ax.set_axis_off()
    axes[0].set_title("ground truth", fontsize=9)
    axes[1].set_title("prediction", fontsize=9)
    if emap is not None and emap.any():
        from matplotlib.patches import Circle
        from scipy import ndimage

        cmap = ListedColormap([ERROR_COLOURS[c] for c in sorted(ERROR_COLOURS)])
        axes[2].imshow(np.ma.masked_equal(emap, 0), cmap=cmap, vmin=0.5, vmax=6.5, alpha=0.85,
                       interpolation="nearest")
        # ring every error region so that small ones are seen at a glance
        floor = 0.025 * max(emap.shape)
        for code in (int(c) for c in np.unique(emap) if c):
            lab, n = ndimage.label(emap == code)
            for sl in ndimage.find_objects(lab):
                cy = (sl[0].start + sl[0].stop - 1) / 2
                cx = (sl[1].start + sl[1].stop - 1) / 2
                rad = max(floor, 0.6 * max(sl[0].stop - sl[0].start, sl[1].stop - sl[1].start))
                axes[2].add_patch(Circle((cx, cy), rad, fill=False, lw=1.3, color=ERROR_COLOURS[code]))
        present = sorted(int(c) for c in np.unique(emap) if c)
        axes[2].legend(handles=[Patch(color=ERROR_COLOURS[c], label=ERROR_CODES[c]) for c in present],
                       loc="lower left", fontsize=7, framealpha=0.85)
    axes[2].set_title("topological errors (grey: both, green: GT only, yellow: prediction only)", fontsize=9)
    ax = axes[3]
    # nnU-Net's probabilities: one channel per label value (softmax) or per region, in order (sigmoid)
    channel = item_index if labels.has_regions else int(item)
    if probs is not None and probs.shape[0] > channel:
        from nnunet_topo.topology import persistence

        chan = probs[channel]
        if chan.shape == r.shape:
            res = persistence(chan.astype(np.float64), connectivity=connectivity)
            for d, colour in zip(res, ("#1b9e77", "#d95f02", "#7570b3")):
                finite = ~d.essential
                ax.scatter(d.births[finite], d.deaths[finite], s=10, color=colour, alpha=0.7, label=f"H{d.dim}")
                if d.essential.any():
                    ax.scatter(d.births[d.essential], np.zeros(int(d.essential.sum())) - 0.05, marker="^", s=18,
                               color=colour)
            ax.plot([0, 1], [0, 1], color="#999", lw=0.7)
            ax.axhline(0.5, color="#bbb", lw=0.5, ls=":")
            ax.axvline(0.5, color="#bbb", lw=0.5, ls=":")
            ax.set_xlim(-0.02, 1.02)
            ax.set_ylim(-0.08, 1.02)
            ax.set_xlabel("birth (probability)", fontsize=8)
            ax.set_ylabel("death (▲ = essential)", fontsize=8)
            ax.legend(fontsize=7, loc="upper left")
            ax.set_title("persistence diagram of the predicted probability", fontsize=9)
        else:
            probs = None
    if probs is None:
        ndim = 2 if (opt.per_slice or r.ndim == 2) else 3
        dims = range(ndim)
        bm = [metrics.get(f"BettiMatching{k}_error", math.nan) for k in dims]
        be = [metrics.get(f"Betti{k}_error", math.nan) for k in dims]
        x = np.arange(len(bm))
        ax.bar(x - 0.18, be, width=0.36, label="Betti error", color="#80b1d3")
        ax.bar(x + 0.18, bm, width=0.36, label="Betti-matching error", color="#fb8072")
        ax.set_xticks(x, [f"H{k}" for k in dims])
        ax.legend(fontsize=7)
        ax.set_title("errors per dimension, whole case\n(no probabilities saved for a diagram)", fontsize=9)
    fig.suptitle(f"{case} — {name}{where}", fontsize=10)
    fig.tight_layout()
    caption = ", ".join(f"{k} {_fmt(metrics[k])}" for k in DIST_KEYS if k in metrics)
    if probs is not None:
        caption += f" · persistence diagram of {html.escape(case)}.npz, channel {channel}"
    return _png(fig), caption


def write_report(
    path: str | os.PathLike,
    summary: Mapping[str, Any],
    *,
    gt_dir: Path,
    pred_dir: Path,
    dataset_json: Mapping[str, Any],
    labels: LabelSet,
    options: Sequence,
    connectivity: str,
    reader_writer,
    worst_cases: int = 5,
    images_dir: str | os.PathLike | None = None,
) -> None:
    """Write the HTML report to ``path`` (atomically)."""
    path = Path(path)
    fe = dataset_json["file_ending"]
    fg = summary["foreground_mean"]
    cols = [k for k in ("Dice", "IoU", "clDice", "Betti0_error", "Betti1_error", "Betti2_error",
                        "BettiMatching_error", "BettiMatching0_error", "BettiMatching1_error",
                        "BettiMatching2_error", "Euler_error", "SliceTopology_gt", "SliceTopology_prior",
                        "Prior_match") if any(k in m for m in summary["mean"].values())]
    # metrics as rows, labels as columns: reads well for the usual few labels and many metrics
    head = "".join(f"<th>{html.escape(n)}<br><small>{html.escape(label_key(i))}</small></th>"
                   for i, n in zip(labels.items, labels.names))
    rows = []
    for k in cols:
        cells = "".join(f"<td>{_fmt(summary['mean'][label_key(i)].get(k, math.nan))}</td>" for i in labels.items)
        rows.append(f"<tr><td>{k}</td>{cells}<td class='fg'>{_fmt(fg.get(k, math.nan))}</td></tr>")
    extra = []
    for title, values in (("per slice", [o.per_slice for o in options]),
                          ("Betti prior", ["–" if o.prior is None else str(tuple(o.prior)) for o in options]),
                          ("matched", [o.match for o in options])):
        extra.append(f"<tr class='opt'><td>{title}</td>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in values)
                     + "<td></td></tr>")
    table = (f"<div class='scroll'><table><tr><th>metric</th>{head}<th>foreground mean</th></tr>"
             + "".join(rows) + "".join(extra) + "</table></div>")

    dist = _distribution_figure(summary, labels)
    order = worst_case_order(summary)[:max(0, worst_cases)]
    sections = []
    for i in order:
        r = summary["metric_per_case"][i]
        case = r.get("case", Path(r["reference_file"]).name[: -len(fe)])
        ref, _ = read_segmentation(reader_writer, r["reference_file"])
        pred, _ = read_segmentation(reader_writer, r["prediction_file"])
        image = None
        if images_dir is not None:
            f = Path(images_dir) / f"{case}_0000{fe}"
            if f.is_file():
                img, _ = reader_writer.read_images([str(f)])
                img = np.asarray(img[0], dtype=np.float32)
                image = img[0] if img.shape[0] == 1 and ref.ndim == 2 else img
                if image.shape[-ref.ndim:] != ref.shape[-ref.ndim:]:
                    image = None
        probs = _load_probabilities(pred_dir, case)
        figs = []
        for idx, (item, name, opt) in enumerate(zip(labels.items, labels.names, options)):
            m = r["metrics"][label_key(item)]
            if len(labels.items) > 1 and not (m.get("BettiMatching_error", 0) or any(
                    m.get(f"Betti{k}_error", 0) for k in range(3))):
                continue  # several labels: show only those with topological errors
            png, caption = _case_figure(case, ref, pred, image, item, name, labels, opt, connectivity, probs, idx)
            figs.append(f"<figure><img src='data:image/png;base64,{png}'/><figcaption>{caption}</figcaption></figure>")
        sections.append(f"<h3>{html.escape(case)}</h3>" + ("".join(figs) or "<p>no topological error</p>"))

    legend = "".join(f"<li><span class='sw' style='background:{ERROR_COLOURS[c]}'></span>{c}: {ERROR_CODES[c]}</li>"
                     for c in sorted(ERROR_CODES))
    title = html.escape(str(dataset_json.get("name", "evaluation")))
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>nnunet-topo evaluation: {title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1400px; color: #222; padding: 0 1em; }}
table {{ border-collapse: collapse; font-size: 13px; }}
td, th {{ border: 1px solid #ccc; padding: 3px 7px; text-align: right; }}
td:first-child, th:first-child {{ text-align: left; }}
td.fg {{ font-weight: 600; background: #f3f3f3; }} tr.opt td {{ color: #666; font-size: 12px; }}
.scroll {{ overflow-x: auto; }}
figure {{ margin: 0.5em 0 1.5em 0; }} figure img {{ max-width: 100%; }}
figcaption {{ font-size: 12px; color: #555; }}
.meta {{ color: #555; font-size: 13px; }} .sw {{ display: inline-block; width: 12px; height: 12px; margin-right: 6px; }}
ul.legend {{ list-style: none; padding-left: 0; font-size: 13px; columns: 3; }}
</style></head><body>
<h1>Topology evaluation: {title}</h1>
<p class="meta">{len(summary['metric_per_case'])} cases · connectivity <b>{html.escape(connectivity)}</b>
({'foreground 8/26-connected' if connectivity == 'full' else 'foreground 4/6-connected'})
· per-slice topology: {html.escape(', '.join(n for n, o in zip(labels.names, options) if o.per_slice) or 'none')} · ground truth {html.escape(str(gt_dir))}
· predictions {html.escape(str(pred_dir))} · {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}</p>
<h2>Summary (mean over cases)</h2>
{table}
<p class="meta">Errors are counts of topological features per case (lower is better); "–" = undefined (NaN).</p>
<h2>Distributions over cases</h2>
<img src="data:image/png;base64,{dist}" style="max-width:100%"/>
<h2>Worst cases (by Betti-matching error, then Dice)</h2>
<ul class="legend">{legend}</ul>
{''.join(sections)}
</body></html>
"""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(page)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, path)
