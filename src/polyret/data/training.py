"""Training sources under DATA_ROOT/train, read in their published formats, as groups (DESIGN.md section 1).

- Native QA in SQuAD v1.1 JSON (ARCD ar, TQuAD tr, CMRC 2018 zh) and iApp Thai JSON lines: one group per question,
  with the question as query and the sentence(s) holding the answer as passage, in one language; the paragraph
  is kept in `contexts`.
- Parallel questions (MKQA, Mintaka): one group per question with a query per language and no passage; the
  translation in language B is the positive for the query in language A.

Every group id is `<source>/<record id>`. A text that an earlier group of the same source already has (same role,
language and normalised text) is removed, since two groups sharing a text in one batch make a false negative;
a group left without a (query, positive) pair is dropped. Every drop is counted, so `stats` says exactly what
training will see.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from polyret.data.groups import Group
from polyret.data.leakage import normalize_text
from polyret.data.sentences import Span, covering_span, sentence_spans
from polyret.data.xquad_r import XQUAD_R_LANGUAGES
from polyret.data.jsonio import read_json, read_jsonl, require_field
from polyret.errors import PolyretError
from polyret.provenance import sha256_file

SOURCES = ("arcd", "tquad", "cmrc2018", "iapp-wiki-qa-thai", "mkqa", "mintaka")
_LANGUAGE_ALIASES = {"zh_cn": "zh"}
_APOSTROPHE = re.compile("['‘’ʼ`´]")


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

    @property
    def files(self) -> dict[str, str]:
        """Every file read, relative to the data root, with its sha256: what a training run must cite."""
        return {path: digest for stats in self.stats.values() for path, digest in stats.files.items()}


# A reader yields groups (unfiltered) or why it skipped a record (a `dropped` counter name).
Reader = Callable[[Path, "_Reading"], Iterator["Group | str"]]


@dataclass
class _Reading:
    """What every reader of one source needs: the data root, the languages kept, and the files it read."""

    data_dir: Path
    languages: frozenset[str]
    files: dict[str, str]

    def open(self, path: Path) -> Path:
        """Check the file exists and record its checksum."""
        if not path.is_file():
            raise PolyretError(f"{path}: file not found (training data expected under <data-dir>/train)")
        self.files[path.relative_to(self.data_dir).as_posix()] = sha256_file(path)
        return path


def load_training_groups(
    data_dir: Path,
    sources: list[str] | None = None,
    languages: list[str] | None = None,
    distinct_passages: bool = False,
) -> TrainingData:
    """Read `sources` (default: all) keeping texts in `languages` (default: the 11 XQuAD-R languages).

    Several questions of a paragraph often share their answer sentence. By default all such groups are kept
    (the batch sampler never puts two identical positives in one batch, where one would be a false negative
    for the other); with `distinct_passages` only the first is kept, so no two groups share a text.
    """
    data_dir = Path(data_dir)
    chosen = list(sources) if sources else list(SOURCES)
    unknown = [s for s in chosen if s not in SOURCES]
    if unknown:
        raise PolyretError(f"--sources: unknown training source {unknown[0]!r}; available: {','.join(SOURCES)}")
    if len(set(chosen)) != len(chosen):
        raise PolyretError(f"--sources: a source is named twice in {','.join(chosen)}")
    langs = list(languages) if languages else list(XQUAD_R_LANGUAGES)
    if not (data_dir / "train").is_dir():
        raise PolyretError(f"{data_dir / 'train'}: training data directory not found (pass --data-dir)")
    groups: list[Group] = []
    stats: dict[str, SourceStats] = {}
    for source in chosen:
        reading = _Reading(data_dir, frozenset(langs), {})
        items = _READERS[source](data_dir / "train" / source, reading)
        kept, stats[source] = _clean(items, reading.languages, distinct_passages)
        stats[source].files = reading.files
        groups.extend(kept)
    return TrainingData(groups, stats, langs)


def _clean(
    items: Iterable[Group | str], languages: frozenset[str], distinct_passages: bool
) -> tuple[list[Group], SourceStats]:
    """Keep the languages asked for, drop empty and repeated texts, then groups left without a pair; count."""
    stats = SourceStats()
    seen: set[tuple[str, str, str]] = set()  # (role, language, normalised text) of the groups kept
    kept: list[Group] = []
    for item in items:
        if isinstance(item, str):
            stats.dropped[item] += 1
            continue
        if not languages.intersection(item.queries) and not languages.intersection(item.passages):
            continue  # nothing in the languages asked for: filtered out, not dropped
        queries = _keep(item.queries, "query", languages, seen, stats, check=True)
        passages = _keep(item.passages, "passage", languages, seen, stats, check=distinct_passages)
        group = Group(item.id, item.source, _plain(queries), _plain(passages),
                      {lang: text for lang, text in item.contexts.items() if lang in passages})
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


# ---------------------------------------------------------------------------------------------- file access


def _language(code: str) -> str:
    return _LANGUAGE_ALIASES.get(code, code)


# ----------------------------------------------------------------------------------------------- native QA


def _locate_answer(context: str, answer: str, start: int) -> Span | None:
    """The answer's span: at `answer_start` when it is there, else its nearest occurrence.

    Upstream offsets drift (TQuAD, a few ARCD/CMRC records): shifted by a few characters, or the answer
    typed with other spacing, case or apostrophes than the paragraph. None when the text is nowhere.
    """
    if context.startswith(answer, start):
        return start, start + len(answer)
    pattern = r"\s+".join(_APOSTROPHE.sub(_APOSTROPHE.pattern, re.escape(token)) for token in answer.split())
    found = [m.span() for m in re.finditer(pattern, context, re.IGNORECASE)]
    return min(found, key=lambda span: abs(span[0] - start)) if found else None


class _Passages:
    """Answer sentence(s) of a paragraph, splitting each distinct paragraph once."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self._spans: dict[str, list[Span]] = {}

    def group(self, gid: str, source: str, question: str, context: str, answer: str, start: int,
              where: str) -> Group | str:
        if not 0 <= start < len(context):
            raise PolyretError(f"{where}: answer_start {start} lies outside the context (length {len(context)})")
        if not answer.strip():
            return "empty answers"
        span = _locate_answer(context, answer, start)
        if span is None:
            return "answers not in context"
        if context not in self._spans:
            self._spans[context] = sentence_spans(context, self.lang)
        sentences = covering_span(self._spans[context], *span)
        if sentences is None:
            return "answers not in context"
        passage = context[sentences[0]:sentences[1]]
        return Group(gid, source, {self.lang: question}, {self.lang: passage}, {self.lang: context})


