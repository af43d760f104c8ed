"""The development set for model selection: dev/tatoeba translation retrieval, never XQuAD-R.

Zero-shot means that nothing of XQuAD-R may choose a checkpoint, so training is watched on a different task that
exercises the same skill: find a text's translation in a pool that mixes languages. From each `<xxx>-eng` Tatoeba
file (the 10 non-English XQuAD-R languages) a seeded sample of line pairs is drawn; both sides of every pair go
into one pool (10 languages plus English), each text queries for its translation among all the others. A model
with the language bias that hurts XQuAD-R's Mul ranks same-language sentences above the translation, so
`mixed_mrr` falls and `same_language_top1` rises; `pair_accuracy` is the classic Tatoeba measure (only the two
sides of one language pair as candidates). Texts are sampled so that no two pool items are the same text after
normalisation (Tatoeba repeats short English sentences across files), which would make a wrong answer right.

Cost: every pool text is encoded twice (as query and as passage, as mE5 expects), never cached (the weights change
during training). Sizes and timings are in the README.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from polyret.data.leakage import TextRecord, normalize_text
from polyret.data.tatoeba import tatoeba_file
from polyret.errors import PolyretError

# ISO 639-1 (XQuAD-R) -> ISO 639-3 (Tatoeba file names); English is the other side of every file
DEV_CODES = {"ar": "ara", "de": "deu", "el": "ell", "es": "spa", "hi": "hin", "ru": "rus", "th": "tha",
             "tr": "tur", "vi": "vie", "zh": "cmn"}
EncodeFn = Callable[[Sequence[str], Literal["query", "passage"]], np.ndarray]


class DevSetConfig(BaseModel):
    """Which Tatoeba pairs form the development pool."""

    model_config = ConfigDict(extra="forbid")

    languages: list[str] = Field(default_factory=lambda: list(DEV_CODES),
                                 description="non-English languages (ISO 639-1); each brings its -eng pairs")
    per_language: int = Field(50, ge=1, le=1000, description="line pairs sampled per language")
    seed: int = 0

    @field_validator("languages")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = [lang for lang in value if lang not in DEV_CODES]
        if unknown:
            raise ValueError(f"no dev/tatoeba file for language {unknown[0]!r} (known: {', '.join(DEV_CODES)})")
        if not value or len(set(value)) != len(value):
            raise ValueError("languages must be a non-empty list without repeats")
        return value


@dataclass(frozen=True)
class DevPair:
    lang: str  # the non-English side's language
    line: int  # 1-based line in both files
    text: str
    english: str


@dataclass(frozen=True)
class DevSet:
    config: DevSetConfig
    pairs: list[DevPair]
    files_sha256: dict[str, str]

    def pool(self) -> tuple[list[str], list[str]]:
        """Pool texts and languages: pair i is items 2i (its language) and 2i + 1 (English)."""
        texts, langs = [], []
        for pair in self.pairs:
            texts += [pair.text, pair.english]
            langs += [pair.lang, "en"]
        return texts, langs

    def records(self) -> list[TextRecord]:
        """Every pool text as a leakage-check record (id: tatoeba/<code>/<line>)."""
        out = []
        for p in self.pairs:
            rid = f"tatoeba/{DEV_CODES[p.lang]}/{p.line}"
            out += [TextRecord(rid, "dev", p.lang, p.text), TextRecord(rid, "dev", "en", p.english)]
        return out

    def describe(self) -> dict[str, object]:
        return {"source": "dev/tatoeba", "config": self.config.model_dump(), "pairs": len(self.pairs),
                "files_sha256": self.files_sha256}


def _read_lines(path: Path) -> list[str]:
    if not path.is_file():
        raise PolyretError(f"{path}: development file not found (pass --data-dir; `polyret data fetch` downloads "
                           "dev/tatoeba)")
    data = path.read_bytes()
    try:
        return data.decode("utf-8").splitlines()
    except UnicodeDecodeError as err:
        raise PolyretError(f"{path}: not UTF-8 (byte {err.start})") from None


def load_dev_set(data_dir: Path, config: DevSetConfig | None = None) -> DevSet:
    """A seeded sample of `per_language` line pairs per language, every pool text distinct after normalisation."""
    config = config or DevSetConfig()
    pairs: list[DevPair] = []
    seen: set[str] = set()
    digests: dict[str, str] = {}
    for lang in config.languages:
        code = DEV_CODES[lang]
        own_path, eng_path = tatoeba_file(data_dir, code), tatoeba_file(data_dir, code, "eng")
        own, eng = _read_lines(own_path), _read_lines(eng_path)
        if len(own) != len(eng):
            raise PolyretError(f"{own_path}: {len(own)} lines but {eng_path.name} has {len(eng)}; the two sides "
                               "must be line-aligned")
        for path in (own_path, eng_path):
            digests[f"dev/tatoeba/{path.name}"] = hashlib.sha256(path.read_bytes()).hexdigest()
        # a per-language stream, so adding a language does not change another's sample
        order = np.random.default_rng([config.seed, int.from_bytes(code.encode(), "big")]).permutation(len(own))
        taken = 0
        for index in order:
            a, b = normalize_text(own[index]), normalize_text(eng[index])
            if not a or not b or a == b or a in seen or b in seen:
                continue
            seen.update((a, b))
            pairs.append(DevPair(lang, int(index) + 1, own[index].strip(), eng[index].strip()))
            taken += 1
            if taken == config.per_language:
                break
        if taken == 0:
            raise PolyretError(f"{own_path}: no usable line pair (empty or every text repeats another)")
    return DevSet(config, pairs, digests)


def _ranks(scores: np.ndarray, relevant: np.ndarray) -> np.ndarray:
    """1-based rank of each row's relevant column; ties go to the lower column index (as the main search)."""
    rows = np.arange(len(scores))
    target = scores[rows, relevant][:, None]
    cols = np.arange(scores.shape[1])[None, :]
    above = (scores > target) | ((scores == target) & (cols < relevant[:, None]))
    return 1 + above.sum(axis=1)


