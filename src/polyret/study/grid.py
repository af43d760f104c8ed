"""The study grid: which cells a profile has, what each trains, and how it is evaluated.

A strategy name is a base strategy (zero_shot or a training strategy) with an optional post-hoc transform suffix:
`hybrid+noise+center` is the hybrid+noise model with language-mean centring at evaluation. Cells that share a base
strategy and seed share one trained model, trained once under OUT/train/.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from polyret.evaluate.config import EvaluateConfig
from polyret.strategy import Strategy, check_strategies
from polyret.study.profiles import Profile
from polyret.train.config import TrainConfig


def _model_name(model: str) -> str:
    if model.startswith("embedded:"):
        return model.split(":", 1)[1]
    return f"{Path(model).name}-{hashlib.sha1(model.encode()).hexdigest()[:6]}"


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.+-]+", "_", name)


@dataclass(frozen=True)
class Cell:
    model: str
    strategy: Strategy
    seed: int | None = None  # None for cells that do not train
    design: str | None = None  # practical or controlled for cells that train (None: practical), None otherwise

    @property
    def base(self) -> Strategy:
        """What is trained: cells with one base, seed and design share a model."""
        return self.strategy.base

    @property
    def transform(self) -> str | None:
        return self.strategy.transform

    @property
    def trains(self) -> bool:
        return self.strategy.trains

    @property
    def slug(self) -> str:
        """A readable directory name: model short name (plus a hash of a path spec), strategy, seed."""
        seed = "" if self.seed is None else f"__s{self.seed}"
        return _safe(f"{_model_name(self.model)}{self._design_part}__{self.strategy}{seed}")

    @property
    def training_slug(self) -> str:
        return _safe(f"{_model_name(self.model)}{self._design_part}__{self.base}__s{self.seed}")

    @property
    def _design_part(self) -> str:
        """Practical cells keep the names they had before designs existed; controlled ones are marked."""
        return "__controlled" if self.design == "controlled" else ""


def cells_of(models: list[str], profile: Profile) -> list[Cell]:
    strategies = check_strategies(profile.strategies)
    out = []
    for model in models:
        for index, design in enumerate(profile.designs):  # each design's trained cells; zero-shot ones once
            for strategy in strategies:
                if not strategy.trains:
                    if index == 0:
                        out.append(Cell(model, strategy))
                else:
                    out.extend(Cell(model, strategy, seed, design) for seed in profile.seeds)
    return out


def train_config(cell: Cell, profile: Profile, data_dir: Path, output: Path, device: str) -> TrainConfig:
    """The same budget and data for every trained cell; only the strategy (and the noise of hybrid+noise) differ,
    and the design, which decides the groups (the same set for every strategy of a design)."""
    budget = profile.train
    return TrainConfig(
        model=cell.model, strategy=cell.base.name, alpha=budget.alpha, steps=budget.steps,
        batch_size=budget.batch_size, lr=budget.lr, query_max_length=budget.query_max_length,
        passage_max_length=budget.passage_max_length, seed=cell.seed or 0, checkpoint_every=budget.checkpoint_every,
        data_dir=data_dir, sources=budget.sources, languages=budget.languages, output=output, device=device,
        train_files=budget.train_files, ntrex_window=budget.ntrex_window, holdout_languages=budget.holdout_languages,
        design=cell.design or "practical",
        freeze_embeddings=budget.freeze_embeddings,
        noise=budget.noise if cell.base.noise else None,
        loss=budget.loss, optimizer=budget.optimizer, schedule=budget.schedule, margin=budget.margin,
        distill_weight=budget.distill_weight,
        same_language_negatives=budget.same_language_negatives, grad_accum=budget.grad_accum,
        mixed_precision=budget.mixed_precision,
        check_leakage=False,  # the study checks leakage once, before the first cell, and records it
    )


def cell_options(base: EvaluateConfig, cell: Cell, profile: Profile, n_langs: int) -> EvaluateConfig:
    """Evaluation options of one cell: a transform suffix adds the post-hoc training-free transform."""
    if cell.transform is None:
        return base
    k = profile.subspace_k or n_langs - 1
    transform = "center" if cell.transform == "center" else f"subspace:{k}"
    return base.model_copy(update=dict(transform=transform, transform_source=profile.transform_source,
                                       transform_max_per_language=profile.transform_max_per_language))
