"""The training configuration: one typed, validated object, loadable from YAML and saved beside the model."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from polyret.errors import PolyretError
from polyret.options import comma_list, read_yaml_options
from polyret.noise.apply import NoiseConfig
from polyret.strategy import Strategy


def registered(field: str, value: str) -> str:
    """`value` if the registry behind `field` (loss, optimizer, schedule) has it; else a ValueError listing them."""
    from polyret.train.loss import LOSSES
    from polyret.train.optim import OPTIMIZERS, SCHEDULES

    registry = {"loss": LOSSES, "optimizer": OPTIMIZERS, "schedule": SCHEDULES}[field]
    if value not in registry:
        raise ValueError(f"unknown {field} {value!r}; registered: {', '.join(registry)}")
    return value


class TrainConfig(BaseModel):
    """Every option of `polyret train`. Field names equal the CLI flags (with - for _)."""

    model_config = ConfigDict(extra="forbid")

    model: str = "embedded:me5-small"
    strategy: str = Field("hybrid", description="a batch strategy (sampling.BATCH_STRATEGIES), optionally "
                          "+noise: its batches with the `noise` section applied (its defaults if the config has none)")
    alpha: float = Field(0.5, ge=0.0, le=1.0, description="hybrid: probability of a monolingual batch")
    tau: float = Field(1.0, ge=0.0, description="language (pair) sampling temperature: p ~ n^tau")
    per_example_pairs: bool = Field(False, description="x_y: draw the language pair per example, not per batch")
    same_language_negatives: bool = Field(False, description="cross-lingual batches: one negative per example in "
                                          "its query's language, from a group outside the batch")
    steps: int = Field(100, ge=1)
    batch_size: int = Field(16, ge=2, description="pairs per optimiser step across all ranks")
    grad_accum: int = Field(1, ge=1, description="micro-batches per optimiser step (each batch_size/grad_accum), gradient-cached")
    lr: float = Field(2e-5, gt=0.0)
    optimizer: str = Field("adamw", description="train/optim.py OPTIMIZERS: adamw or sgd (momentum 0.9)")
    schedule: str = Field("linear", description="train/optim.py SCHEDULES: linear, cosine or constant, after warmup")
    weight_decay: float = Field(0.01, ge=0.0)
    warmup_steps: int = Field(-1, description="-1: 10% of steps")
    max_grad_norm: float = Field(1.0, gt=0.0)
    temperature: float = Field(0.05, gt=0.0)
    symmetric: bool = False
    loss: str = Field("infonce", description="training objective (train/loss.py LOSSES): "
                                               "infonce, or margin (LaBSE's bidirectional additive-margin loss)")
    margin: float = Field(0.3, ge=0.0, lt=2.0, description="loss margin: subtracted from the true pair's cosine")
    distill_weight: float = Field(0.0, ge=0.0, description="weight of the distillation term toward the frozen base "
                                  "model's pivot-language embeddings (train/distill.py); 0: off")
    distill_pivot: str = Field("en", description="distillation: the language whose base-model embedding every "
                               "language of a group is pulled to")
    freeze_embeddings: bool = Field(True, description="freeze the word embeddings (96M of mE5-small's 118M weights)")
    freeze_layers: int = Field(0, ge=0, description="freeze the lowest N transformer layers")
    gradient_checkpointing: bool = False
    query_max_length: int = Field(64, ge=4)
    passage_max_length: int = Field(128, ge=4)
    seed: int = 0
    checkpoint_every: int = Field(25, ge=1)
    data_dir: Path = Path("../shared/data")
    sources: list[str] | None = Field(None, description="registered training sources (None: all; [none]: no source)")
    languages: list[str] | None = None
    train_files: list[Path] = Field(default_factory=list, description="the user's own JSON-lines groups")
    ntrex_window: int = Field(2, ge=1, description="NTREX inverse cloze: sentences on each side of the query")
    holdout_languages: list[str] | None = Field(None, description="languages kept out of training entirely")
    design: Literal["practical", "controlled"] = Field(
        "practical", description="controlled: only groups that can feed monolingual and cross-lingual batches")
    output: Path = Path("runs/train")
    device: str = "auto"
    mixed_precision: Literal["auto", "fast", "no", "bf16", "fp16"] = "auto"
    check_leakage: bool = Field(True, description="refuse to train on text that overlaps the evaluation sets")
    noise: NoiseConfig | None = Field(None, description="synthetic dialectal noise on training pairs")

    @field_validator("sources", "languages", "holdout_languages", mode="before")
    @classmethod
    def _split_commas(cls, value: Any) -> Any:
        if isinstance(value, str):
            return comma_list(value)
        return value

    @field_validator("loss", "optimizer", "schedule")
    @classmethod
    def _registered(cls, value: str, info: Any) -> str:
        return registered(info.field_name, value)

    @field_validator("strategy")
    @classmethod
    def _trainable_strategy(cls, value: str) -> str:
        try:
            parsed = Strategy.parse(value)
        except PolyretError as error:
            raise ValueError(str(error)) from None
        if not parsed.trains or parsed.transform is not None:
            raise ValueError(f"{value!r} is not a training strategy (a transform is applied at evaluation)")
        return parsed.name

    @model_validator(mode="after")
    def _noise_for_noise_strategy(self) -> "TrainConfig":
        if self.parsed_strategy.noise and self.noise is None:
            self.noise = NoiseConfig()
        return self

    @model_validator(mode="after")
    def _holdout_leaves_languages(self) -> "TrainConfig":
        if self.holdout_languages is not None and not self.training_languages:
            raise ValueError("holdout_languages leaves no training language")
        return self

    @property
    def training_languages(self) -> list[str] | None:
        """The languages training reads: `languages` (default the 11 of XQuAD-R) minus `holdout_languages`."""
        if not self.holdout_languages:
            return self.languages
        from polyret.data.xquad_r import XQUAD_R_LANGUAGES

        held = set(self.holdout_languages)
        return [lang for lang in (self.languages or XQUAD_R_LANGUAGES) if lang not in held]

    @property
    def parsed_strategy(self) -> Strategy:
        return Strategy.parse(self.strategy)

    @property
    def sampler_strategy(self) -> str:
        """The batch sampler behind the strategy name (noise is applied to its batches, not a sampler)."""
        return self.parsed_strategy.batches

    @property
    def effective_warmup(self) -> int:
        return max(0, self.steps // 10) if self.warmup_steps < 0 else self.warmup_steps

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


SAVED_CONFIG = "train_config.yaml"  # the resolved config, saved beside the model and its checkpoints


def read_saved_config(directory: Path) -> TrainConfig:
    """The config a training run saved in `directory` (to resume it, or to reuse its model)."""
    return TrainConfig.model_validate(yaml.safe_load((Path(directory) / SAVED_CONFIG).read_text(encoding="utf-8")))


def load_config(path: Path | None, overrides: dict[str, Any]) -> TrainConfig:
    """YAML file (if any), then CLI overrides (None means "not given"); errors name the file and field."""
    data: dict[str, Any] = {}
    if path is not None:
        data.update(read_yaml_options(path))
    given = {k: v for k, v in overrides.items() if v is not None}
    if isinstance(given.get("noise"), dict):  # flags refine the file's noise section rather than replace it
        section = data.get("noise") if isinstance(data.get("noise"), dict) else {}
        given["noise"] = {**section, **{k: v for k, v in given["noise"].items() if v is not None}}
    data.update(given)
    try:
        return TrainConfig(**data)
    except ValidationError as err:
        first = err.errors()[0]
        field = ".".join(str(x) for x in first["loc"])
        where = f"{path}: " if path else ""
        raise PolyretError(f"{where}option {field!r}: {first['msg']}") from None
