"""Does noise toward a dialect look more like that dialect? Measured on the dev Tatoeba sentences.

For each dialect target whose table names real text in dev/tatoeba (arz, arq against ara; gsw, swg, nds against
deu; yue, wuu against cmn), we compare the character n-gram profile of the standard-language sentences with the
profile of the real dialect sentences, before and after noising the standard sentences toward that dialect. The
profiles are bags of character 1- to 3-grams over the whole file (spaces kept, case folded), compared by cosine.
A rule table that moves text toward its dialect raises the similarity; one that only scrambles it lowers it, which
the keyboard-typo control at the same rate shows for comparison.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from polyret.data.tatoeba import tatoeba_file
from polyret.errors import PolyretError
from polyret.noise.engine import noise_text
from polyret.noise.tables import TYPO_DIALECT, available, language_table

DEFAULT_RATE = 0.5
NGRAM_ORDERS = (1, 2, 3)


@dataclass(frozen=True)
class RealismRecord:
    language: str
    dialect: str  # the dialect target, e.g. "ar-egy"
    tatoeba: str  # the real-text file's code, e.g. "arz"
    rate: float
    sentences: int  # standard sentences noised
    changed_share: float  # share of those the noise changed
    clean_similarity: float
    noised_similarity: float
    typo_control_similarity: float  # the same sentences with keyboard typos at the same rate: noise as such

    @property
    def gain(self) -> float:
        return self.noised_similarity - self.clean_similarity

    def to_dict(self) -> dict[str, object]:
        return {"check": "ngram", **asdict(self), "gain": round(self.gain, 6)}


def ngram_profile(texts: list[str], orders: tuple[int, ...] = NGRAM_ORDERS) -> Counter[str]:
    profile: Counter[str] = Counter()
    for text in texts:
        padded = f" {text.casefold()} "
        for n in orders:
            profile.update(padded[i:i + n] for i in range(len(padded) - n + 1))
    return profile


def cosine(a: Counter[str], b: Counter[str]) -> float:
    if len(a) > len(b):
        a, b = b, a
    dot = sum(count * b[gram] for gram, count in a.items() if gram in b)
    norm = math.sqrt(sum(v * v for v in a.values())) * math.sqrt(sum(v * v for v in b.values()))
    return dot / norm if norm else 0.0


def read_tatoeba(data_dir: Path, code: str) -> list[str]:
    path = tatoeba_file(data_dir, code)
    if not path.is_file():
        raise PolyretError(f"{path}: not found (pass --data-dir; `polyret data fetch` downloads dev/tatoeba)")
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def realism(data_dir: Path, rate: float = DEFAULT_RATE, seed: int = 0, languages: list[str] | None = None,
            families: frozenset[str] | None = None) -> list[RealismRecord]:
    """One record per dialect target that has real text in dev/tatoeba; `families` keeps only those rule families."""
    records = []
    for language in languages or list(available()):
        table = language_table(language)
        targets = [(d, spec.tatoeba) for d, spec in table.dialects.items() if spec.tatoeba]
        if not targets:
            continue
        standard = read_tatoeba(data_dir, table.standard_tatoeba)
        clean_profile = ngram_profile(standard)
        typo_profile = ngram_profile([noise_text(text, language, TYPO_DIALECT, rate, seed).text for text in standard])
        for dialect, code in targets:
            assert code is not None
            real = ngram_profile(read_tatoeba(data_dir, code))
            noised = [noise_text(text, language, dialect, rate, seed, families).text for text in standard]
            changed = sum(a != b for a, b in zip(standard, noised)) / len(standard)
            records.append(RealismRecord(language, f"{language}-{dialect}", code, rate, len(standard),
                                         round(changed, 6), round(cosine(clean_profile, real), 6),
                                         round(cosine(ngram_profile(noised), real), 6),
                                         round(cosine(typo_profile, real), 6)))
    return records
