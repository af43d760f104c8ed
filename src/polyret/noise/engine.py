"""The noise engine: a pure function of (text, language, dialect, rate, seed).

Each rule's regex finds its sites; every site is rewritten with probability min(1, rate * weight), drawn from a
random stream seeded by a hash of all the inputs, so the same inputs always give the same output and different texts
get independent draws. Rules run in table order on the text as the previous rules left it. Rate 0 returns the text
untouched without running anything.
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass
from typing import NamedTuple

from polyret.errors import PolyretError
from polyret.noise.tables import CompiledRule, dialect_table


class Firing(NamedTuple):
    """One rewritten site: which rule, what it saw, what it wrote (a tuple: cheap, since every site makes one)."""

    rule: str
    family: str
    before: str
    after: str


TURKIC = ("tr.", "az.")  # dotted capital İ for i


@dataclass(frozen=True)
class NoiseResult:
    text: str
    fired: tuple[Firing, ...]

    @property
    def families(self) -> set[str]:
        return {firing.family for firing in self.fired}


def stream_seed(*parts: object) -> int:
    """A 64-bit seed from any parts; stable across processes and Python versions (unlike hash())."""
    key = "\x1f".join(str(part) for part in parts).encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "little")


def noise_text(text: str, language: str, dialect: str, rate: float, seed: int = 0,
               families: frozenset[str] | None = None) -> NoiseResult:
    """`text` noised toward `dialect` of `language`; `families` (if given) keeps only those rule families."""
    if not 0.0 <= rate <= 1.0:
        raise PolyretError(f"noise rate {rate} is outside [0, 1]")
    rules = dialect_table(language, dialect).rules
    if rate == 0.0 or not text:
        return NoiseResult(text, ())
    rng = random.Random(stream_seed(seed, language, dialect, text))
    fired: list[Firing] = []
    for rule in rules:
        if families is not None and rule.family not in families:
            continue
        probability = min(1.0, rate * rule.weight)
        text = rule.regex.sub(_rewriter(rule, probability, rng, fired), text)
    return NoiseResult(text, tuple(fired))


def _rewriter(rule: CompiledRule, probability: float, rng: random.Random, fired: list[Firing]):  # noqa: ANN202
    draw = rng.random

    def rewrite(match: re.Match[str]) -> str:
        before = match.group(0)
        if draw() >= probability:
            return before
        if rule.kind == "regex":
            options = rule.templates
            template = options[0] if len(options) == 1 else options[int(draw() * len(options))]
            after = match.expand(template) if "\\" in template else template  # expand re-parses: skip if literal
        elif rule.kind == "typo":
            after = _typo(before, rule.neighbours, rng)
        else:
            options = rule.table.get(before.lower() if rule.kind == "words" else before) or _case_variant(rule, before)
            after = options[0] if len(options) == 1 else options[int(draw() * len(options))]
            if rule.kind == "words" and before[:1].isupper() and after[:1].islower():
                first = "İ" if after[0] == "i" and rule.id[:3] in TURKIC else after[0].upper()
                after = first + after[1:]
        if after != before:
            fired.append(Firing(rule.id, rule.family, before, after))
        return after

    return rewrite


def _case_variant(rule: CompiledRule, before: str) -> tuple[str, ...]:
    """The alternatives of the key `before` matched case-insensitively when str.lower() does not give the key back
    (Turkish dotted capital I lowers to i + combining dot)."""
    for key, options in rule.table.items():
        if re.fullmatch(re.escape(key), before, re.IGNORECASE):
            return options
    raise KeyError(before)


def _typo(word: str, neighbours: dict[str, str], rng: random.Random) -> str:
    """One keyboard slip inside a word: a neighbouring key, a dropped, doubled or swapped letter."""
    i = 1 + int(rng.random() * (len(word) - 1))  # keep the first letter: people rarely mistype it
    kind = int(rng.random() * 4)
    ch = word[i]
    if kind == 0:
        near = neighbours.get(ch.lower(), "")
        if near:
            sub = near[int(rng.random() * len(near))]
            return word[:i] + (sub.upper() if ch.isupper() else sub) + word[i + 1:]
        kind = 1
    if kind == 1:
        return word[:i] + word[i + 1:]
    if kind == 2:
        return word[:i] + ch + word[i:]
    if i + 1 < len(word):
        return word[:i] + word[i + 1] + ch + word[i + 2:]
    return word[:i - 1] + ch + word[i - 1]
