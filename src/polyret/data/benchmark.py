"""In-memory form of a retrieval benchmark: queries, candidates and relevance, with provenance.

Every reader (XQuAD-R, the generic jsonl format) produces this one shape, so search, metrics and reports never
need to know where the data came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from polyret.errors import PolyretError


@dataclass(frozen=True)
class Query:
    id: str
    text: str
    lang: str


@dataclass(frozen=True)
class Candidate:
    id: str
    text: str
    lang: str
    context: str | None = None  # the paragraph a sentence came from, for the "sentence+paragraph" encoding


@dataclass
class RetrievalBenchmark:
    """A benchmark ready to evaluate.

    `qrels` maps a query id to the ids of its relevant candidates (binary relevance). `files` maps every input
    file (path relative to the benchmark root) to its sha256, so a result can name exactly what it was run on.
    `built_from` names the training sources a development set's texts come from: a model whose training drew from
    one of them is refused wherever it is scored (data/held_out.py).
    """

    name: str
    queries: list[Query]
    candidates: list[Candidate]
    qrels: dict[str, set[str]]
    files: dict[str, str] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    built_from: frozenset[str] = frozenset()

    @property
    def languages(self) -> list[str]:
        """Languages present on either side, sorted."""
        return sorted({q.lang for q in self.queries} | {c.lang for c in self.candidates})

    def validate(self) -> None:
        """Refuse a benchmark that cannot be scored: empty, or with queries that have nothing relevant."""
        if not self.queries:
            raise PolyretError(f"{self.name}: the selection holds no queries (check --languages / --articles)")
        if not self.candidates:
            raise PolyretError(f"{self.name}: the selection holds no candidates (check --languages / --articles)")
        known = {c.id for c in self.candidates}
        for q in self.queries:
            rel = self.qrels.get(q.id)
            if not rel:
                raise PolyretError(f"{self.name}: query {q.id!r} has no relevant candidate in the selection")
            missing = rel - known
            if missing:
                raise PolyretError(
                    f"{self.name}: query {q.id!r} names unknown candidate {sorted(missing)[0]!r} as relevant"
                )

    def restrict_languages(self, languages: list[str] | None) -> RetrievalBenchmark:
        """Keep only queries and candidates in `languages` (both sides), and the relevance between them."""
        if not languages:
            return self
        available = self.languages
        unknown = [lang for lang in languages if lang not in available]
        if unknown:
            raise PolyretError(
                f"--languages: unknown language code {unknown[0]!r} for {self.name}; "
                f"available: {','.join(available)}"
            )
        keep = set(languages)
        queries = [q for q in self.queries if q.lang in keep]
        candidates = [c for c in self.candidates if c.lang in keep]
        cids = {c.id for c in candidates}
        qrels = {q.id: self.qrels.get(q.id, set()) & cids for q in queries}
        options = dict(self.options, languages=sorted(keep))
        return RetrievalBenchmark(self.name, queries, candidates, qrels, dict(self.files), options, self.built_from)
