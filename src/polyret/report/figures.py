"""Figures people would rather look at than read: the per-language-pair heatmap."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def pair_heatmap(matrix: list[list[float]], languages: list[str], path: Path, title: str,
                 label: str = "mAP") -> Path:
    """Query language (rows) x candidate language (columns), each cell annotated; written atomically."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

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
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    os.replace(tmp, path)
    return path
