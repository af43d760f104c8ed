"""Training-free language-bias baselines: post-hoc embedding transforms (issue 6).

A multilingual encoder places every text partly by its language, so a query prefers candidates in its own
language whatever they say. Two transforms remove that component after encoding, with no training:

- `center`: subtract the mean embedding of the text's language, then renormalise.
- `subspace[:k]`: project out the top-k principal directions of the language means (the directions along which
  the languages differ), then renormalise. With k = n_languages - 1 every difference between the means goes.

Both are applied identically to queries and candidates, by each text's language. The statistics are estimated
from a named source that is never the evaluation set: the dev Tatoeba sentences, or the training queries.
Estimating them from the evaluation pool itself leaks the test set into the method, so it needs an option named
`oracle-eval-pool` plus `--allow-oracle`, and its results are labelled as oracle.

Role matters: mE5 prefixes queries with "query: " and candidates with "passage: ", which moves every embedding,
so statistics are estimated per role. Every source text is encoded twice, once as a query (its mean is used for
queries) and once as a passage (its mean is used for candidates); the oracle uses the evaluation queries for the
query side and the candidates for the candidate side.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from polyret.data.tatoeba import tatoeba_dir, tatoeba_file
from polyret.errors import PolyretError
from polyret.report.io import write_bytes_atomic

Role = Literal["query", "passage"]
ROLES: tuple[Role, ...] = ("query", "passage")
TRANSFORMS = ("center", "subspace")
SOURCES = ("tatoeba", "training", "oracle-eval-pool")
ORACLE_SOURCE = "oracle-eval-pool"
# Tatoeba file names use ISO 639-3; the benchmarks use ISO 639-1.
TATOEBA_CODES = {"ar": "ara", "de": "deu", "el": "ell", "es": "spa", "hi": "hin", "ru": "rus", "th": "tha",
                 "tr": "tur", "vi": "vie", "zh": "cmn"}
SAMPLE_SEED = 0


@dataclass(frozen=True)
class TransformSpec:
    """A parsed `--transform` value with its statistics source."""

    name: str
    k: int | None  # subspace only
    source: str

    @property
    def oracle(self) -> bool:
        return self.source == ORACLE_SOURCE

    @property
    def label(self) -> str:
        return f"{self.name}:{self.k}" if self.k is not None else self.name


def parse_transform(transform: str, source: str | None, allow_oracle: bool) -> TransformSpec:
    """Check the options before any work is done, so a mistake costs nothing and the oracle is never silent."""
    name, _, arg = transform.partition(":")
    if name not in TRANSFORMS:
        raise PolyretError(f"--transform: unknown transform {transform!r} (center or subspace[:k])")
    k: int | None = None
    if name == "subspace":
        try:
            k = int(arg) if arg else 1
        except ValueError:
            raise PolyretError(f"--transform: k in {transform!r} is not an integer") from None
        if k < 1:
            raise PolyretError(f"--transform: k must be at least 1, got {k}")
    elif arg:
        raise PolyretError(f"--transform: center takes no argument, got {transform!r}")
    if source is None:
        raise PolyretError(f"--transform-source is required with --transform ({', '.join(SOURCES[:2])})")
    if source not in SOURCES:
        raise PolyretError(f"--transform-source: unknown source {source!r} ({', '.join(SOURCES)})")
    if source == ORACLE_SOURCE and not allow_oracle:
        raise PolyretError(f"--transform-source {ORACLE_SOURCE} estimates the statistics from the evaluation set "
                           "itself (an oracle, not a baseline); pass --allow-oracle to run it anyway")
    return TransformSpec(name, k, source)


def sample_indices(n: int, cap: int) -> np.ndarray:
    """At most `cap` of range(n), in order: a seeded sample, so the statistics are reproducible and CPU-bounded."""
    if n <= cap:
        return np.arange(n)
    return np.sort(np.random.default_rng(SAMPLE_SEED).choice(n, size=cap, replace=False))


def _capped(texts: list[str], cap: int) -> list[str]:
    unique = list(dict.fromkeys(t.strip() for t in texts if t.strip()))
    return [unique[i] for i in sample_indices(len(unique), cap)]


def _require(languages: list[str], available: set[str], source: str) -> None:
    missing = [lang for lang in languages if lang not in available]
    if missing:
        raise PolyretError(f"--transform-source {source}: no texts for language {missing[0]!r} of the evaluation "
                           f"set (available: {','.join(sorted(available)) or 'none'})")


def tatoeba_texts(data_dir: Path, languages: list[str], cap: int) -> dict[str, list[str]]:
    """Dev Tatoeba sentences per language; English from the English side of every pair file present."""
    root = tatoeba_dir(data_dir)
    if not root.is_dir():
        raise PolyretError(f"{root}: Tatoeba directory not found (pass --data-dir)")
    present = {lang: code for lang, code in TATOEBA_CODES.items() if tatoeba_file(data_dir, code).is_file()}
    english = [line for code in sorted(present.values())
               for line in tatoeba_file(data_dir, code, "eng").read_text(encoding="utf-8").splitlines()]
    _require(languages, set(present) | ({"en"} if english else set()), "tatoeba")
    texts = {}
    for lang in languages:
        lines = (english if lang == "en"
                 else tatoeba_file(data_dir, present[lang]).read_text(encoding="utf-8").splitlines())
        texts[lang] = _capped(lines, cap)
    return texts


def training_texts(data_dir: Path, languages: list[str], cap: int) -> dict[str, list[str]]:
    """Training queries per language.

    Queries only: passages exist for just 4 of the 11 languages (the native QA sets), so mixing them in would
    make the language means differ by genre (statement vs question) as well as by language.
    """
    from polyret.data.training import load_training_groups

    groups = load_training_groups(data_dir, languages=languages).groups
    by_lang: dict[str, list[str]] = {}
    for group in groups:
        for lang, text in group.queries.items():
            by_lang.setdefault(lang, []).append(text)
    _require(languages, set(by_lang), "training")
    return {lang: _capped(by_lang[lang], cap) for lang in languages}


@dataclass(frozen=True)
class LanguageMeans:
    """Per-role, per-language mean embeddings (rows follow `languages`) and how many texts each mean averages."""

    languages: list[str]
    means: dict[Role, np.ndarray]
    counts: dict[Role, dict[str, int]]

    @classmethod
    def estimate(cls, vectors: dict[Role, np.ndarray], langs: dict[Role, list[str]], languages: list[str],
                 source: str) -> LanguageMeans:
        """Mean of each language's vectors per role; a language with no vectors is an error, never skipped."""
        means: dict[Role, np.ndarray] = {}
        counts: dict[Role, dict[str, int]] = {}
        for role in ROLES:
            lang_arr = np.asarray(langs[role])
            _require(languages, set(langs[role]), source)
            means[role] = np.stack([vectors[role][lang_arr == lang].mean(axis=0) for lang in languages])
            counts[role] = {lang: int((lang_arr == lang).sum()) for lang in languages}
        return cls(list(languages), means, counts)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"languages": np.array(self.languages),
                **{f"{role}_means": self.means[role].astype(np.float32) for role in ROLES}}

    def sha256(self) -> str:
        """Digest of the languages and float32 means, independent of the npz container's metadata."""
        digest = hashlib.sha256("\n".join(self.languages).encode())
        for role in ROLES:
            digest.update(np.ascontiguousarray(self.means[role], dtype=np.float32).tobytes())
        return digest.hexdigest()

    def save(self, path: Path) -> None:
        """Write the npz atomically: a stats file is complete or absent, like every other output."""
        buffer = io.BytesIO()
        np.savez(buffer, **self.arrays())
        write_bytes_atomic(path, buffer.getvalue())


def language_directions(means: np.ndarray, k: int) -> np.ndarray:
    """Top-k principal directions (k x d, orthonormal) of the language means, centred across languages."""
    n_langs = means.shape[0]
    if k >= n_langs:
        raise PolyretError(f"--transform subspace:{k}: k must be below the number of languages ({n_langs}); "
                           f"the {n_langs} means span at most {n_langs - 1} directions")
    _, _, vt = np.linalg.svd(means - means.mean(axis=0), full_matrices=False)
    return vt[:k]


def _renormalise(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def apply_transform(spec: TransformSpec, stats: LanguageMeans, vectors: np.ndarray, langs: list[str],
                    role: Role) -> np.ndarray:
    """Transform `vectors` (one row per text, `langs` its languages) with the statistics of `role`."""
    _require(sorted(set(langs)), set(stats.languages), spec.source)
    means = stats.means[role]
    x = np.asarray(vectors, dtype=np.float64)
    if spec.name == "center":
        index = {lang: i for i, lang in enumerate(stats.languages)}
        x = x - means[[index[lang] for lang in langs]]
    else:
        directions = language_directions(means, spec.k or 1)
        x = x - (x @ directions.T) @ directions
    return _renormalise(x).astype(np.float32)
