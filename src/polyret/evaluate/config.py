"""The evaluation configuration: one typed, validated object, loadable from YAML and saved beside every result.

`polyret evaluate --config FILE` reads it (flags given on the command line override the file) and every run
writes the resolved config as OUT/evaluate_config.yaml, so `polyret evaluate --config OUT/evaluate_config.yaml`
repeats a run. The study builds one per cell (polyret.study.grid.cell_options).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from polyret.errors import PolyretError
from polyret.model.encoder import EncoderOptions
from polyret.model.loading import DEFAULT_MODEL
from polyret.options import comma_list, read_yaml_options

SAVED_CONFIG = "evaluate_config.yaml"
DTYPES = ("float32", "float16", "bfloat16", "int8")
POOLINGS = ("mean", "cls")
ENCODER_FIELDS = ("model", "pooling", "query_prefix", "passage_prefix", "max_length", "batch_size", "device",
                  "dtype", "cache_dir")
"""Fields that configure the encoder (EncoderOptions); the rest decide what is evaluated and how."""
RUN_FIELDS = ("output",)
"""Where a run writes: part of the saved config, not of the result's options."""


class EvaluateConfig(BaseModel):
    """Every option of `polyret evaluate`. Field names equal the CLI flags (with - for _)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # the model (EncoderOptions); None means "from the model's metadata, else the default"
    model: str = DEFAULT_MODEL
    pooling: str | None = None  # mean or cls
    query_prefix: str | None = None
    passage_prefix: str | None = None
    max_length: int | None = Field(None, ge=2, description="token limit (default: the model's, else 512)")
    batch_size: int = Field(32, ge=1)
    device: str = "auto"
    dtype: str = "float32"  # one of DTYPES
    cache_dir: Path | None = None
    # what is evaluated
    benchmark: str = "xquad-r"
    data_dir: Path = Path("../shared/data")
    output: Path | None = None
    languages: list[str] | None = None
    articles: int | None = Field(None, ge=1, description="XQuAD-R: the first K of the 48 aligned articles; MLQA-R: the questions of the first K English articles")
    candidate_context: bool = False
    top_k: int = Field(100, ge=10, description="depth of the stored top-k ranking")
    trec_run: bool = False
    search: Literal["exact", "faiss-flat", "faiss-hnsw"] = Field(
        "exact", description="exact: every LAReQA measure; faiss-*: top-k measures only (see evaluate/topk.py)")
    transform: str | None = None  # center or subspace[:k]: a training-free language-bias baseline
    transform_source: str | None = None  # tatoeba, training or oracle-eval-pool
    allow_oracle: bool = False
    transform_max_per_language: int = Field(500, ge=1)
    query_noise: list[str] | None = None  # DIALECT_SPEC:RATE, e.g. ar-egy:0.3 or all:0.2 (see polyret.noise)
    noise_seed: int = 0
    robustness: bool = False  # sweep the query-noise rate and write robustness.json / .png
    robustness_dialects: list[str] | None = None  # default: every language's default dialect
    robustness_rates: list[float] | None = None  # default: 0, 0.1, 0.2, 0.3, 0.5

    @field_validator("languages", "robustness_dialects", mode="before")
    @classmethod
    def _split_commas(cls, value: Any) -> Any:
        if isinstance(value, str):
            return comma_list(value)
        return value

    @field_validator("pooling")
    @classmethod
    def _known_pooling(cls, value: str | None) -> str | None:
        if value is not None and value not in POOLINGS:
            raise ValueError(f"unknown pooling {value!r} ({' or '.join(POOLINGS)})")
        return value

    @field_validator("dtype")
    @classmethod
    def _known_dtype(cls, value: str) -> str:
        if value not in DTYPES:
            raise ValueError(f"unknown dtype {value!r} ({', '.join(DTYPES)})")
        return value

    @field_validator("robustness_rates", mode="before")
    @classmethod
    def _split_rates(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return [float(part) for part in comma_list(value)]
            except ValueError:
                raise ValueError(f"{value!r} is not a comma-separated list of numbers") from None
        return value

    @field_validator("robustness_rates")
    @classmethod
    def _rates_in_range(cls, value: list[float] | None) -> list[float] | None:
        for rate in value or []:
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{rate} is outside [0, 1]")
        return value

    @field_validator("query_noise", mode="before")
    @classmethod
    def _empty_noise(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [value]
        return value or None

    @model_validator(mode="after")
    def _consistent(self) -> "EvaluateConfig":
        if self.transform is None and (self.transform_source is not None or self.allow_oracle):
            raise ValueError("--transform-source / --allow-oracle need --transform")
        if self.search != "exact" and (self.robustness or self.transform is not None):
            raise ValueError(f"--search {self.search} gives top-k measures only; --robustness and --transform "
                             "need --search exact")
        if self.robustness and self.query_noise:
            raise ValueError("--robustness sweeps its own query noise; leave out --query-noise")
        return self

    def encoder_options(self) -> EncoderOptions:
        return EncoderOptions(**{name: getattr(self, name) for name in ENCODER_FIELDS})

    def with_encoder(self, options: EncoderOptions) -> "EvaluateConfig":
        """This config with the encoder fields of `options` (what a run actually used)."""
        return self.model_copy(update={name: getattr(options, name) for name in ENCODER_FIELDS})

    def evaluation_options(self) -> dict[str, Any]:
        """The fields that decide a result besides the model, JSON-ready (results.json "options")."""
        return self.model_dump(mode="json", exclude=set(ENCODER_FIELDS) | set(RUN_FIELDS))

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


def evaluation_dtype(device: str) -> str:
    """The dtype the study evaluates with: bfloat16 on a CPU that computes it natively (AMX / AVX512-BF16),
    float32 elsewhere (an emulated bfloat16 is slower than float32; GPUs keep float32).

    Gate (README, Evaluate): on the whole XQuAD-R, bfloat16 moved every headline metric by at most 0.0010 and
    rank distance by 0.63% against float32 (bounds: 0.003 and 2%).
    """
    from polyret.model.encoder import pick_device
    from polyret.model.quantize import native_bfloat16

    return "bfloat16" if pick_device(device).type == "cpu" and native_bfloat16() else "float32"


def read_saved_config(directory: Path) -> EvaluateConfig:
    """The config an evaluation saved in `directory`."""
    return load_config(Path(directory) / SAVED_CONFIG, {})


def load_config(path: Path | None, overrides: dict[str, Any]) -> EvaluateConfig:
    """YAML file (if any), then overrides (None means "not given"); errors name the file and the field."""
    data: dict[str, Any] = {}
    if path is not None:
        data.update(read_yaml_options(path))
    data.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return EvaluateConfig(**data)
    except ValidationError as err:
        raise PolyretError(validation_message(err, path)) from None


def validation_message(err: ValidationError, path: Path | None = None) -> str:
    """'FILE: option 'field': message' for the first error pydantic found."""
    first = err.errors()[0]
    field = ".".join(str(x) for x in first["loc"])
    where = f"{path}: " if path else ""
    message = str(first["msg"]).removeprefix("Value error, ")
    return f"{where}option {field!r}: {message}" if field else f"{where}{message}"
