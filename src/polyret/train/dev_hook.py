"""The development-set hook of a training run: DevCurve (evaluate/dev_curve.py) scored from inside the trainer.

It lives beside the trainer because it is a TrainHook (train/hooks.py); what it scores and how the curve is kept
are the evaluation side's (evaluate/dev.py, evaluate/dev_curve.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from polyret.evaluate.dev import DevSet
from polyret.evaluate.dev_curve import DevCurve
from polyret.train.hooks import TrainHook


class DevEvalHook(TrainHook):
    """Scores the development set during training: step 0, every `every` steps, the last step (rank 0 only).

    Writes OUT/dev_curve.json and OUT/dev_curve.png after every point. With `keep_best`, the trainable weights of the
    best point are kept (OUT/dev_best.pt) and put back into the model just before the trainer saves it
    (on_before_save), so the finished model is the best point's; dev_curve.json then names the step they come
    from (`model_step`). Scoring runs in eval mode without gradients and under a forked RNG, so a run with the hook
    draws the same batches and losses as one without it.
    """

    def __init__(self, dev: DevSet, every: int, measure: str = "mixed_mrr", keep_best: bool = False) -> None:
        self.dev, self.every, self.measure, self.keep_best = dev, every, measure, keep_best
        self.curve: DevCurve | None = None

    def on_train_start(self, state: Any) -> None:
        if not state.is_main:
            return
        self.curve = DevCurve(self.dev, self.every, state.output, state.config.steps, self.measure, self.keep_best)
        if state.start_step:
            self.curve.resume(state.start_step)
        # fresh: step 0; resumed: the checkpoint's step if its point was lost with the killed process
        last = self.curve.points[-1]["step"] if self.curve.points else -1
        if self.curve.due(state.start_step) and last < state.start_step:
            self._score(state, state.start_step)

    def on_step_start(self, state: Any) -> None:
        pass

    def on_step_end(self, state: Any) -> None:
        if state.is_main and self.curve is not None and self.curve.due(state.step):
            self._score(state, state.step)

    def on_before_save(self, state: Any) -> None:
        """With keep_best, the best point's weights go back into the model before it is saved, so the finished
        directory never holds the last step's weights under polyret_model.json (not even for a moment)."""
        if not state.is_main or self.curve is None:
            return
        if self.keep_best:
            step = self.curve.restore_best(state.model)
            if step is not None:
                self.curve.model_step = step
                self.curve.write()

    def _score(self, state: Any, step: int) -> None:
        import torch

        assert self.curve is not None
        devices = [state.encoder.device] if getattr(state.encoder.device, "type", "cpu") == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            self.curve.record(step, state.encoder)


def dev_hook_for(dev_settings: Any, data_dir: Path) -> DevEvalHook:
    """The hook of a study profile's `dev` section (study.profiles.DevEval): set, every, measure, keep_best."""
    from polyret.evaluate.dev import load_dev_set

    return DevEvalHook(load_dev_set(data_dir, dev_settings.set), dev_settings.every, dev_settings.measure,
                       dev_settings.keep_best)