RecordId = Callable[[Path, str, int, int, int], str]  # (file, qa id, article, paragraph, qa) -> record id


def _squad_file(path: Path, source: str, record_id: RecordId, passages: _Passages) -> Iterator[Group | str]:
    """SQuAD v1.1 JSON: data[].paragraphs[].{context, qas[].{id, question, answers[0].{text, answer_start}}}."""
    data = read_json(path)
    articles = data.get("data") if isinstance(data, dict) else None
    if not isinstance(articles, list):
        raise PolyretError(f"{path}: expected a SQuAD JSON object with a 'data' list")
    for a, article in enumerate(articles):
        for p, para in enumerate(require_field(article, "paragraphs", list, f"{path}: data[{a}]")):
            where_p = f"{path}: data[{a}].paragraphs[{p}]"
            context = require_field(para, "context", str, where_p)
            for q, qa in enumerate(require_field(para, "qas", list, where_p)):
                where = f"{where_p}.qas[{q}]"
                if not isinstance(qa, dict) or not isinstance(qa.get("id"), (str, int)):
                    raise PolyretError(f"{where}: missing or invalid field 'id'")
                where = f"{where} (id {qa['id']})"
                question = require_field(qa, "question", str, where)
                answers = require_field(qa, "answers", list, where)
                if not answers:
                    raise PolyretError(f"{where}: empty 'answers'")
                answer = require_field(answers[0], "text", str, f"{where}.answers[0]")
                start = require_field(answers[0], "answer_start", int, f"{where}.answers[0]")
                gid = f"{source}/{record_id(path, str(qa['id']), a, p, q)}"
                yield passages.group(gid, source, question, context, answer, start, where)


def _squad_reader(lang: str, files: Callable[[Path], list[Path]], record_id: RecordId) -> Reader:
    def read(root: Path, ctx: _Reading) -> Iterator[Group | str]:
        if lang not in ctx.languages:
            return
        passages = _Passages(lang)
        for path in files(root):
            yield from _squad_file(ctx.open(path), root.name, record_id, passages)

    return read


def _tquad_files(root: Path) -> list[Path]:
    """All TQuAD pieces: the upstream files overlap, which deduplication by question text absorbs."""
    files = sorted(root.glob("*.json"))
    if not files:
        raise PolyretError(f"{root}: no TQuAD *.json file found")
    return files


