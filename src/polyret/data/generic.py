"""Reader for the generic multilingual retrieval format.

A directory holding `corpus.jsonl` ({"id", "text", "lang", ...}), `queries.jsonl` ({"id", "text", "lang", ...})
and `qrels.tsv` (`qid 0 docid relevance`, whitespace separated, TREC style). Extra fields are kept on disk and
ignored here; relevance > 0 counts as relevant.
"""

from __future__ import annotations

from pathlib import Path

from polyret.data.benchmark import Candidate, Query, RetrievalBenchmark
from polyret.data.jsonio import read_jsonl
from polyret.errors import PolyretError
from polyret.provenance import sha256_file

REQUIRED_FILES = ("corpus.jsonl", "queries.jsonl", "qrels.tsv")


def _records(path: Path) -> list[tuple[str, str, str]]:
    """(id, text, lang) per line, with a one-line error naming file, line and field on bad input."""
    out: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    for where, record in read_jsonl(path):
        values = []
        for name in ("id", "text", "lang"):
            value = record.get(name)
            if name == "id" and isinstance(value, int):
                value = str(value)
            if not isinstance(value, str) or (name != "text" and not value):
                raise PolyretError(f"{where}: missing or invalid field {name!r}")
            values.append(value)
        if values[0] in seen:
            raise PolyretError(f"{where}: duplicate id {values[0]!r}")
        seen.add(values[0])
        out.append((values[0], values[1], values[2]))
    return out


def _qrels(path: Path, qids: set[str], cids: set[str]) -> dict[str, set[str]]:
    qrels: dict[str, set[str]] = {}
    with open(path, encoding="utf-8") as handle:
        for lineno, line in enumerate(handle, start=1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 4:
                raise PolyretError(f"{path}:{lineno}: expected 'qid 0 docid relevance', got {len(parts)} fields")
            qid, _, docid, rel = parts
            try:
                relevance = int(rel)
            except ValueError:
                raise PolyretError(f"{path}:{lineno}: relevance {rel!r} is not an integer") from None
            if qid not in qids:
                raise PolyretError(f"{path}:{lineno}: unknown query id {qid!r}")
            if docid not in cids:
                raise PolyretError(f"{path}:{lineno}: unknown document id {docid!r}")
            if relevance > 0:
                qrels.setdefault(qid, set()).add(docid)
    return qrels


def load_generic(directory: Path, languages: list[str] | None = None, name: str | None = None) -> RetrievalBenchmark:
    """Read a generic-format benchmark; queries with no relevant document are dropped and counted in options."""
    root = Path(directory)
    if not root.is_dir():
        raise PolyretError(f"{root}: benchmark directory not found")
    for required in REQUIRED_FILES:
        if not (root / required).is_file():
            raise PolyretError(f"{root / required}: file not found (the generic format needs {', '.join(REQUIRED_FILES)})")
    corpus = _records(root / "corpus.jsonl")
    queries_raw = _records(root / "queries.jsonl")
    qrels = _qrels(root / "qrels.tsv", {q[0] for q in queries_raw}, {c[0] for c in corpus})
    queries = [Query(qid, text, lang) for qid, text, lang in queries_raw if qid in qrels]
    candidates = [Candidate(cid, text, lang) for cid, text, lang in corpus]
    files = {required: sha256_file(root / required) for required in REQUIRED_FILES}
    options = {"languages": None, "queries_without_relevant": len(queries_raw) - len(queries)}
    bench = RetrievalBenchmark(name or root.name, queries, candidates, qrels, files, options)
    bench = bench.restrict_languages(languages)
    bench.queries = [q for q in bench.queries if bench.qrels.get(q.id)]
    bench.validate()
    return bench
