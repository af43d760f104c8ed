"""Test-side launcher: run `python -m polyret ...` with training hooks installed (never used in production).

    python tests/train_launcher.py [--kill-at-step N] [--record-dir DIR] -- train --model ... (any polyret command)

--kill-at-step N  every rank dies like `kill -9` at the start of step N (a crash the run must survive)
--record-dir DIR  every rank appends its own per-step record to DIR/rank-<r>.jsonl: step, kind, language pair,
                  group ids, this rank's loss share and the global loss

Works under torchrun too (every rank runs this file). The hooks reach every `polyret.train.loop.train` call,
including the study's.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from functools import wraps
from pathlib import Path

from polyret.train.hooks import TrainHook, TrainState


class KillAtStep(TrainHook):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_start(self, state: TrainState) -> None:
        if state.step == self.step:
            os.kill(os.getpid(), signal.SIGKILL)


class RecordBatches(TrainHook):
    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def on_step_end(self, state: TrainState) -> None:
        batch, result = state.batch, state.result
        assert batch is not None and result is not None
        record = {"step": state.step, "kind": batch.kind,
                  "language_pair": list(batch.language_pair) if batch.language_pair else None,
                  "query_langs": batch.query_langs, "positive_langs": batch.positive_langs,
                  "group_ids": batch.group_ids, "local_loss": result.local_loss, "loss": result.loss}
        self.directory.mkdir(parents=True, exist_ok=True)
        with open(self.directory / f"rank-{state.rank}.jsonl", "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def install(hooks: list[TrainHook]) -> None:
    import polyret.train.loop as loop

    real = loop.train

    @wraps(real)
    def with_hooks(*args, **kwargs):  # type: ignore[no-untyped-def]
        kwargs["hooks"] = [*kwargs.get("hooks", ()), *hooks]
        return real(*args, **kwargs)

    loop.train = with_hooks  # type: ignore[assignment]


def main(argv: list[str]) -> None:
    split = argv.index("--")
    parser = argparse.ArgumentParser()
    parser.add_argument("--kill-at-step", type=int)
    parser.add_argument("--record-dir", type=Path)
    own = parser.parse_args(argv[:split])
    hooks: list[TrainHook] = []
    if own.kill_at_step:
        hooks.append(KillAtStep(own.kill_at_step))
    if own.record_dir:
        hooks.append(RecordBatches(own.record_dir))
    install(hooks)
    from polyret.cli import app

    sys.exit(app(argv[split + 1:], prog_name="polyret"))


if __name__ == "__main__":
    main(sys.argv[1:])
