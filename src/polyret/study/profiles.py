"""Study profiles: the evaluation subset, the grid and the training budget of one `polyret run`.

Every trained cell of a profile gets the same budget and data; timings in the README were measured on the 2-core
CPU machine this project is developed on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from polyret.evaluate.dev import DevSetConfig
from polyret.noise.apply import NoiseConfig

ProfileName = Literal["smoke", "quick", "standard", "full"]
Design = Literal["practical", "controlled"]

TRAINED_STRATEGIES = ("x_x_mono", "x_y", "hybrid", "hybrid+noise", "x_x", "en_en")
BASE_STRATEGIES = ("zero_shot", *TRAINED_STRATEGIES)
TRANSFORMS = ("center", "subspace")
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
    strategies: list[str] = Field(default_factory=lambda: list(DEFAULT_STRATEGIES))
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


PROFILES: dict[str, Profile] = {
    # about a minute with the embedded model: CI runs it (with tiny models)
    "smoke": Profile(name="smoke", languages=["ar", "de", "en", "zh"], articles=1, dialect_sentences=12,
                     train=TrainBudget(steps=4, batch_size=8, query_max_length=32, passage_max_length=48,
                                       languages=["ar", "de", "en", "zh"], checkpoint_every=2)),
    # the default: all 11 languages on the DESIGN.md probe subset, one seed, a short fine-tune
    "quick": Profile(name="quick", articles=4, designs=["practical", "controlled"], dialect_sentences=100),
    # the whole benchmark on 2 CPU cores in at most 2.5 h (STANDARD_BUDGET: the arithmetic; not yet run)
    "standard": Profile(name="standard", seeds=[0, 1], designs=["controlled"],
                        strategies=["zero_shot", "zero_shot+center", "x_x_mono", "x_y", "hybrid", "hybrid+noise"],
                        train=TrainBudget(steps=120, batch_size=16, checkpoint_every=40),
                        dev=DevEval(every=40, keep_best=True)),
    # the whole benchmark, longer training, three seeds, transforms on every trained model (GPU or a long CPU run)
    "full": Profile(name="full", seeds=[0, 1, 2], designs=["practical", "controlled"],
                    strategies=[*DEFAULT_STRATEGIES, "x_x", "en_en", "hybrid+center", "x_y+center"],
                    train=TrainBudget(steps=2000, batch_size=64, lr=2e-5, query_max_length=64, passage_max_length=128,
                                      checkpoint_every=250)),
}

STANDARD_BUDGET = """Why `standard` trains 120 steps: 8 trained models and their evaluations fit in 2.5 h on 2 cores.

Idle-machine costs measured on this 2-core machine (embedded mE5-small, float32):
- whole-pool clean evaluation (26,021 distinct texts, exact search, every measure): 349 s (README, Results);
- noised evaluation: 9,667 of the 13,021 distinct questions change at rate 0.3 and are re-encoded (the rest are
  cache hits): 9,667 x 12.6 ms (328 s / 26,021 texts) + 10 s search = 132 s;
- a training step of 16 pairs (48/96 tokens, word embeddings frozen), the slower of the two committed quick-study
  runs (results/quick-study*, log.jsonl): x_x_mono 4.47 s, x_y 1.32 s, hybrid 2.11 s, hybrid+noise 2.25 s, mean
  2.54 s;
- one development scoring (1,000 Tatoeba texts, each encoded as query and passage): about 14 s (7-19 s);
- per trained model, loading data and model and saving: 30 s (the README's 20-step run: 68 s in all).
Per trained model: 30 + 120 x 2.54 + 5 dev scorings x 14 + 349 + 132 = 886 s. The zero-shot cells: 349 + 132 +
Tatoeba means for +center (11,000 short texts, about 77 s) + 20 s of search = 578 s; the leakage check 12 s.
Total: 8 x 886 + 578 + 12 = 7,678 s = 128 min. benchmarks/study_budget.py, run three times on the shared machine
(39-60% of a core for the job), put a step at 0.24-0.78% (question pairs) and 0.61-1.02% (passage pairs) of a
whole-pool clean evaluation and a development scoring at 2-5.4% of one: at the top of those ranges (3.15 s a step,
19 s a scoring) the total is 141 min, still under the limit; 150 steps would then take 156 min. Evaluation takes
8 x 481 s + 578 s = 74 min, training 41-50 min: steps are what the limit buys after evaluation, not a sign of
convergence (the development curve shows how far from converged it is). If the controlled design makes every step
cost x_x_mono's 4.47 s, cut to 90 steps. Halving the encoding time (int8) saves about 225 s per model, about 90
more steps each. Not yet run end to end: the 2.5 h are a prediction from the pieces above.
"""
