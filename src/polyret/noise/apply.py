"""Noise where it is used: on training batches (the `noise` section of a training config) and on evaluation queries.

Both are deterministic. A training example is noised from (seed, step, group id, role): the same step of a resumed
run noises exactly as the uninterrupted run did, and a group drawn again at a later step (a later epoch) gets a
fresh draw. An evaluation query is noised from (noise seed, query id).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from polyret.errors import PolyretError
from polyret.options import comma_list
from polyret.noise.engine import NoiseResult, noise_text, stream_seed
from polyret.noise.tables import FAMILIES, TYPO_DIALECT, parse_spec

UNIT = float(2**64)


class NoiseConfig(BaseModel):
    """The `noise` section of a training config."""

    model_config = ConfigDict(extra="forbid")

    apply_to: Literal["query", "passage", "both"] = Field("query", description="which side of a pair is noised")
    rate: float = Field(0.3, ge=0.0, le=1.0, description="share of each noised text's rule sites rewritten")
    share: float = Field(0.5, ge=0.0, le=1.0, description="share of examples noised")
    dialects: list[str] = Field(default_factory=lambda: ["all-*"],
                                description="dialect specs to draw from: ar-egy, ar, ar-*, all, all-*")
    families: list[str] | None = Field(None, description="keep only these rule families (default: all)")

    @field_validator("dialects", "families", mode="before")
    @classmethod
    def _split_commas(cls, value: Any) -> Any:
        if isinstance(value, str):
            return comma_list(value)
        return value

    @field_validator("dialects")
    @classmethod
    def _known_dialects(cls, value: list[str]) -> list[str]:
        for spec in value:
            try:
                parse_spec(spec)
            except PolyretError as err:
                raise ValueError(str(err)) from None
        return value

    @field_validator("families")
    @classmethod
    def _known_families(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            unknown = sorted(set(value) - set(FAMILIES))
            if unknown:
                raise ValueError(f"unknown families {unknown}; known: {', '.join(FAMILIES)}")
        return value

    def targets(self) -> dict[str, tuple[str, ...]]:
        """language -> the dialects an example of that language may be noised toward."""
        out: dict[str, list[str]] = {}
        for spec in self.dialects:
            for language, dialect in parse_spec(spec):
                if dialect not in out.setdefault(language, []):
                    out[language].append(dialect)
        return {language: tuple(dialects) for language, dialects in out.items()}


@dataclass
class NoiseTally:
    """What noise did to some texts: counts for logs and results."""

    texts: int = 0
    noised: int = 0  # drawn for noising
    changed: int = 0  # and actually changed (a text with no rule sites stays as it was)
    families: Counter[str] = field(default_factory=Counter)

    def count(self, original: str, result: NoiseResult) -> str:
        """Record one noised text (drawn for noising; changed if a rule fired); returns the new text."""
        self.noised += 1
        if result.text != original:
            self.changed += 1
            self.families.update(f.family for f in result.fired)
        return result.text

    def to_dict(self) -> dict[str, Any]:
        return {"texts": self.texts, "noised": self.noised, "changed": self.changed,
                "families": dict(sorted(self.families.items()))}


class BatchNoiser:
    """Noises training batches as a `NoiseConfig` says, from (seed, step, group, role) alone."""

    def __init__(self, config: NoiseConfig, seed: int) -> None:
        self.config = config
        self.seed = seed
        self.targets = config.targets()
        self.families = frozenset(config.families) if config.families else None
        self.roles = ("query", "passage") if config.apply_to == "both" else (config.apply_to,)

    def _one(self, text: str, language: str, step: int, group_id: str, role: str, tally: NoiseTally) -> str:
        tally.texts += 1
        dialects = self.targets.get(language)
        if not dialects or self.config.rate == 0.0:
            return text
        key = stream_seed(self.seed, step, group_id, role)
        if key / UNIT >= self.config.share:
            return text
        dialect = dialects[stream_seed(key, "dialect") % len(dialects)]
        return tally.count(text, noise_text(text, language, dialect, self.config.rate, key, self.families))

    def noise_batch(self, batch: Any) -> tuple[Any, NoiseTally]:
        """A copy of a sampling.Batch with its queries and/or positives noised."""
        tally = NoiseTally()
        queries, positives = list(batch.queries), list(batch.positives)
        for i, group_id in enumerate(batch.group_ids):
            if "query" in self.roles:
                queries[i] = self._one(queries[i], batch.query_langs[i], batch.step, group_id, "query", tally)
            if "passage" in self.roles:
                positives[i] = self._one(positives[i], batch.positive_langs[i], batch.step, group_id, "passage",
                                         tally)
        return replace(batch, queries=queries, positives=positives), tally


@dataclass(frozen=True)
class QueryNoise:
    """Evaluation-time query noise: language -> (dialect, rate), parsed from repeatable SPEC:RATE options."""

    plan: dict[str, tuple[str, float]]
    seed: int = 0

    @classmethod
    def parse(cls, specs: list[str], seed: int = 0) -> "QueryNoise":
        plan: dict[str, tuple[str, float]] = {}
        for raw in specs:
            spec, sep, rate_text = raw.rpartition(":")
            if not sep or not spec:
                raise PolyretError(f"--query-noise {raw!r}: expected DIALECT_SPEC:RATE, e.g. ar-egy:0.3 or all:0.2")
            try:
                rate = float(rate_text)
            except ValueError:
                raise PolyretError(f"--query-noise {raw!r}: rate {rate_text!r} is not a number") from None
            if not 0.0 <= rate <= 1.0:
                raise PolyretError(f"--query-noise {raw!r}: rate must be in [0, 1]")
            for language, dialect in parse_spec(spec):
                if language in plan:
                    raise PolyretError(f"--query-noise {raw!r}: {language} queries are already noised by another "
                                       f"spec ({language}-{plan[language][0]})")
                plan[language] = (dialect, rate)
        return cls(plan, seed)

    def describe(self) -> dict[str, Any]:
        return {"targets": {lang: f"{lang}-{d}" for lang, (d, _) in sorted(self.plan.items())},
                "rates": {lang: r for lang, (_, r) in sorted(self.plan.items())}, "seed": self.seed,
                "typo_control": all(d == TYPO_DIALECT for d, _ in self.plan.values())}

    def apply(self, queries: list[Any]) -> tuple[list[Any], NoiseTally]:
        """New Query objects (same ids) with the text noised where the plan covers the query's language."""
        tally = NoiseTally()
        out = []
        for query in queries:
            tally.texts += 1
            target = self.plan.get(query.lang)
            if target is None:
                out.append(query)
                continue
            result = noise_text(query.text, query.lang, target[0], target[1], stream_seed(self.seed, query.id))
            out.append(replace(query, text=tally.count(query.text, result)))
        return out, tally
