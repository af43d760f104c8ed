"""The development curve of one training run: dev/tatoeba scored every N steps, saved, and the best kept.

Model selection may only look at this curve (never at XQuAD-R). `DevCurve` is independent of how the trainer is
organised: a trainer (or a hook around it) calls `due(step)` and `record(step, encoder)`; the curve is rewritten
atomically after every point (OUT/dev_curve.json and OUT/dev_curve.png), so a killed run loses nothing, and
`resume(step)` drops points past the checkpoint a resumed run restarts from. With `keep_best`, the trainable
weights of the best point so far are written to OUT/dev_best.pt (only parameters that train: with frozen word
embeddings about a fifth of mE5-small), and `restore_best(model)` loads them before the model is saved. A resumed
run repeats the dropped steps bit for bit, so it finds and keeps the same best again.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from polyret.errors import PolyretError
from polyret.evaluate.dev import DevSet, score_encoder
from polyret.report.figures import pyplot, save_figure
from polyret.report.io import write_bytes_atomic, write_json_atomic

CURVE = "dev_curve.json"
FIGURE = "dev_curve.png"
BEST = "dev_best.pt"
MEASURES = ("mixed_mrr", "mixed_accuracy", "pair_accuracy")  # higher is better; same_language_top1 is reported


class DevCurve:
    """Scores a training model on the development set every `every` steps (and at step 0 and the last step)."""

    def __init__(self, dev: DevSet, every: int, output: Path, last_step: int, measure: str = "mixed_mrr",
                 keep_best: bool = False) -> None:
        if every < 1:
            raise PolyretError(f"development curve: every must be at least 1, got {every}")
        if measure not in MEASURES:
            raise PolyretError(f"development curve: unknown measure {measure!r} ({', '.join(MEASURES)})")
        self.dev, self.every, self.output, self.last_step = dev, every, Path(output), last_step
        self.measure, self.keep_best = measure, keep_best
        self.points: list[dict[str, Any]] = []
        self.model_step: int | None = None  # set when the best point's weights became the model

    def due(self, step: int) -> bool:
        """Step 0 is the model before training; then every `every` steps and the last one."""
        return step == 0 or step % self.every == 0 or step == self.last_step

    @property
    def best(self) -> dict[str, Any] | None:
        """The earliest point with the highest measure (ties go to fewer steps)."""
        return max(self.points, key=lambda p: (p[self.measure], -p["step"])) if self.points else None

    def record(self, step: int, encoder: Any, seconds: float | None = None) -> dict[str, Any]:
        """Score `encoder` (its model may be training: see dev.score_encoder), add the point, write the curve."""
        if self.points and step <= self.points[-1]["step"]:
            raise PolyretError(f"development curve: step {step} after step {self.points[-1]['step']}")
        import time

        began = time.perf_counter()
        scores = score_encoder(encoder, self.dev)
        point = {"step": step, **{k: v for k, v in scores.items() if k != "per_language"},
                 "per_language": scores["per_language"], "seconds": round(time.perf_counter() - began, 2)}
        if seconds is not None:
            point["train_seconds"] = seconds
        before = self.best
        self.points.append(point)
        if self.keep_best and (before is None or point[self.measure] > before[self.measure]):
            self._save_best(step, encoder.model)
        self.write()
        return point

    def _save_best(self, step: int, model: Any) -> None:
        import torch

        state = {name: p.detach().cpu().clone() for name, p in model.named_parameters() if p.requires_grad}
        buffer = io.BytesIO()
        torch.save({"step": step, "measure": self.measure, "state": state}, buffer)
        write_bytes_atomic(self.output / BEST, buffer.getvalue())

    def restore_best(self, model: Any) -> int | None:
        """Load the kept best weights into `model`; the step they come from (None when nothing was kept)."""
        import torch

        path = self.output / BEST
        if not self.keep_best or not path.exists():
            return None
        saved = torch.load(path, map_location="cpu", weights_only=True)
        missing = set(saved["state"]) - {name for name, _ in model.named_parameters()}
        if missing:
            raise PolyretError(f"{path}: weights {sorted(missing)[0]!r} are not in this model")
        with torch.no_grad():
            params = dict(model.named_parameters())
            for name, value in saved["state"].items():
                params[name].copy_(value.to(params[name].device))
        return int(saved["step"])

    def resume(self, step: int) -> None:
        """Continue a killed run from the checkpoint at `step`: keep the saved points up to it."""
        path = self.output / CURVE
        if path.exists():
            saved = json.loads(path.read_text(encoding="utf-8"))
            self.points = [p for p in saved["points"] if p["step"] <= step]

    def to_json(self) -> dict[str, Any]:
        best = self.best
        return {"dev_set": self.dev.describe(), "every": self.every, "measure": self.measure,
                "keep_best": self.keep_best, "model_step": self.model_step, "points": self.points,
                "best": None if best is None else {"step": best["step"], self.measure: best[self.measure]}}

    def write(self) -> None:
        self.output.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.output / CURVE, self.to_json())
        curve_figure([("", self.points)], self.output / FIGURE, self.measure, self.best)


def curve_figure(curves: list[tuple[str, list[dict[str, Any]]]], path: Path, measure: str = "mixed_mrr",
                 best: dict[str, Any] | None = None) -> Path:
    """The measure (and same-language top-1, dashed) against training steps, one line per named curve."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.0, 3.6), dpi=120)
    for label, points in curves:
        steps = [p["step"] for p in points]
        line, = ax.plot(steps, [p[measure] for p in points], marker="o", markersize=3, label=label or measure)
        ax.plot(steps, [p["same_language_top1"] for p in points], linestyle="--", color=line.get_color(),
                alpha=0.6, label=(label + ": " if label else "") + "same-language top-1")
    if best is not None:
        ax.axvline(best["step"], color="grey", linestyle=":", label=f"best (step {best['step']})")
    ax.set_xlabel("training step")
    ax.set_ylabel("dev/tatoeba (mixed pool)")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return save_figure(fig, path)
