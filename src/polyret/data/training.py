"""Training data: every registered source (`polyret.data.sources.catalog`) read into groups, cleaned the same way.

Each source's reader (one module per source or shared format under `polyret.data.sources`) turns its published
files into groups (docs/design.md section 1):
- Native QA in SQuAD v1.1 JSON (ARCD ar, TQuAD tr, CMRC 2018 zh) and iApp Thai JSON lines: one group per question,
  with the question as query and the sentence(s) holding the answer as passage, in one language; the paragraph
  is kept in `contexts`.
- Parallel questions (MKQA, Mintaka): one group per question with a query per language and no passage; the
  translation in language B is the positive for the query in language A.

Cleaning is shared here. Every group id is `<source>/<record id>`. A text that an earlier group of the same source
already has (same role, language and normalised text) is removed, since two groups sharing a text in one batch
make a false negative; a group left without a (query, positive) pair is dropped; a group found to overlap an
evaluation set (evaluation_overlap.json: one Mintaka question is also an MLQA-R question) is removed. Every drop
is counted, so `stats` says exactly what training will see.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from polyret.data.groups import Group
from polyret.data.leakage import normalize_text
from polyret.data.sources.base import Reading
from polyret.data.sources.catalog import BY_NAME, SOURCES
from polyret.data.sources.user import read_train_file
from polyret.data.xquad_r import XQUAD_R_LANGUAGES
from polyret.errors import PolyretError
from polyret.provenance import sha256_file

__all__ = ["SOURCES", "SourceStats", "TrainingData", "load_training_groups", "stats_json"]


@dataclass
class SourceStats:
    """What one source contributed, and what was dropped on the way (by reason)."""

    groups: int = 0
    pairs: Counter[tuple[str, str]] = field(default_factory=Counter)  # (query lang, positive lang) -> groups
    texts: Counter[str] = field(default_factory=Counter)  # queries + passages per language
    dropped: Counter[str] = field(default_factory=Counter)
    files: dict[str, str] = field(default_factory=dict)  # path relative to the data root -> sha256


@dataclass
class TrainingData:
    """The groups of all sources read, in source order, with per-source statistics."""

    groups: list[Group]
    stats: dict[str, SourceStats]
    languages: list[str]
    absent: list[str] = field(default_factory=list)  # default sources whose directory the data root lacks

    @property
    def files(self) -> dict[str, str]:
        """Every file read, relative to the data root, with its sha256: what a training run must cite."""
        return {path: digest for stats in self.stats.values() for path, digest in stats.files.items()}


def load_training_groups(
    data_dir: Path,
    sources: list[str] | None = None,
    languages: list[str] | None = None,
    distinct_passages: bool = False,
    ntrex_window: int = 2,
    train_files: list[Path] | None = None,
) -> TrainingData:
    """Read `sources` (default: all) keeping texts in `languages` (default: the 11 XQuAD-R languages).

    With the default sources, a source whose directory the data root lacks (an older data root) is skipped and
    listed in `absent`; a source named in `sources` must be there. `sources=["none"]` reads no registered source
    (only `train_files`, the user's JSON-lines groups, see `polyret.data.sources.user`, read after the sources).

    Several questions of a paragraph often share their answer sentence. By default all such groups are kept
    (the batch sampler never puts two identical positives in one batch, where one would be a false negative
    for the other); with `distinct_passages` only the first is kept, so no two groups share a text.
    """
    data_dir = Path(data_dir)
    chosen = [] if sources == ["none"] else list(sources) if sources else list(SOURCES)
    unknown = [s for s in chosen if s not in SOURCES]
    if unknown:
        raise PolyretError(f"--sources: unknown training source {unknown[0]!r}; available: {','.join(SOURCES)}")
    if len(set(chosen)) != len(chosen):
        raise PolyretError(f"--sources: a source is named twice in {','.join(chosen)}")
    langs = list(languages) if languages else list(XQUAD_R_LANGUAGES)
    if chosen and not (data_dir / "train").is_dir():
        raise PolyretError(f"{data_dir / 'train'}: training data directory not found (pass --data-dir)")
    absent = [] if sources else [s for s in chosen if not (data_dir / BY_NAME[s].directory).is_dir()]
    groups: list[Group] = []
    stats: dict[str, SourceStats] = {}
    for source in [s for s in chosen if s not in absent]:
        reading = Reading(data_dir, frozenset(langs), {}, ntrex_window=ntrex_window)
        items = BY_NAME[source].read(data_dir / BY_NAME[source].directory, reading)
        kept, stats[source] = _clean(items, reading.languages, distinct_passages)
        stats[source].files = reading.files
        groups.extend(kept)
    for path in train_files or []:
        name = Path(path).name
        if name in stats:
            raise PolyretError(f"--train-file {path}: a source or file named {name!r} is read already")
        kept, stats[name] = _clean(read_train_file(Path(path)), frozenset(langs), distinct_passages)
        stats[name].files = {str(path): sha256_file(Path(path))}
        groups.extend(kept)
    return TrainingData(groups, stats, langs, absent)


OVERLAP_DROPPED = "groups overlapping an evaluation set (data/evaluation_overlap.json)"


@lru_cache(maxsize=1)
def evaluation_overlap() -> dict[str, dict[str, Any]]:
    """Group id -> why it is removed: the reviewed overlaps of training sources with XQuAD-R / MLQA-R."""
    text = resources.files("polyret.data").joinpath("evaluation_overlap.json").read_text(encoding="utf-8")
    return dict(json.loads(text)["groups"])


def _clean(
    items: Iterable[Group | str], languages: frozenset[str], distinct_passages: bool
) -> tuple[list[Group], SourceStats]:
    """Keep the languages asked for, drop empty and repeated texts, then groups left without a pair; count.

    Groups listed in evaluation_overlap.json (reviewed overlaps with an evaluation set) are removed first.
    """
    overlap = evaluation_overlap()
    stats = SourceStats()
    seen: set[tuple[str, str, str]] = set()  # (role, language, normalised text) of the groups kept
    kept: list[Group] = []
    for item in items:
        if isinstance(item, str):
            stats.dropped[item] += 1
            continue
        if item.id in overlap:
            stats.dropped[OVERLAP_DROPPED] += 1
            continue
        if not languages.intersection(item.queries) and not languages.intersection(item.passages):
            continue  # nothing in the languages asked for: filtered out, not dropped
        queries = _keep(item.queries, "query", languages, seen, stats, check=True)
        passages = _keep(item.passages, "passage", languages, seen, stats, check=distinct_passages)
        negatives = {lang: texts_kept for lang, texts in item.negatives.items() if lang in languages
                     if (texts_kept := [t.strip() for t in texts if t.strip()])}
        group = Group(item.id, item.source, _plain(queries), _plain(passages),
                      {lang: text for lang, text in item.contexts.items() if lang in passages}, negatives)
        pairs = group.pair_languages()
        if not pairs:
            stats.dropped["groups without a pair"] += 1
            continue
        seen.update(("query", lang, norm) for lang, (_, norm) in queries.items())
        seen.update(("passage", lang, norm) for lang, (_, norm) in passages.items())
        kept.append(group)
        stats.groups += 1
        stats.pairs.update(pairs)
        stats.texts.update([*group.queries, *group.passages])
    return kept, stats


def _keep(
    texts: dict[str, str], role: str, languages: frozenset[str], seen: set[tuple[str, str, str]],
    stats: SourceStats, check: bool,
) -> dict[str, tuple[str, str]]:
    """lang -> (text, normalised text) in `languages`, without texts that are empty or (if `check`) seen."""
    kept = {}
    for lang, text in texts.items():
        if lang not in languages:
            continue
        norm = normalize_text(text)
        if not norm:
            stats.dropped["empty texts"] += 1
        elif check and (role, lang, norm) in seen:
            stats.dropped[f"duplicate {role} texts"] += 1
        else:
            kept[lang] = (text.strip(), norm)
    return kept


def _plain(texts: dict[str, tuple[str, str]]) -> dict[str, str]:
    return {lang: text for lang, (text, _) in texts.items()}


def stats_json(data: TrainingData) -> dict[str, Any]:
    """The statistics as plain JSON types (pairs keyed `query-positive`)."""
    return {
        "languages": data.languages,
        "groups": len(data.groups),
        **({"absent_sources": data.absent} if data.absent else {}),
        "sources": {
            name: {
                "groups": s.groups,
                "pairs": {f"{q}-{p}": n for (q, p), n in sorted(s.pairs.items())},
                "texts": dict(sorted(s.texts.items())),
                "dropped": dict(sorted(s.dropped.items())),
                "files": s.files,
            }
            for name, s in data.stats.items()
        },
    }
