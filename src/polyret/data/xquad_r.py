"""Reader for XQuAD-R as published by LAReQA (google-research-datasets/lareqa, xquad-r/<lang>.json).

Each file is SQuAD v1.1 JSON with `sentences` and `sentence_breaks` per paragraph. The candidate pool is every
sentence of every selected language; a question's relevant candidates are, in each language, the sentence whose
[start, end) break holds the answer's `answer_start`. Question ids are shared across the 11 languages, which is
what makes the 11 relevant candidates of one question.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from polyret.data.benchmark import Candidate, Query, RetrievalBenchmark
from polyret.data.jsonio import read_json, require_field
from polyret.errors import PolyretError
from polyret.provenance import sha256_file

XQUAD_R_LANGUAGES = ("ar", "de", "el", "en", "es", "hi", "ru", "th", "tr", "vi", "zh")
XQUAD_R_ARTICLES = 48
SOURCE_URL = "https://github.com/google-research-datasets/lareqa/raw/master/xquad-r/{lang}.json"


def _load_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise PolyretError(f"{path}: file not found (expected {path.parent.name}/<lang>.json under --data-dir; "
                           "`polyret data fetch` brings it)")
    data = read_json(path)
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise PolyretError(f"{path}: expected a SQuAD JSON object with a 'data' list")
    return data


def read_language(
    path: Path, lang: str, articles: int | None, context: bool, keep: Callable[[dict[str, Any]], bool] | None = None,
) -> tuple[list[str], list[Query], list[Candidate], dict[str, str]]:
    """Titles, queries, candidates and question-id -> relevant candidate id for one LAReQA language file.

    `articles` keeps the first K articles; `keep` (MLQA-R's subsets) keeps the articles it accepts.
    """
    data = _load_json(path)["data"]
    if articles is not None:
        data = data[:articles]
    if keep is not None:
        data = [article for article in data if keep(article)]
    titles: list[str] = []
    queries: list[Query] = []
    candidates: list[Candidate] = []
    answer_of: dict[str, str] = {}
    for a_idx, article in enumerate(data):
        where_a = f"{path}: data[{a_idx}]"
        titles.append(str(article.get("title", "")) if isinstance(article, dict) else "")
        for p_idx, para in enumerate(require_field(article, "paragraphs", list, where_a)):
            where_p = f"{where_a}.paragraphs[{p_idx}]"
            sentences = require_field(para, "sentences", list, where_p)
            breaks = require_field(para, "sentence_breaks", list, where_p)
            paragraph = require_field(para, "context", str, where_p)
            if len(sentences) != len(breaks):
                raise PolyretError(
                    f"{where_p}: {len(sentences)} sentences but {len(breaks)} sentence_breaks"
                )
            ids = []
            for s_idx, (sentence, brk) in enumerate(zip(sentences, breaks)):
                if not isinstance(sentence, str) or not (
                    isinstance(brk, list) and len(brk) == 2 and all(isinstance(x, int) for x in brk)
                ):
                    raise PolyretError(f"{where_p}: sentence {s_idx} or its break [start, end] is malformed")
                cid = f"{lang}/{a_idx}/{p_idx}/{s_idx}"
                ids.append(cid)
                candidates.append(Candidate(cid, sentence, lang, paragraph if context else None))
            for q_idx, qa in enumerate(require_field(para, "qas", list, where_p)):
                where_q = f"{where_p}.qas[{q_idx}]"
                qid = require_field(qa, "id", str, where_q)
                question = require_field(qa, "question", str, f"{where_q} (id {qid})")
                answers = require_field(qa, "answers", list, f"{where_q} (id {qid})")
                if not answers or not isinstance(answers[0], dict) or not isinstance(
                    answers[0].get("answer_start"), int
                ):
                    raise PolyretError(f"{where_q} (id {qid}): missing answers[0].answer_start")
                start = answers[0]["answer_start"]
                hit = [i for i, (b, e) in enumerate(breaks) if b <= start < e]
                if not hit:
                    raise PolyretError(
                        f"{where_q} (id {qid}): answer_start {start} lies outside every sentence break"
                    )
                if qid in answer_of:
                    raise PolyretError(f"{where_q}: duplicate question id {qid!r} in {path.name}")
                answer_of[qid] = ids[hit[0]]
                queries.append(Query(f"{lang}/{qid}", question, lang))
    return titles, queries, candidates, answer_of


def select_languages(languages: list[str] | None, available: tuple[str, ...], name: str) -> list[str]:
    """The --languages selection of a LAReQA benchmark (all by default), each known and named once."""
    langs = list(languages) if languages else list(available)
    unknown = [lang for lang in langs if lang not in available]
    if unknown:
        raise PolyretError(f"--languages: unknown language code {unknown[0]!r} for {name}; "
                           f"available: {','.join(available)}")
    if len(set(langs)) != len(langs):
        raise PolyretError(f"--languages: a language is named twice in {','.join(langs)}")
    return langs


def load_xquad_r(
    data_dir: Path,
    languages: list[str] | None = None,
    articles: int | None = None,
    context: bool = False,
) -> RetrievalBenchmark:
    """Read XQuAD-R under `data_dir/xquad-r`, restricted to `languages` and the first `articles` articles.

    The articles are aligned across the 11 files (same order, same questions), which is what makes the
    `first K articles` subset deterministic and comparable across languages; the reader checks it.
    """
    root = Path(data_dir) / "xquad-r"
    langs = select_languages(languages, XQUAD_R_LANGUAGES, "XQuAD-R")
    if articles is not None and not 1 <= articles <= XQUAD_R_ARTICLES:
        raise PolyretError(f"--articles: must be between 1 and {XQUAD_R_ARTICLES}, got {articles}")
    if not root.is_dir():
        raise PolyretError(f"{root}: XQuAD-R directory not found (run `polyret data fetch` or pass --data-dir)")

    queries: list[Query] = []
    candidates: list[Candidate] = []
    per_lang_answers: dict[str, dict[str, str]] = {}
    files: dict[str, str] = {}
    reference_titles: tuple[str, list[str]] | None = None
    for lang in langs:
        path = root / f"{lang}.json"
        titles, q, c, answers = read_language(path, lang, articles, context)
        if reference_titles is None:
            reference_titles = (lang, titles)
        elif len(titles) != len(reference_titles[1]):
            raise PolyretError(
                f"{path}: {len(titles)} articles where {reference_titles[0]}.json has {len(reference_titles[1])}; "
                "the files are not aligned"
            )
        queries.extend(q)
        candidates.extend(c)
        per_lang_answers[lang] = answers
        files[f"xquad-r/{lang}.json"] = sha256_file(path)

    # A question's relevant set: its answer sentence in every selected language that has the question.
    qrels: dict[str, set[str]] = {}
    for query in queries:
        qid = query.id.split("/", 1)[1]
        qrels[query.id] = {ans[qid] for ans in per_lang_answers.values() if qid in ans}
    options = {"languages": langs, "articles": articles, "candidate_text": "sentence+paragraph" if context else "sentence"}
    bench = RetrievalBenchmark("xquad-r", queries, candidates, qrels, files, options)
    bench.validate()
    return bench
