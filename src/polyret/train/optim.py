"""The optimiser and the learning-rate schedule, each chosen by name from a registry in the train config.

Each entry maps (trainable parameters, config) to a torch optimiser, or (optimiser, config) to a scheduler; the
trainer calls them and nothing else, so an entry added here (or by a user, `OPTIMIZERS["name"] = ...`) is a
`polyret train --optimizer name` without touching the loop. The schedules are transformers' own (warmup, then
linear decay to 0, cosine, or constant); warmup is `TrainConfig.effective_warmup`.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

import torch

OPTIMIZERS: dict[str, Callable[[Iterable[torch.nn.Parameter], Any], torch.optim.Optimizer]] = {
    "adamw": lambda params, config: torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay),
    "sgd": lambda params, config: torch.optim.SGD(params, lr=config.lr, momentum=0.9,
                                                  weight_decay=config.weight_decay),
}


def _transformers_schedule(name: str) -> Callable[[torch.optim.Optimizer, Any], Any]:
    def build(optimizer: torch.optim.Optimizer, config: Any) -> Any:
        import transformers

        if name == "constant":
            return transformers.get_constant_schedule_with_warmup(optimizer, config.effective_warmup)
        schedule = getattr(transformers, f"get_{name}_schedule_with_warmup")
        return schedule(optimizer, config.effective_warmup, config.steps)
    return build


SCHEDULES: dict[str, Callable[[torch.optim.Optimizer, Any], Any]] = {
    name: _transformers_schedule(name) for name in ("linear", "cosine", "constant")}


def build_optimizer(params: list[torch.nn.Parameter], config: Any) -> tuple[torch.optim.Optimizer, Any]:
    """The optimiser `config.optimizer` names over `params`, and the schedule `config.schedule` names over it."""
    optimizer = OPTIMIZERS[config.optimizer](params, config)
    return optimizer, SCHEDULES[config.schedule](optimizer, config)
