"""Reader for MLQA-R as published by LAReQA (google-research-datasets/lareqa at 354d67d, mlqa-r/<lang>.json).

Same file format as XQuAD-R (data/xquad_r.py), different shape: 7 languages, and a question (its 40-hex MLQA id,
shared across languages) exists in only 2-4 of them, so its relevant set is its answer sentence in each language
where it exists. The pool is every sentence of every paragraph of every selected language, as LAReQA counts it
(20,534 for the 7 files). The articles are not aligned across languages (MLQA is built from Wikipedia articles,
each language file holds its own), which is why a subset is chosen by question, not by article position.

Rules for input the published files never contain, stated so that nothing is dropped silently:
- an answer_start outside every sentence break, a duplicate id within a file, a missing file: one-line error
  naming the file and the question id;
- with all 7 languages selected, a question present in one language only is an error naming the file and id
  (MLQA-R has none; such a file is not MLQA-R as published);
- with a language subset, a question present in one of the selected languages only keeps its single relevant
  candidate: it counts for Mul and for its own language's Mo cell, never for Cr.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from polyret.data.benchmark import Candidate, Query, RetrievalBenchmark
from polyret.data.xquad_r import _load_json, read_language, select_languages
from polyret.errors import PolyretError
from polyret.provenance import sha256_file

MLQA_R_LANGUAGES = ("ar", "de", "en", "es", "hi", "vi", "zh")
PIVOT = "en"
"""Every MLQA question has its English original: subsets are drawn over the English articles."""


def _question_ids(article: dict[str, Any]) -> set[str]:
    return {str(qa.get("id")) for para in article.get("paragraphs", []) if isinstance(para, dict)
            for qa in para.get("qas", []) if isinstance(qa, dict)}


def subset_ids(root: Path, articles: int) -> set[str]:
    """The question ids of the first `articles` English articles (the `--articles K` subset of MLQA-R)."""
    data = _load_json(root / f"{PIVOT}.json")["data"]
    if not 1 <= articles <= len(data):
        raise PolyretError(f"--articles: must be between 1 and {len(data)} (English MLQA-R articles), got {articles}")
    return set().union(*(_question_ids(article) for article in data[:articles]))


def load_mlqa_r(
    data_dir: Path,
    languages: list[str] | None = None,
    articles: int | None = None,
    context: bool = False,
) -> RetrievalBenchmark:
    """Read MLQA-R under `data_dir/mlqa-r`, restricted to `languages`.

    `articles K` keeps the questions of the first K English articles, in every selected language, and the pool of
    every article (in every language) that holds one of them: relevant sets stay whole (2-4), and the pool is the
    articles those questions come from.
    """
    root = Path(data_dir) / "mlqa-r"
    langs = select_languages(languages, MLQA_R_LANGUAGES, "MLQA-R")
    if not root.is_dir():
        raise PolyretError(f"{root}: MLQA-R directory not found (run `polyret data fetch --only mlqa-r` or pass "
                           "--data-dir)")
    wanted = subset_ids(root, articles) if articles is not None else None
    keep = None if wanted is None else (lambda article: bool(_question_ids(article) & wanted))

    queries: list[Query] = []
    candidates: list[Candidate] = []
    answers: dict[str, dict[str, str]] = {}
    files: dict[str, str] = {}
    for lang in langs:
        path = root / f"{lang}.json"
        _, q, c, answer_of = read_language(path, lang, None, context, keep)
        if wanted is not None:
            q = [query for query in q if query.id.split("/", 1)[1] in wanted]
            answer_of = {qid: cid for qid, cid in answer_of.items() if qid in wanted}
        queries.extend(q)
        candidates.extend(c)
        answers[lang] = answer_of
        files[f"mlqa-r/{lang}.json"] = sha256_file(path)

    if set(langs) == set(MLQA_R_LANGUAGES) and wanted is None:
        present = Counter(qid for answer_of in answers.values() for qid in answer_of)
        for lang in langs:
            lonely = sorted(qid for qid in answers[lang] if present[qid] == 1)
            if lonely:
                raise PolyretError(f"{root / f'{lang}.json'}: question id {lonely[0]} exists in this language only "
                                   f"({len(lonely)} such); MLQA-R questions exist in 2-4 languages")
    qrels: dict[str, set[str]] = {}
    for query in queries:
        qid = query.id.split("/", 1)[1]
        qrels[query.id] = {answer_of[qid] for answer_of in answers.values() if qid in answer_of}
    options = {"languages": langs, "articles": articles,
               "candidate_text": "sentence+paragraph" if context else "sentence",
               "relevant_set_sizes": relevant_set_sizes(qrels)}
    bench = RetrievalBenchmark("mlqa-r", queries, candidates, qrels, files, options)
    bench.validate()
    return bench


def relevant_set_sizes(qrels: dict[str, set[str]]) -> dict[str, int]:
    """How many queries have 1, 2, 3, ... relevant candidates (why MLQA-R's numbers differ from XQuAD-R's)."""
    counts = Counter(len(relevant) for relevant in qrels.values())
    return {str(size): counts[size] for size in sorted(counts)}
