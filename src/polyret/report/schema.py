"""The results files, typed and versioned: every results.json polyret writes or reads goes through these models.

Two files have a schema: an evaluation's results.json (`EvaluationResult`, one benchmark, one model) and a study's
results.json (`StudyResults`, its cells). Each carries its version. A reader refuses a version newer than its own
with one line naming the file (the file was written by a newer polyret), and a file that breaks the schema with the
file and the field. Files written before the study schema had a version (committed results under results/) read
as version 0: the same fields, unversioned.

Strategy names are checked for their grammar, not against this process's registry, so a study that used a
strategy a user registered (sampling.register_batch_strategy, a Python-API extension) reads anywhere.
The models type the fields the code relies on and keep every other field as it is (`extra="allow"`), so adding a
measure is not a schema change; removing or retyping one is, and bumps the version.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from polyret.errors import PolyretError
from polyret.report.io import write_json_atomic
from polyret.strategy import Strategy

EVALUATION_VERSION = 1
STUDY_VERSION = 1


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Benchmark(_Open):
    name: str
    n_queries: int = Field(ge=0)
    n_candidates: int = Field(ge=0)
    languages: list[str] | None  # None in generic-benchmark results written before the schema (the selection asked)
    files_sha256: dict[str, str]


class EvaluationResult(_Open):
    """One evaluation: `polyret evaluate`'s results.json, and each study cell's."""

    polyret_result_version: int = Field(ge=1, le=EVALUATION_VERSION)
    created: str
    metrics: dict[str, Any]
    model: dict[str, Any]
    benchmark: Benchmark
    options: dict[str, Any]


class CellRow(_Open):
    """One cell of a study: what it is, whether it finished, and (when it did) its measures and comparisons."""

    cell: str
    model: str
    strategy: str
    base: str
    transform: str | None = None
    seed: int | None = None
    design: str | None = None
    status: str
    metrics: dict[str, Any] | None = None
    versus: dict[str, Any] = Field(default_factory=dict)

    @field_validator("strategy", "base")
    @classmethod
    def _a_strategy(cls, value: str) -> str:
        """The grammar only: a strategy a user registered in the process that wrote the file still reads here."""
        try:
            return Strategy.parse(value, registered_only=False).name
        except PolyretError as error:
            raise ValueError(str(error)) from None


class StudyResults(_Open):
    """A study's results.json: the profile it ran, its cells and what was checked before training."""

    polyret_study_version: int = Field(0, ge=0, le=STUDY_VERSION)
    created: str
    profile: dict[str, Any]
    models: list[str]
    cells: list[CellRow]
    extra_benchmarks: dict[str, str] = Field(default_factory=dict)
    leakage: dict[str, Any] | None = None
    code_version: dict[str, Any] = Field(default_factory=dict)
    across_seeds: list[dict[str, Any]] | None = None


def _problem(path: Path, error: ValidationError, version_field: str, newest: int) -> PolyretError:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    if first["loc"] == (version_field,) and first["type"] == "less_than_equal":
        return PolyretError(f"{path}: {version_field} {first['input']} was written by a newer polyret (this one reads "
                            f"up to {newest}); upgrade polyret")
    return PolyretError(f"{path}: field {where or '(top)'}: {first['msg']}")


def _load(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise PolyretError(f"{path}: cannot read it ({error.strerror})") from None
    except json.JSONDecodeError as error:
        raise PolyretError(f"{path}: not valid JSON ({error.msg}, line {error.lineno})") from None


def _checked(model: type[BaseModel], data: Any, path: Path, version_field: str, newest: int) -> dict[str, Any]:
    try:
        model.model_validate(data)
    except ValidationError as error:
        raise _problem(path, error, version_field, newest) from None
    return data


def read_evaluation(path: Path) -> dict[str, Any]:
    """An evaluation's results.json, checked against `EvaluationResult` (returned as the plain dict it holds)."""
    return _checked(EvaluationResult, _load(path), path, "polyret_result_version", EVALUATION_VERSION)


def write_evaluation(path: Path, result: dict[str, Any]) -> None:
    """Check, then write atomically: a result that breaks the schema is a polyret bug and is never written."""
    _checked(EvaluationResult, result, path, "polyret_result_version", EVALUATION_VERSION)
    write_json_atomic(path, result)


def read_study(path: Path) -> dict[str, Any]:
    """A study's results.json, checked against `StudyResults`."""
    return _checked(StudyResults, _load(path), path, "polyret_study_version", STUDY_VERSION)


def write_study(path: Path, summary: dict[str, Any]) -> None:
    _checked(StudyResults, summary, path, "polyret_study_version", STUDY_VERSION)
    write_json_atomic(path, summary)