def _read_iapp(root: Path, ctx: _Reading) -> Iterator[Group | str]:
    """iApp Wiki QA (squad_format/data.zip): one JSON object per line, answers as parallel lists."""
    if "th" not in ctx.languages:
        return
    passages = _Passages("th")
    for split in ("train", "valid", "test"):
        for where, record in read_jsonl(ctx.open(root / f"{split}.jsonl")):
            qid = require_field(record, "question_id", str, where)
            where = f"{where} (question_id {qid})"
            question = require_field(record, "question", str, where)
            context = require_field(record, "context", str, where)
            answers = require_field(record, "answers", dict, where)
            texts = require_field(answers, "text", list, f"{where}.answers")
            starts = require_field(answers, "answer_start", list, f"{where}.answers")
            if not texts or not starts or not isinstance(texts[0], str) or type(starts[0]) is not int:
                raise PolyretError(f"{where}: answers.text[0] / answers.answer_start[0] missing or invalid")
            yield passages.group(f"{root.name}/{qid}", root.name, question, context, texts[0], starts[0], where)


# ------------------------------------------------------------------------------------- parallel questions


def _read_mkqa(root: Path, ctx: _Reading) -> Iterator[Group | str]:
    """MKQA (MIA 2022 re-split): `dev/` and `test-questions/` mkqa-<lang>.jsonl, aligned by id minus `_<lang>`."""
    questions: dict[str, dict[str, str]] = {}
    for part in ("dev", "test-questions"):
        files = sorted((root / part).glob("mkqa-*.jsonl"))
        if not files:
            raise PolyretError(f"{root / part}: no mkqa-<lang>.jsonl file found")
        for path in files:
            code = path.stem.removeprefix("mkqa-")
            if _language(code) in ctx.languages:
                _read_mkqa_file(ctx.open(path), code, questions)
    for qid, texts in questions.items():
        yield Group(f"{root.name}/{qid}", root.name, texts)


def _read_mkqa_file(path: Path, code: str, questions: dict[str, dict[str, str]]) -> None:
    lang = _language(code)
    for where, record in read_jsonl(path):
        rid = require_field(record, "id", str, where)
        if require_field(record, "lang", str, where) != code or not rid.endswith(f"_{code}"):
            raise PolyretError(f"{where}: id {rid!r} / lang {record['lang']!r} do not match the file's {code!r}")
        texts = questions.setdefault(rid.removesuffix(f"_{code}"), {})
        if lang in texts:
            raise PolyretError(f"{where}: id {rid!r} appears twice")
        texts[lang] = require_field(record, "question", str, where)


def _read_mintaka(root: Path, ctx: _Reading) -> Iterator[Group | str]:
    """Mintaka v1.0: a JSON list of {id, question (English), translations {lang: text}}."""
    path = ctx.open(root / "mintaka_dev.json")
    records = read_json(path)
    if not isinstance(records, list):
        raise PolyretError(f"{path}: expected a JSON list of questions")
    for index, record in enumerate(records):
        where = f"{path}: record {index}"
        rid = require_field(record, "id", str, where)
        where = f"{where} (id {rid})"
        translations = require_field(record, "translations", dict, where)
        bad = [lang for lang, text in translations.items() if not isinstance(text, str)]
        if bad:
            raise PolyretError(f"{where}: translation {bad[0]!r} is not a string")
        texts = {"en": require_field(record, "question", str, where), **translations}
        yield Group(f"{root.name}/{rid}", root.name, {_language(lang): text for lang, text in texts.items()})


_READERS: dict[str, Reader] = {
    "arcd": _squad_reader("ar", lambda root: [root / "arcd.json"], lambda path, qid, a, p, q: qid),
    "cmrc2018": _squad_reader(
        "zh", lambda root: [root / "cmrc2018_dev.json", root / "cmrc2018_trial.json"], lambda path, qid, a, p, q: qid
    ),
    # TQuAD ids repeat across and even inside files, so its record id is the position in the file.
    "tquad": _squad_reader("tr", _tquad_files, lambda path, qid, a, p, q: f"{path.stem}/{a}.{p}.{q}"),
    "iapp-wiki-qa-thai": _read_iapp,
    "mkqa": _read_mkqa,
    "mintaka": _read_mintaka,
}


def stats_json(data: TrainingData) -> dict[str, Any]:
    """The statistics as plain JSON types (pairs keyed `query-positive`)."""
    return {
        "languages": data.languages,
        "groups": len(data.groups),
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
