"""Study profiles: the evaluation subset, the grid and the training budget of one `polyret run`.

Every trained cell of a profile gets the same budget and data; timings in the README were measured on the 2-core
CPU machine this project is developed on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from polyret.errors import PolyretError
from polyret.evaluate.dev import DevSetConfig
from polyret.noise.apply import NoiseConfig
from polyret.strategy import check_strategies

ProfileName = Literal["smoke", "quick", "standard", "full"]
Design = Literal["practical", "controlled"]

# strategy names are polyret.strategy.Strategy values written out (parsed and checked when a profile is built)
# hybrid+noise+center: the trained model with the training-free transform on top ("do they add up?")
DEFAULT_STRATEGIES = ["zero_shot", "zero_shot+center", "zero_shot+subspace", "x_x_mono", "x_y", "hybrid",
                      "hybrid+noise", "hybrid+noise+center"]


class TrainBudget(BaseModel):
    """What every trained cell of a profile gets: same steps, batch, data and optimiser."""

    model_config = ConfigDict(extra="forbid")

    steps: int = Field(60, ge=1)
    batch_size: int = Field(16, ge=2)
    lr: float = Field(3e-5, gt=0)
    alpha: float = Field(0.5, ge=0, le=1, description="hybrid: probability of a monolingual batch")
    query_max_length: int = 48
    passage_max_length: int = 96
    languages: list[str] | None = Field(None, description="training languages (None: every one the data has)")
    sources: list[str] | None = Field(None, description="training sources (None: all)")
    train_files: list[Path] = Field(default_factory=list, description="the user's own JSON-lines groups")
    ntrex_window: int = Field(2, ge=1, description="NTREX inverse cloze: sentences on each side of the query")
    holdout_languages: list[str] | None = Field(None, description="languages kept out of training (e.g. el, vi)")
    freeze_embeddings: bool = True
    checkpoint_every: int = Field(20, ge=1)
    noise: NoiseConfig = Field(default_factory=NoiseConfig, description="hybrid+noise's noise")
    # the recipe: the same for every trained strategy of a profile (train/config.py names each option)
    loss: str = Field("infonce", description="train/loss.py LOSSES")
    optimizer: str = Field("adamw", description="train/optim.py OPTIMIZERS")
    schedule: str = Field("linear", description="train/optim.py SCHEDULES")
    margin: float = Field(0.3, ge=0, lt=2)
    distill_weight: float = Field(0.0, ge=0)
    same_language_negatives: bool = False
    grad_accum: int = Field(1, ge=1)
    mixed_precision: Literal["auto", "fast", "no", "bf16", "fp16"] = "auto"

    @field_validator("loss", "optimizer", "schedule")
    @classmethod
    def _registered(cls, value: str, info: Any) -> str:
        from polyret.train.config import registered

        return registered(info.field_name, value)


class DevEval(BaseModel):
    """Model selection without XQuAD-R: score the training model on dev/tatoeba every `every` steps."""

    model_config = ConfigDict(extra="forbid")

    every: int = Field(ge=1, description="optimiser steps between two development scorings")
    set: DevSetConfig = Field(default_factory=DevSetConfig)
    keep_best: bool = Field(False, description="save the checkpoint with the best dev measure as the model")
    measure: str = Field("mixed_mrr", description="the dev measure that picks the best checkpoint (higher wins)")


class Profile(BaseModel):
    """The evaluation subset, grid and budget of one profile."""

    model_config = ConfigDict(extra="forbid")

    name: ProfileName
    languages: list[str] | None = Field(None, description="XQuAD-R languages (None: all 11)")
    articles: int | None = Field(None, description="first K aligned XQuAD-R articles (None: all 48)")
    strategies: list[str] = Field(default_factory=lambda: list(DEFAULT_STRATEGIES),
                                  description="polyret.strategy names, each parsed and written back canonically")
    seeds: list[int] = Field(default_factory=lambda: [0], description="one trained cell per seed")
    train: TrainBudget = Field(default_factory=TrainBudget)
    transform_source: str = Field("tatoeba", description="statistics of the training-free baselines")
    transform_max_per_language: int = Field(500, ge=1)
    subspace_k: int | None = Field(None, description="+subspace: directions removed (None: languages - 1)")
    noise_eval: list[str] = Field(default_factory=lambda: ["all"],
                                  description="dialect specs of the robustness column (all: default dialects)")
    noise_eval_rate: float = Field(0.3, ge=0, le=1)
    dev: DevEval | None = Field(None, description="development-set curve during training (None: none)")
    designs: list[Design] = Field(default_factory=lambda: ["practical"], min_length=1,
                                  description="practical: all groups; controlled: one group set for every strategy")
    dialect_benchmark: bool = Field(True, description="evaluate every cell on the NTREX dialect benchmark too")
    dialect_sentences: int | None = Field(None, ge=1, description="its first K held-out sentences (None: all 386)")
    mlqa_r: bool = Field(True, description="evaluate every cell on MLQA-R too (the paper's second benchmark)")
    mlqa_r_articles: int | None = Field(None, ge=1, description="MLQA-R: the questions of the first K English "
                                                                "articles (None: all 4,199 questions)")

    @field_validator("strategies")
    @classmethod
    def _parsed_strategies(cls, names: list[str]) -> list[str]:
        try:
            return [strategy.name for strategy in check_strategies(names)]
        except PolyretError as error:
            raise ValueError(str(error)) from None


RECIPE = {"distill_weight": 5.0, "mixed_precision": "fast"}
"""The recipe of every trained cell of the quick, standard and full profiles (docs/training.md, "The recipe"): the
contrastive loss plus distillation toward the frozen base model, which was the one lever of the probe that raised
whole-pool Mul mAP (results/levers-probe), at weight 5, the weight the development sets chose by a rule written
down before they were scored (ntrex-dev Mul + qa-dev Mo; results/qa-dev-choice), in bfloat16 where the hardware
has it natively (the same scores in 0.75 of the training time on this project's CPU; elsewhere float32: the mode a
model got is in its polyret_model.json, so runs on machines with and without native bf16 are told apart)."""

PROFILES: dict[str, Profile] = {
    # about a minute with the embedded model: CI runs it (with tiny models)
    "smoke": Profile(name="smoke", languages=["ar", "de", "en", "zh"], articles=1, dialect_sentences=12,
                     mlqa_r_articles=2,
                     train=TrainBudget(steps=4, batch_size=8, query_max_length=32, passage_max_length=48,
                                       languages=["ar", "de", "en", "zh"], checkpoint_every=2)),
    # the default: all 11 languages on the probe subset (docs/design.md section 3), one seed, a short fine-tune of
    # the controlled design (the research question: hybrid and hybrid+noise against cross-lingual batches, the
    # strongest baseline) within 15 minutes on 2 CPU cores; the standard profile adds x_x_mono and a second seed
    "quick": Profile(name="quick", articles=4, designs=["controlled"], dialect_sentences=100, mlqa_r_articles=40,
                     strategies=["zero_shot", "zero_shot+center", "x_y", "hybrid", "hybrid+noise"],
                     train=TrainBudget(**RECIPE)),
    # the whole benchmark on 2 CPU cores in at most 2.5 h (STANDARD_BUDGET: what it took)
    "standard": Profile(name="standard", seeds=[0, 1], designs=["controlled"],
                        strategies=["zero_shot", "zero_shot+center", "x_x_mono", "x_y", "hybrid", "hybrid+noise"],
                        train=TrainBudget(steps=120, batch_size=16, checkpoint_every=40, **RECIPE),
                        dev=DevEval(every=40, keep_best=True)),
    # the whole benchmark, longer training, three seeds, transforms on every trained model (GPU or a long CPU run)
    "full": Profile(name="full", seeds=[0, 1, 2], designs=["practical", "controlled"],
                    strategies=[*DEFAULT_STRATEGIES, "x_x", "en_en", "hybrid+center", "x_y+center"],
                    train=TrainBudget(steps=2000, batch_size=64, lr=2e-5, query_max_length=64, passage_max_length=128,
                                      checkpoint_every=250, **RECIPE)),
}

STANDARD_BUDGET = """Why `standard` trains 120 steps: 8 trained models and their evaluations fit in 2.5 h on 2 cores.

Measured end to end with the recipe at distillation weight 1 (results/standard-recipe): 1 h 54 min 43 s in all on a
2-core AMD EPYC (avx512_bf16, no AMX). Per trained model about 11 min: 120 controlled steps of 16 pairs with the
distillation teacher in bf16 in about 4 min (three dev/tatoeba scorings included), the clean whole-pool XQuAD-R
evaluation 2 min 20 s to 2 min 46 s (26,021 texts, bfloat16), the noised one about 40 s, the NTREX dialect
benchmark about 55 s and the whole MLQA-R about 2 min 45 s (24,693 texts). At weight 5 (results/standard-dw5, the
same work) it took about 3 h 18 min, over the budget, on the same kind of machine running at about half that speed
(the whole-pool encode 5 min 29 s to 5 min 39 s): the budget holds only on a machine as fast as the first. The
development curves peak at step 40 in six of the eight models at weight 5, so the steps the limit leaves are not
what holds quality back. (Before the recipe, in float32 and without MLQA-R: 1 h 48 min, results/standard-study.)
"""
