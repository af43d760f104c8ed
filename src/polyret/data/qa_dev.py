"""qa-dev: a question -> answer-sentence development set from the native QA training sources.

Why it exists: the development sets at hand, dev/tatoeba and ntrex-dev, are translation retrieval, and they
cannot see what XQuAD-R rewards in a question -> answer-sentence task (results/levers-probe, third round: they
never chose a heavier distillation weight, XQuAD-R's Mo and Mul rose with it). qa-dev is that task, from sources
that are neither evaluation sets nor, in the controlled design, training data: ARCD (ar), TQuAD (tr), CMRC 2018
(zh) and iApp Thai (th), read by the training readers, so the same cleaning and the reviewed evaluation overlaps
apply.

Per language, the questions of the first paragraphs in reading order until `questions_per_language` is reached
(whole paragraphs, so every question's paragraph is complete in the pool). Pool: every sentence of those
paragraphs in the four languages (equal sentences of one language are one candidate). Relevant: the sentence(s)
holding the answer, in the question's language only (the sources are not parallel), so the score that means
something is **Mo mAP** (each question ranks its own language's sentences); Mul mixes languages with monolingual
relevance, which rewards language bias, and Cr is undefined. A question or sentence the zero-shot guard
(data/leakage.py) finds equal or near-equal to an XQuAD-R or MLQA-R text is left out (`options.leaked`), so
nothing of an evaluation set reaches model selection.

A model whose training batches drew from any of these sources is refused wherever qa-dev scores it (`built_from`,
data/held_out.py): a development set a model trained on chooses nothing. That holds for the practical design,
which trains on all four sources.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from polyret.data.benchmark import Candidate, Query, RetrievalBenchmark
from polyret.data.groups import Group
from polyret.data.leakage import TextRecord, check_leakage, evaluation_texts, normalize_text
from polyret.data.sentences import sentence_spans
from polyret.data.training import load_training_groups
from polyret.errors import PolyretError

NAME = "qa-dev"
SOURCES = {"arcd": "ar", "tquad": "tr", "cmrc2018": "zh", "iapp-wiki-qa-thai": "th"}
QUESTIONS_PER_LANGUAGE = 1000


def load_qa_dev(data_dir: Path, questions_per_language: int | None = None,
                guard: bool = True) -> RetrievalBenchmark:
    """The qa-dev benchmark (see the module docstring); `guard=False` skips the evaluation-overlap check (tests
    with a data root that has no evaluation set)."""
    per_language = QUESTIONS_PER_LANGUAGE if questions_per_language is None else questions_per_language
    if per_language < 1:
        raise PolyretError(f"qa-dev: --articles (questions per language) must be at least 1, got {per_language}")
    data = load_training_groups(Path(data_dir), sources=list(SOURCES), languages=sorted(set(SOURCES.values())))
    queries: list[Query] = []
    candidates: list[Candidate] = []
    qrels: dict[str, set[str]] = {}
    skipped: Counter[str] = Counter()
    for source, lang in SOURCES.items():
        chosen = _first_paragraphs([g for g in data.groups if g.source == source], lang, per_language)
        by_text: dict[str, str] = {}  # normalised sentence -> its candidate id (one candidate per equal sentence)
        for p, (context, groups) in enumerate(chosen):
            ids = []
            spans = sentence_spans(context, lang)
            for s, (start, end) in enumerate(spans):
                text = context[start:end]
                key = normalize_text(text) or text
                if key not in by_text:
                    by_text[key] = f"{lang}:{p}.{s}"
                    candidates.append(Candidate(by_text[key], text, lang))
                ids.append(by_text[key])
            for group in groups:
                relevant = _answer_sentences(context, group.passages[lang], spans)
                if not relevant:
                    skipped["answer not at a sentence boundary"] += 1
                    continue
                queries.append(Query(f"{lang}/{group.id}", group.queries[lang], lang))
                qrels[queries[-1].id] = {ids[i] for i in relevant}
    leaked = _drop_leaked(queries, candidates, qrels, data_dir) if guard else {}
    options: dict[str, Any] = {"questions_per_language": per_language, "sources": SOURCES,
                               "skipped": dict(skipped), "leaked": leaked, "guard": guard,
                               "score": "mo_map (relevance is monolingual)"}
    bench = RetrievalBenchmark(NAME, queries, candidates, qrels, data.files, options, frozenset(SOURCES))
    bench.validate()
    return bench


def _first_paragraphs(groups: list[Group], lang: str, limit: int) -> list[tuple[str, list[Group]]]:
    """Whole paragraphs in reading order, with their questions, until `limit` questions are taken."""
    paragraphs: dict[str, list[Group]] = {}
    taken = 0
    for group in groups:
        context = group.contexts.get(lang)
        if context is None or lang not in group.queries or lang not in group.passages:
            continue
        if context not in paragraphs:
            if taken >= limit:
                break
            paragraphs[context] = []
        paragraphs[context].append(group)
        taken += 1
    return list(paragraphs.items())


def _answer_sentences(context: str, passage: str, spans: list[tuple[int, int]]) -> list[int]:
    """Indices of the sentences that make up `passage` (the reader's covering sentences of the answer)."""
    start = context.find(passage)
    if start < 0:
        return []
    end = start + len(passage)
    inside = [i for i, (s, e) in enumerate(spans) if start <= s and e <= end]
    if not inside or spans[inside[0]][0] != start or spans[inside[-1]][1] != end:
        return []
    return inside


def _drop_leaked(queries: list[Query], candidates: list[Candidate], qrels: dict[str, set[str]],
                 data_dir: Path) -> dict[str, int]:
    """Remove every question and sentence the zero-shot guard matches to an evaluation text, in place; a question
    whose relevant sentences all go goes too. Returns what was removed, by kind."""
    texts = ([TextRecord(q.id, "query", q.lang, q.text) for q in queries]
             + [TextRecord(c.id, "sentence", c.lang, c.text) for c in candidates])
    report = check_leakage(texts, evaluation_texts(Path(data_dir)))
    hit = {h.training.id for h in report.hits}
    n_candidates = len(candidates)
    candidates[:] = [c for c in candidates if c.id not in hit]
    kept = []
    for q in queries:
        qrels[q.id] -= hit
        if q.id in hit or not qrels[q.id]:
            del qrels[q.id]
        else:
            kept.append(q)
    dropped = {"questions": len(queries) - len(kept), "sentences": n_candidates - len(candidates)}
    queries[:] = kept
    return dropped
