"""Paired realism: does noise move a standard sentence toward *its own* real variant? (dev/ntrex-variants)

dev/ntrex-variants holds the NTREX sentences in regional and dialectal variants (Bernese and Zurich Swiss German,
Mexican Spanish, Taiwan Mandarin, ...), line-aligned with the standard references in train/ntrex. For every dialect
target whose table names such a variant (`ntrex:` in its dialect entry), each standard sentence is compared with its
own variant sentence three times: as it is, noised toward the target, and noised with the keyboard-typo control at
the same rate. Similarity is character chrF (sacrebleu's sentence chrF, character 6-grams, beta 2, scaled to 0-1)
and normalised edit distance (Levenshtein distance over the longer length, rapidfuzz). The gain is the mean
per-sentence change, with a percentile bootstrap interval over sentences; a table that moves text toward the variety
has a positive chrF gain and a negative edit-distance change, more than typos at the same rate give.

Only the sentences of one fixed NTREX document split are used (default "dev": documents in order of first
appearance in DOCUMENT_IDS.tsv, index k, k % 5 == 1; the same rule as the training data's split, which keeps
k % 5 == 0 for the dialect benchmark and trains on the rest).
"""

from __future__ import annotations

from functools import lru_cache
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal, Sequence

import numpy as np

from polyret.data.dialects import VARIANTS
from polyret.data.sources.ntrex import DOCUMENT_IDS, FILES, document_split
from polyret.errors import PolyretError
from polyret.noise.engine import noise_text
from polyret.noise.tables import TYPO_DIALECT, available, language_table
from polyret.report.stats import Interval, bootstrap_ci

Split = Literal["train", "dev", "test", "all"]
NTREX = Path("train") / "ntrex"
BOOTSTRAP = 1000


@dataclass(frozen=True)
class PairedRecord:
    dialect: str  # the target, e.g. "de-gsw"
    variant: str  # the real variant's file code, e.g. "gsw-BE"
    rate: float
    split: str
    sentences: int
    changed_share: float
    clean_similarity: float  # mean chrF (0-1) of the standard sentence with its real variant
    noised_similarity: float  # ... of the noised sentence
    typo_control_similarity: float  # ... of the sentence with keyboard typos at the same rate
    gain: float  # mean per-sentence chrF change, noised - clean
    gain_low: float
    gain_high: float
    typo_gain: float
    typo_gain_low: float
    typo_gain_high: float
    clean_edit: float  # mean normalised edit distance to the variant (lower is closer)
    noised_edit: float
    typo_control_edit: float
    edit_change: float  # mean per-sentence change, noised - clean (negative: closer)
    edit_change_low: float
    edit_change_high: float

    def to_dict(self) -> dict[str, object]:
        return {"check": "paired", **asdict(self)}


def bootstrap(values: Sequence[float], seed: int = 0, resamples: int = BOOTSTRAP) -> Interval:
    """Mean of `values` with a 95% percentile bootstrap interval, each sentence its own cluster."""
    if not len(values):
        raise PolyretError("bootstrap: no values")
    return bootstrap_ci(np.asarray(values, dtype=np.float64), np.arange(len(values)), n_boot=resamples, seed=seed)


def chrf(hypothesis: str, reference: str) -> float:
    """Sentence-level character chrF (sacrebleu defaults: char 6-grams, no word n-grams, beta 2), in [0, 1]."""
    return _chrf_metric().sentence_score(hypothesis, [reference]).score / 100.0


@lru_cache(maxsize=1)
def _chrf_metric():  # noqa: ANN202
    from sacrebleu.metrics import CHRF  # imported on first use: sacrebleu takes a few hundred ms to import

    return CHRF()


def edit_distance(a: str, b: str) -> float:
    """Levenshtein distance over the longer string's length, in [0, 1]."""
    from rapidfuzz.distance import Levenshtein

    return Levenshtein.normalized_distance(a, b)