def dev_metrics(query_vectors: np.ndarray, passage_vectors: np.ndarray, langs: list[str]) -> dict[str, object]:
    """The development measures from the pool's embeddings (pair i = items 2i, 2i + 1), see the module docstring."""
    n = len(langs)
    if n < 4 or n % 2 or query_vectors.shape[0] != n or passage_vectors.shape[0] != n:
        raise PolyretError("dev_metrics: expected an even pool of at least 2 pairs, one vector per text per role")
    scores = np.round(query_vectors.astype(np.float64) @ passage_vectors.astype(np.float64).T * 2.0**32)
    np.fill_diagonal(scores, -np.inf)  # a text never retrieves itself
    partner = np.arange(n) ^ 1
    lang = np.array(langs)
    ranks = _ranks(scores, partner)
    top = scores.argmax(axis=1)
    pair_lang = lang[np.arange(n) & ~1]  # the non-English language of each item's pair
    # classic Tatoeba: only the other side of the same language pair as candidates
    other_side = (lang[None, :] != lang[:, None]) & (pair_lang[None, :] == pair_lang[:, None])
    pair_ranks = _ranks(np.where(other_side, scores, -np.inf), partner)
    per_language = {}
    for code in dict.fromkeys(pair_lang[::2].tolist()):
        mine = pair_lang == code
        per_language[code] = {"mixed_mrr": float(np.mean(1.0 / ranks[mine])),
                              "pair_accuracy": float(np.mean(pair_ranks[mine] == 1))}
    return {"mixed_mrr": float(np.mean(1.0 / ranks)), "mixed_accuracy": float(np.mean(ranks == 1)),
            "same_language_top1": float(np.mean(lang[top] == lang)),
            "pair_accuracy": float(np.mean([v["pair_accuracy"] for v in per_language.values()])),
            "n_texts": n, "per_language": per_language}


def score_dev(encode: EncodeFn, dev: DevSet) -> dict[str, object]:
    """Encode the pool with `encode(texts, kind)` (unit vectors) and return the development measures."""
    texts, langs = dev.pool()
    return dev_metrics(np.asarray(encode(texts, "query")), np.asarray(encode(texts, "passage")), langs)


def score_encoder(encoder: object, dev: DevSet) -> dict[str, object]:
    """score_dev for a polyret `Encoder` whose weights may be training: eval mode, no cache, mode restored."""
    model = encoder.model  # type: ignore[attr-defined]
    was_training = model.training
    model.eval()
    try:
        def encode(texts: Sequence[str], kind: Literal["query", "passage"]) -> np.ndarray:
            return encoder.encode_uncached(encoder.prefixed(texts, kind))  # type: ignore[attr-defined]

        return score_dev(encode, dev)
    finally:
        model.train(was_training)
