"""Comparison of trainers: one table row per trainer from the evaluator's summaries, and an HTML page.

Used by ``nnunet-topo demo`` and ``nnunet-topo bench train``. Rows hold the evaluator's foreground
means (Dice, clDice, Betti errors, Betti-matching error; connectivity as in the evaluator) plus the
share of cases whose topology equals each label's Betti prior.
"""
from __future__ import annotations

import base64
import html
import io
import math
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

__all__ = ["COLUMNS", "comparison_row", "format_table", "case_figure", "write_comparison_report"]

# (key in the row, column header, format)
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("Dice", "Dice", "{:.3f}"),
    ("clDice", "clDice", "{:.3f}"),
    ("Betti0_error", "β0 err", "{:.2f}"),
    ("Betti1_error", "β1 err", "{:.2f}"),
    ("BettiMatching_error", "BM err", "{:.2f}"),
    ("prior_ok", "prior ok", "{:.0%}"),
    ("seconds_per_iteration", "s/iter", "{:.2f}"),
    ("train_seconds", "train s", "{:.0f}"),
)


def comparison_row(trainer: str, summary: Mapping[str, Any], **extra: float) -> dict[str, Any]:
    """One row: ``trainer``, the summary's foreground means and ``prior_ok`` (mean over labels with a prior).

    ``extra`` adds timing columns (``seconds_per_iteration``, ``train_seconds``).
    """
    fg = summary["foreground_mean"]
    row: dict[str, Any] = {"trainer": trainer}
    for key in ("Dice", "clDice", "Betti0_error", "Betti1_error", "BettiMatching_error"):
        row[key] = float(fg.get(key, math.nan))
    priors = [v["Prior_match"] for v in summary["mean"].values() if "Prior_match" in v]
    row["prior_ok"] = float(np.nanmean(priors)) if priors else math.nan
    row["per_label"] = {
        summary["labels"][k]["name"] if k in summary.get("labels", {}) else k: {
            m: float(v[m]) for m in ("Dice", "clDice", "Betti0_error", "Betti1_error", "BettiMatching_error",
                                     "Prior_match") if m in v
        }
        for k, v in summary["mean"].items()
    }
    row.update({k: float(v) for k, v in extra.items()})
    return row


def _cell(value: Any, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return fmt.format(value)


def _with_std(row: Mapping[str, Any], key: str, fmt: str) -> str:
    text = _cell(row.get(key), fmt)
    std = row.get(f"{key}_std")
    if isinstance(std, float) and not math.isnan(std) and text != "–":
        text += " ± " + _cell(std, fmt).rstrip("%")
    return text


def format_table(rows: Sequence[Mapping[str, Any]], *, markdown: bool = False) -> str:
    """The rows as an aligned text table (or a Markdown table); missing values show as ``–``."""
    cols = [c for c in COLUMNS if any(c[0] in r for r in rows)]
    header = ["trainer"] + [c[1] for c in cols]
    body = [[str(r["trainer"])] + [_with_std(r, k, f) for k, _, f in cols] for r in rows]
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(b) + " |" for b in body]
        return "\n".join(lines)
    widths = [max(len(x) for x in col) for col in zip(header, *body)]
    fmt_line = lambda cells: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))  # noqa: E731
    return "\n".join([fmt_line(header), fmt_line(["-" * w for w in widths])] + [fmt_line(b) for b in body])


def case_figure(images: Sequence[np.ndarray], references: Sequence[np.ndarray],
                predictions: Mapping[str, Sequence[np.ndarray]], names: Sequence[str], *, num_labels: int) -> str:
    """PNG (base64) grid: one row per case with the image, the reference and each trainer's prediction.

    All arrays are 2D ``(H, W)``, C order; labels are integers ``0 .. num_labels - 1``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    palette = ListedColormap(["#000000", "#e6194b", "#f58231", "#3cb44b", "#4363d8", "#911eb4"][:max(2, num_labels)])
    cols = 2 + len(predictions)
    fig, axes = plt.subplots(len(images), cols, figsize=(2.4 * cols, 2.4 * len(images)), squeeze=False)
    for i, (img, ref) in enumerate(zip(images, references)):
        panels = [("image", img, "gray", None), ("reference", ref, palette, num_labels - 1)]
        panels += [(t, p[i], palette, num_labels - 1) for t, p in predictions.items()]
        for ax, (title, arr, cmap, vmax) in zip(axes[i], panels):
            ax.imshow(arr, cmap=cmap, vmin=0, vmax=vmax, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(title, fontsize=8)
        axes[i, 0].set_ylabel(names[i], fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def write_comparison_report(path: str | Path, *, title: str, rows: Sequence[Mapping[str, Any]], notes: Sequence[str],
                            figure_png_b64: str | None = None, links: Mapping[str, str] | None = None) -> Path:
    """Self-contained HTML page: notes, the comparison table, per-label means, the figure, links."""
    path = Path(path)
    cols = [c for c in COLUMNS if any(c[0] in r for r in rows)]
    head = "".join(f"<th>{html.escape(h)}</th>" for h in ["trainer"] + [c[1] for c in cols])
    body = "".join(
        "<tr><td>" + html.escape(str(r["trainer"])) + "</td>"
        + "".join(f"<td>{_cell(r.get(k), f)}</td>" for k, _, f in cols) + "</tr>" for r in rows
    )
    per_label = ""
    for r in rows:
        for name, vals in r.get("per_label", {}).items():
            per_label += (f"<tr><td>{html.escape(str(r['trainer']))}</td><td>{html.escape(name)}</td>"
                          + "".join(f"<td>{_cell(vals.get(m), '{:.3f}')}</td>" for m in
                                    ("Dice", "clDice", "Betti0_error", "Betti1_error", "BettiMatching_error",
                                     "Prior_match")) + "</tr>")
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:first-child{text-align:left}</style>",
        f"</head><body><h1>{html.escape(title)}</h1>",
        "<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes) + "</ul>",
        f"<h2>Comparison (foreground means)</h2><table><tr>{head}</tr>{body}</table>",
        "<h2>Per label</h2><table><tr><th>trainer</th><th>label</th><th>Dice</th><th>clDice</th><th>β0 err</th>"
        f"<th>β1 err</th><th>BM err</th><th>prior ok</th></tr>{per_label}</table>",
    ]
    if figure_png_b64:
        parts.append(f"<h2>Held-out cases</h2><img src='data:image/png;base64,{figure_png_b64}'>")
    if links:
        parts.append("<h2>Evaluator reports</h2><ul>" + "".join(
            f"<li><a href='{html.escape(href)}'>{html.escape(text)}</a></li>" for text, href in links.items()) + "</ul>")
    parts.append("</body></html>")
    tmp = path.with_suffix(path.suffix + ".tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp.write_text("\n".join(parts) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path