def compare(standard: Sequence[str], noised: Sequence[str], typo: Sequence[str], real: Sequence[str], *,
            dialect: str, variant: str, rate: float, split: str, seed: int = 0) -> PairedRecord:
    """The paired record of line-aligned standard, noised, typo-control and real-variant sentences."""
    if not len(standard) == len(noised) == len(typo) == len(real) or not standard:
        raise PolyretError(f"paired realism {dialect} vs {variant}: sentence lists differ in length or are empty")
    clean_c = [chrf(s, r) for s, r in zip(standard, real)]
    noised_c = [chrf(s, r) for s, r in zip(noised, real)]
    typo_c = [chrf(s, r) for s, r in zip(typo, real)]
    clean_e = [edit_distance(s, r) for s, r in zip(standard, real)]
    noised_e = [edit_distance(s, r) for s, r in zip(noised, real)]
    typo_e = [edit_distance(s, r) for s, r in zip(typo, real)]
    n = len(standard)
    gain = bootstrap([b - a for a, b in zip(clean_c, noised_c)], seed)
    typo_gain = bootstrap([b - a for a, b in zip(clean_c, typo_c)], seed)
    edit = bootstrap([b - a for a, b in zip(clean_e, noised_e)], seed)

    def r(x: float) -> float:
        return round(x, 6)

    return PairedRecord(
        dialect, variant, rate, split, n, r(sum(a != b for a, b in zip(standard, noised)) / n),
        r(sum(clean_c) / n), r(sum(noised_c) / n), r(sum(typo_c) / n), r(gain.mean), r(gain.low), r(gain.high),
        r(typo_gain.mean), r(typo_gain.low), r(typo_gain.high), r(sum(clean_e) / n), r(sum(noised_e) / n),
        r(sum(typo_e) / n), r(edit.mean), r(edit.low), r(edit.high))


def _lines(path: Path) -> list[str]:
    if not path.is_file():
        raise PolyretError(f"{path}: not found (pass --data-dir; `polyret data fetch` downloads NTREX and its "
                           "variants)")
    return path.read_text(encoding="utf-8").splitlines()


def split_lines(ids: Sequence[str], split: Split) -> list[int]:
    """0-based line indices of the documents of `split` (see the module docstring); "all" is every line."""
    if split == "all":
        return list(range(len(ids)))
    which = document_split(list(ids))  # the training data's own split: held-out documents stay held out
    return [i for i, doc in enumerate(ids) if which[doc] == split]


def variant_targets(languages: Sequence[str] | None = None) -> list[tuple[str, str, str]]:
    """(language, dialect, variant code) for every target whose table names a real parallel variant."""
    out = []
    for language in languages or list(available()):
        for dialect, spec in language_table(language).dialects.items():
            out.extend((language, dialect, code) for code in spec.ntrex)
    return out


def paired_realism(data_dir: Path, rate: float = 0.5, seed: int = 0, languages: Sequence[str] | None = None,
                   split: Split = "dev", families: frozenset[str] | None = None) -> list[PairedRecord]:
    """One record per (target, real variant) pair: see the module docstring. `families` keeps only those rule
    families of the dialect target (the typo control is always the typo family)."""
    targets = variant_targets(languages)
    if not targets:
        return []
    ids_path = data_dir / NTREX / DOCUMENT_IDS
    ids = [line.strip() for line in _lines(ids_path)]
    keep = split_lines(ids, split)
    records = []
    for language, dialect, code in targets:
        standard_all = _lines(data_dir / NTREX / FILES[language])
        real_all = _lines(data_dir / VARIANTS / f"newstest2019-ref.{code}.txt")
        for path, lines in ((FILES[language], standard_all), (code, real_all)):
            if len(lines) != len(ids):
                raise PolyretError(f"{path}: {len(lines)} lines, but {ids_path} has {len(ids)}: not line-aligned")
        pairs = [(standard_all[i].strip(), real_all[i].strip()) for i in keep]
        pairs = [(s, v) for s, v in pairs if s and v]
        standard = [s for s, _ in pairs]
        real = [v for _, v in pairs]
        noised = [noise_text(s, language, dialect, rate, seed, families).text for s in standard]
        typo = [noise_text(s, language, TYPO_DIALECT, rate, seed).text for s in standard]
        records.append(compare(standard, noised, typo, real, dialect=f"{language}-{dialect}", variant=code,
                               rate=rate, split=split, seed=seed))
    return records
