"""Figures people would rather look at than read: the per-language-pair heatmap and the robustness curve."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from polyret.report.io import write_bytes_atomic


def pyplot() -> Any:
    """matplotlib.pyplot on the file-only Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: Path) -> Path:
    """The figure as a PNG, written atomically; the figure is closed."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    pyplot().close(fig)
    write_bytes_atomic(Path(path), buffer.getvalue())
    return Path(path)


def pair_heatmap(matrix: list[list[float]], languages: list[str], path: Path, title: str,
                 label: str = "mAP") -> Path:
    """Query language (rows) x candidate language (columns), each cell annotated; written atomically."""
    plt = pyplot()
    values = np.array(matrix, dtype=float)
    n = len(languages)
    fig, ax = plt.subplots(figsize=(1.0 + 0.62 * n, 0.8 + 0.55 * n), dpi=120)
    image = ax.imshow(values, cmap="viridis", vmin=0.0, vmax=1.0)
    ax.set_xticks(range(n), labels=languages)
    ax.set_yticks(range(n), labels=languages)
    ax.set_xlabel("candidate language")
    ax.set_ylabel("query language")
    ax.set_title(title, fontsize=9)
    if n <= 16:
        for i in range(n):
            for j in range(n):
                if np.isfinite(values[i, j]):
                    ax.text(j, i, f"{values[i, j]:.2f}", ha="center", va="center", fontsize=6.5,
                            color="black" if values[i, j] > 0.6 else "white")
    fig.colorbar(image, ax=ax, label=label, fraction=0.046, pad=0.04)
    fig.tight_layout()
    return save_figure(fig, path)


def robustness_figure(curve: dict[str, Any], path: Path, title: str) -> Path:
    """Mul mAP against noise rate, one line per dialect target."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(9.0, 5.0), dpi=120)
    cmap = plt.get_cmap("tab20")  # dark shades first, then light: neighbours in the legend get distinct hues
    languages = list(dict.fromkeys(line["language"] for line in curve["lines"]))
    colour = {lang: cmap((2 * i) % 20 + (2 * i) // 20) for i, lang in enumerate(languages)}
    for line in curve["lines"]:  # one colour per language; the keyboard-typo control dashed
        style = "--" if line["dialect"].endswith("-typos") else "-"
        ax.plot(curve["rates"], line["mul_map"], style, marker="o", ms=3, color=colour[line["language"]],
                label=line["dialect"])
    ax.set_xlabel("noise rate (share of rule sites rewritten)")
    ax.set_ylabel("Mul mAP of the noised language's queries")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=1 if len(curve["lines"]) <= 12 else 2, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return save_figure(fig, path)
