"""The zero-shot guard: no training text may repeat an evaluation text (XQuAD-R and MLQA-R questions and sentences).

A training text leaks when, after normalisation (NFKC, casefold, punctuation as spaces, whitespace collapsed),
it equals an evaluation text, or when their sets of character n-grams overlap by at least `threshold` in:
- `jaccard` (default): |T & E| / |T | E|, a copied or lightly edited question or sentence;
- `containment`: |T & E| / |E|, the share of the evaluation text found in the training text, which also finds
  an evaluation sentence inside a training paragraph. It is the stricter test and the noisier one: a short
  evaluation question is mostly its template (a question "who was the first president of X?" lies mostly
  inside any other question of that template), so read its hits before acting on them.
Texts with fewer than `min_ngrams` distinct n-grams (a word or a set phrase: `Kesinlikle!`, `เป็นต้น`) are
compared for equality only.

The search misses no pair (up to 44-bit hash collisions) yet never compares every pair. N-grams are hashed into
numpy arrays; by prefix filtering (Chaudhuri et al. 2006), a pair reaching overlap t * |X| must share one of the
|X| - ceil(t * |X|) + 1 rarest n-grams of X, so each text of one side probes an inverted index of the other with
those only, and the few candidate pairs are then measured exactly.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np

from polyret.data.groups import Group
from polyret.data.xquad_r import load_xquad_r
from polyret.errors import PolyretError

Measure = Literal["jaccard", "containment"]
NGRAM = 5
THRESHOLD = 0.8
MEASURE: Measure = "jaccard"
MIN_NGRAMS = 10


_ASTRAL = re.compile("[\U00010000-\U0010FFFF]")


@lru_cache(maxsize=2)
def _punctuation(astral: bool) -> re.Pattern[str]:
    """Unicode punctuation (category P*) in the BMP, or in plane 1 (none lies beyond).

    Two classes because a class that is all BMP compiles to a bitmap, ten times faster than a range list.
    """
    first, last = (0x10000, 0x20000) if astral else (0, 0x10000)
    runs: list[list[int]] = []
    for cp in range(first, last):
        if unicodedata.category(chr(cp)).startswith("P"):
            if runs and runs[-1][1] == cp - 1:
                runs[-1][1] = cp
            else:
                runs.append([cp, cp])
    return re.compile("[" + "".join(f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in runs) + "]")


def normalize_text(text: str) -> str:
    """NFKC, casefold, punctuation as spaces, whitespace collapsed: what makes two texts 'the same'.

    Turkish `İ` casefolds to `i` plus a combining dot; the dot is dropped so that `İsyan` equals `isyan`.
    """
    folded = unicodedata.normalize("NFKC", text).casefold().replace("i\u0307", "i")
    text = _punctuation(False).sub(" ", folded)
    if _ASTRAL.search(text):
        text = _punctuation(True).sub(" ", text)
    return " ".join(text.split())


@dataclass(frozen=True)
class TextRecord:
    """One text on either side of the check, with what is needed to find it again."""

    id: str  # training: group id; evaluation: XQuAD-R query or candidate id
    role: str  # query / passage / context, or question / sentence
    lang: str
    text: str


@dataclass(frozen=True)
class LeakageHit:
    """A training text and the evaluation text it matches best."""

    training: TextRecord
    evaluation: TextRecord
    similarity: float
    exact: bool  # equal after normalisation
    matches: int  # evaluation texts over the threshold

    def describe(self) -> str:
        kind = "exact" if self.exact else f"{self.similarity:.2f}"
        return (
            f"{self.training.id} {self.training.role}/{self.training.lang} {snippet(self.training.text)!r} ~ "
            f"{self.evaluation.id} {snippet(self.evaluation.text)!r} ({kind})"
        )


@dataclass
class LeakageReport:
    """Every leaking training text (in input order) and the settings it was found with."""

    hits: list[LeakageHit]
    training_texts: int
    evaluation_texts: int
    ngram: int
    threshold: float
    measure: Measure
    min_ngrams: int
    seconds: float
    by_source: dict[str, int]  # hits per training source

    @property
    def clean(self) -> bool:
        return not self.hits

    def summary(self) -> str:
        head = (
            f"{len(self.hits)} of {self.training_texts} training texts match one of {self.evaluation_texts} "
            f"evaluation texts (equal, or {self.measure} of character {self.ngram}-grams >= {self.threshold} "
            f"for texts of {self.min_ngrams}+ n-grams)"
        )
        if not self.hits:
            return head
        sources = ", ".join(f"{source} {count}" for source, count in self.by_source.items())
        return f"{head}; by source: {sources}; first: {self.hits[0].describe()}"


def training_texts(groups: Iterable[Group]) -> list[TextRecord]:
    """Every query, passage and hard negative of `groups`, and each distinct paragraph once."""
    records: list[TextRecord] = []
    seen_contexts: set[str] = set()
    for group in groups:
        records.extend(TextRecord(group.id, "query", lang, text) for lang, text in group.queries.items())
        records.extend(TextRecord(group.id, "passage", lang, text) for lang, text in group.passages.items())
        records.extend(TextRecord(group.id, "negative", lang, text)
                       for lang, texts in group.negatives.items() for text in texts)
        for lang, text in group.contexts.items():
            if text not in seen_contexts:
                seen_contexts.add(text)
                records.append(TextRecord(group.id, "context", lang, text))
    return records


EVALUATION_SETS = ("xquad-r", "mlqa-r")
"""Every zero-shot evaluation set; XQuAD-R must be in the data root, MLQA-R is checked wherever it is."""


def evaluation_sets(data_dir: Path) -> list[str]:
    """The evaluation sets present in the data root (XQuAD-R always: its reader names it when it is missing)."""
    return ["xquad-r"] + [name for name in EVALUATION_SETS[1:] if (Path(data_dir) / name).is_dir()]


def evaluation_texts(data_dir: Path) -> list[TextRecord]:
    """All questions and candidate sentences of every evaluation set in the data root (XQuAD-R's 11 languages,
    MLQA-R's 7). Ids are `<set>:<lang>/<id>` so a hit names the set."""
    from polyret.data.mlqa_r import load_mlqa_r

    records: list[TextRecord] = []
    for name in evaluation_sets(data_dir):
        bench = load_xquad_r(Path(data_dir)) if name == "xquad-r" else load_mlqa_r(Path(data_dir))
        records += [TextRecord(f"{name}:{q.id}", "question", q.lang, q.text) for q in bench.queries]
        records += [TextRecord(f"{name}:{c.id}", "sentence", c.lang, c.text) for c in bench.candidates]
    return records


def check_leakage(
    training: list[TextRecord],
    evaluation: list[TextRecord],
    ngram: int = NGRAM,
    threshold: float = THRESHOLD,
    measure: Measure = MEASURE,
    min_ngrams: int = MIN_NGRAMS,
) -> LeakageReport:
    """Find every training text equal, or near-equal, to an evaluation text (see the module docstring)."""
    if not 0 < threshold <= 1:
        raise PolyretError(f"--threshold: must be in (0, 1], got {threshold}")
    if ngram < 1 or min_ngrams < 1:
        raise PolyretError(f"--ngram and --min-ngrams: must be at least 1, got {ngram} and {min_ngrams}")
    if measure not in ("jaccard", "containment"):
        raise PolyretError(f"--measure: unknown measure {measure!r} (jaccard or containment)")
    began = time.perf_counter()
    t_norm, t_keep = _normalised(training)
    e_norm, e_keep = _normalised(evaluation)
    t_grams, e_grams = _NGrams(t_norm, ngram), _NGrams(e_norm, ngram)

    if measure == "jaccard":  # |T & E| >= t |T|, and the sizes within a factor t of each other
        pairs = _candidates(t_grams, e_grams, threshold, min_ngrams)
        t_size, e_size = t_grams.sizes[pairs[:, 0]], e_grams.sizes[pairs[:, 1]]
        pairs = pairs[(t_size >= threshold * e_size) & (e_size >= threshold * t_size)]
    else:  # |T & E| >= t |E|, so T is at least t |E| long
        pairs = _candidates(e_grams, t_grams, threshold, min_ngrams)[:, ::-1]
        pairs = pairs[t_grams.sizes[pairs[:, 0]] >= threshold * e_grams.sizes[pairs[:, 1]]]
    shared = _shared(t_grams, e_grams, pairs)
    t_size, e_size = t_grams.sizes[pairs[:, 0]], e_grams.sizes[pairs[:, 1]]
    similarity = shared / (t_size + e_size - shared if measure == "jaccard" else e_size)
    flagged = similarity >= threshold - 1e-9

    hits = [
        LeakageHit(training[t_keep[t]], evaluation[e_keep[e]], sim, exact, matches)
        for t, e, sim, exact, matches in _hits(pairs[flagged], similarity[flagged], t_norm, e_norm)
    ]
    by_source = Counter(hit.training.id.split("/", 1)[0] for hit in hits)
    return LeakageReport(hits, len(training), len(evaluation), ngram, threshold, measure, min_ngrams,
                         time.perf_counter() - began, dict(by_source))


def _normalised(records: list[TextRecord]) -> tuple[list[str], list[int]]:
    """Normalised texts that are not empty, and the index of each in `records`."""
    normalised = [normalize_text(record.text) for record in records]
    keep = [i for i, text in enumerate(normalised) if text]
    return [normalised[i] for i in keep], keep


def assert_no_leakage(
    training: list[TextRecord],
    evaluation: list[TextRecord],
    ngram: int = NGRAM,
    threshold: float = THRESHOLD,
    measure: Measure = MEASURE,
    min_ngrams: int = MIN_NGRAMS,
) -> LeakageReport:
    """The report when nothing leaks; otherwise a PolyretError with the summary."""
    report = check_leakage(training, evaluation, ngram, threshold, measure, min_ngrams)
    if not report.clean:
        raise PolyretError(f"zero-shot leakage: {report.summary()}")
    return report


def _hits(pairs: np.ndarray, similarity: np.ndarray, t_norm: list[str],
          e_norm: list[str]) -> list[tuple[int, int, float, bool, int]]:
    """(training, evaluation, similarity, exact, matches) for each training text of the flagged pairs.

    The best match is reported; an exact match wins ties (equal texts have equal n-gram sets, so they are
    among the flagged pairs unless shorter than `min_ngrams`, hence the separate lookup).
    """
    exact_of: dict[str, int] = {}
    for e, text in enumerate(e_norm):
        exact_of.setdefault(text, e)
    copies = Counter(e_norm)
    best: dict[int, tuple[float, int]] = {t: (1.0, exact_of[text]) for t, text in enumerate(t_norm) if text in exact_of}
    matches: Counter[int] = Counter({t: copies[t_norm[t]] for t in best})
    for (t, e), sim in zip(pairs.tolist(), similarity.tolist(), strict=True):
        if e_norm[e] == t_norm[t]:
            continue  # counted among the copies
        matches[t] += 1
        if t not in best or sim > best[t][0]:
            best[t] = (sim, e)
    return [(t, best[t][1], float(best[t][0]), t_norm[t] in exact_of, matches[t]) for t in sorted(best)]


def snippet(text: str, width: int = 80) -> str:
    """One line of at most `width` characters, for reports."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


# ------------------------------------------------------------------------------------------ n-gram arrays

_MULTIPLIER = np.uint64(0x100000001B3)
_DOC_SALT = np.uint64(0x9E3779B97F4A7C15)
_HASH_BITS = 44  # document index in the 20 bits above: one sortable uint64 per (document, n-gram)
_HASH_MASK = np.uint64((1 << _HASH_BITS) - 1)


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser: spreads polynomial hashes (and hash ^ document keys) over all 64 bits."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    mixed: np.ndarray = x ^ (x >> np.uint64(31))
    return mixed


class _NGrams:
    """The distinct hashed character n-grams of each text (a text shorter than n is one n-gram).

    `doc` and `hash` are sorted by document then hash; `start`/`sizes` give each document's run. Hashes have
    44 bits: among the ~10 million distinct n-grams at hand that is about one collision, which shifts an
    overlap by one n-gram at worst.
    """

    def __init__(self, texts: list[str], n: int) -> None:
        if len(texts) >= 1 << (64 - _HASH_BITS):
            raise PolyretError(f"leakage check: too many texts ({len(texts)}) for one n-gram table")
        padded = [text.ljust(n, "\0") for text in texts]
        lengths = np.fromiter(map(len, padded), dtype=np.int64, count=len(padded))
        codes = np.frombuffer("".join(padded).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
        windows = max(codes.size - n + 1, 0)
        value = np.zeros(windows, np.uint64)
        for j in range(n):
            value = value * _MULTIPLIER + codes[j : j + windows]
        doc = np.repeat(np.arange(len(padded), dtype=np.uint64), lengths)[:windows]
        whole = np.arange(windows) + n <= np.cumsum(lengths)[doc.astype(np.int64)]  # inside one text
        keys = _distinct((doc[whole] << np.uint64(_HASH_BITS)) | (_mix(value[whole]) & _HASH_MASK))
        self.doc = (keys >> np.uint64(_HASH_BITS)).astype(np.int64)
        self.hash = keys & _HASH_MASK
        self.sizes = np.bincount(self.doc, minlength=len(texts))
        self.start = np.cumsum(self.sizes) - self.sizes

    def lookup_keys(self) -> np.ndarray:
        """Sorted (document, n-gram) keys, to test membership of many n-grams in given documents at once."""
        return np.sort(_mix(self.hash ^ (self.doc.astype(np.uint64) * _DOC_SALT)))


def _candidates(probe: _NGrams, index: _NGrams, threshold: float, min_ngrams: int) -> np.ndarray:
    """(probe doc, index doc) pairs that may reach |P & I| >= threshold * |P|: they share a prefix n-gram of P.

    Texts with fewer than `min_ngrams` n-grams on either side take no part.
    """
    in_index = index.sizes[index.doc] >= min_ngrams
    order = np.argsort(index.hash[in_index], kind="stable")
    index_hash, index_doc = index.hash[in_index][order], index.doc[in_index][order]
    if index_hash.size == 0 or probe.hash.size == 0:
        return np.zeros((0, 2), np.int64)
    first = np.flatnonzero(np.r_[True, index_hash[1:] != index_hash[:-1]])  # postings of each distinct n-gram
    keys, freq = index_hash[first], np.diff(np.r_[first, index_hash.size])
    at = _search(keys, probe.hash)
    present = keys[at] == probe.hash
    df = np.where(present, freq[at], 0)
    rarest = np.argsort((probe.doc.astype(np.uint64) << np.uint64(32)) | df.astype(np.uint64), kind="stable")
    rank = np.arange(rarest.size) - probe.start[probe.doc[rarest]]
    need = probe.sizes - np.ceil(threshold * probe.sizes - 1e-9).astype(np.int64) + 1
    usable = present[rarest] & (probe.sizes[probe.doc[rarest]] >= min_ngrams)
    chosen = rarest[usable & (rank < need[probe.doc[rarest]])]
    counts = df[chosen]
    offsets = np.repeat(first[at[chosen]] - (np.cumsum(counts) - counts), counts) + np.arange(counts.sum())
    pairs = _distinct((np.repeat(probe.doc[chosen], counts) << 32) | index_doc[offsets])
    return np.stack([pairs >> 32, pairs & 0xFFFFFFFF], axis=1)


def _search(sorted_keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Index of each value in `sorted_keys` (clipped; check equality): searching sorted values is 3x faster."""
    order = np.argsort(values)
    found = np.empty(values.size, np.int64)
    found[order] = np.searchsorted(sorted_keys, values[order])
    return np.minimum(found, sorted_keys.size - 1)


def _distinct(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values; np.unique took 12 s where this takes 0.3 s (9 million uint64, numpy 2.4)."""
    values = np.sort(values)
    return values[np.r_[True, values[1:] != values[:-1]]] if values.size else values


def _shared(left: _NGrams, right: _NGrams, pairs: np.ndarray) -> np.ndarray:
    """|L & R| for each (left doc, right doc) pair, walking the smaller text of each pair."""
    shared = np.zeros(len(pairs), np.int64)
    left_smaller = left.sizes[pairs[:, 0]] <= right.sizes[pairs[:, 1]]
    shared[left_smaller] = _count_in(left, right, pairs[left_smaller])
    shared[~left_smaller] = _count_in(right, left, pairs[~left_smaller][:, ::-1])
    return shared


def _count_in(small: _NGrams, large: _NGrams, pairs: np.ndarray) -> np.ndarray:
    """For each (small doc, large doc) pair, how many n-grams of the small doc the large doc has."""
    if pairs.size == 0:
        return np.zeros(0, np.int64)
    large_keys = large.lookup_keys()
    counts = small.sizes[pairs[:, 0]]
    owner = np.repeat(np.arange(len(pairs)), counts)
    entries = np.repeat(small.start[pairs[:, 0]] - (np.cumsum(counts) - counts), counts) + np.arange(counts.sum())
    keys = _mix(small.hash[entries] ^ (pairs[owner, 1].astype(np.uint64) * _DOC_SALT))
    found = large_keys[_search(large_keys, keys)] == keys
    return np.bincount(owner, weights=found, minlength=len(pairs)).astype(np.int64)
