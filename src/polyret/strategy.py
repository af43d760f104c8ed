"""A study strategy as one typed value: how batches are drawn, whether training text is noised, what transform runs
at evaluation.

A strategy is written `BATCHES[+noise][+TRANSFORM]`: `hybrid+noise+center` is hybrid batching with dialectal noise
on the training queries, evaluated with language-mean centring; `zero_shot+subspace` trains nothing. The name is
parsed once, where it enters (the CLI, a profile, a saved results file), and the parts are read from the value
afterwards, so no module re-derives them from the string.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from polyret.errors import PolyretError

ZERO_SHOT = "zero_shot"
TRANSFORMS = ("center", "subspace")
Transform = Literal["center", "subspace"]


RESERVED = (ZERO_SHOT, "noise", *TRANSFORMS)  # the parts of a strategy name that are not a batch strategy


def is_plain_batch_name(name: str) -> bool:
    """Could `name` be a batch strategy: letters, digits and _ only, and no reserved part of the grammar."""
    return re.fullmatch(r"[A-Za-z0-9_]+", name) is not None and name not in RESERVED


def batch_strategy_names() -> tuple[str, ...]:
    """The batch strategies of the sampler registry (polyret.sampling.BATCH_STRATEGIES), read at call time so a
    strategy a user registers is a valid study strategy too."""
    from polyret.sampling import BATCH_STRATEGIES

    return tuple(BATCH_STRATEGIES)


@dataclass(frozen=True)
class Strategy:
    """`batches` is a registered batch strategy, or `zero_shot` for the model as it is."""

    batches: str
    noise: bool = False
    transform: Transform | None = None

    @classmethod
    def parse(cls, name: str, registered_only: bool = True) -> "Strategy":
        """'hybrid+noise+center' -> Strategy('hybrid', noise=True, transform='center'); unknown parts are errors.

        `registered_only=False` checks the grammar alone (any plain name as the batch strategy): for reading
        results another process wrote, where a user's registered strategy may not be registered."""
        parts = str(name).split("+")
        batches, rest = parts[0], parts[1:]
        transform: Transform | None = None
        if rest and rest[-1] in TRANSFORMS:
            transform = rest.pop()  # type: ignore[assignment]
        noise = rest == ["noise"]
        known = (ZERO_SHOT, *batch_strategy_names())
        plain = batches == ZERO_SHOT or is_plain_batch_name(batches)
        if not (batches in known if registered_only else plain) or (rest and not noise):
            raise PolyretError(f"unknown strategy {name!r}: use one of {', '.join(known)}, then optionally +noise "
                               f"(training strategies only), then optionally +center or +subspace")
        if noise and batches == ZERO_SHOT:
            raise PolyretError(f"unknown strategy {name!r}: zero_shot trains nothing, so it has no +noise")
        return cls(batches, noise, transform)

    @property
    def name(self) -> str:
        return "+".join([self.batches, *(["noise"] if self.noise else []), *([self.transform] if self.transform else [])])

    @property
    def trains(self) -> bool:
        return self.batches != ZERO_SHOT

    @property
    def base(self) -> "Strategy":
        """The strategy without its evaluation transform: what is trained (cells with one base share a model)."""
        return Strategy(self.batches, self.noise)

    def __str__(self) -> str:
        return self.name


def check_strategies(strategies: list[str]) -> list[Strategy]:
    """Each name parsed once; a bad or repeated one is refused, naming --strategies."""
    parsed = []
    for name in strategies:
        try:
            parsed.append(Strategy.parse(name))
        except PolyretError as error:
            raise PolyretError(f"--strategies: {error}") from None
    names = [s.name for s in parsed]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise PolyretError(f"--strategies: {duplicates[0]!r} is listed twice")
    return parsed
