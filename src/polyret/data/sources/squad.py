"""Native QA in SQuAD v1.1 JSON (ARCD ar, TQuAD tr, CMRC 2018 zh): question -> the sentence(s) holding the answer.

The paragraph is kept as the passage's context. `Passages` (shared with iApp's JSON lines) splits each distinct
paragraph once and turns an answer into its covering sentence(s).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal

from polyret.data.groups import Group
from polyret.data.jsonio import read_json, require_field
from polyret.data.sentences import Span, covering_span, sentence_spans
from polyret.data.sources.base import Reader, Reading
from polyret.errors import PolyretError

_APOSTROPHE = re.compile("['‘’ʼ`´]")


def locate_answer(context: str, answer: str, start: int) -> Span | None:
    """The answer's span: at `answer_start` when it is there, else its nearest occurrence.

    Upstream offsets drift (TQuAD, a few ARCD/CMRC records): shifted by a few characters, or the answer
    typed with other spacing, case or apostrophes than the paragraph. None when the text is nowhere.
    """
    if context.startswith(answer, start):
        return start, start + len(answer)
    pattern = r"\s+".join(_APOSTROPHE.sub(_APOSTROPHE.pattern, re.escape(token)) for token in answer.split())
    found = [m.span() for m in re.finditer(pattern, context, re.IGNORECASE)]
    return min(found, key=lambda span: abs(span[0] - start)) if found else None


class Passages:
    """Answer sentence(s) of a paragraph, splitting each distinct paragraph once.

    A record without answer text is dropped (counted as "empty answers"), or with `unanswered="passage"` (a gold
    passage task, where the paragraph itself is the answer) its whole paragraph is the positive.
    """

    def __init__(self, lang: str, unanswered: Literal["drop", "passage"] = "drop") -> None:
        self.lang = lang
        self.unanswered = unanswered
        self._spans: dict[str, list[Span]] = {}

    def group(self, gid: str, source: str, question: str, context: str, answer: str, start: int,
              where: str) -> Group | str:
        if not 0 <= start < len(context):
            raise PolyretError(f"{where}: answer_start {start} lies outside the context (length {len(context)})")
        if not answer.strip():
            if self.unanswered == "passage" and context.strip():
                return Group(gid, source, {self.lang: question}, {self.lang: context.strip()}, {self.lang: context})
            return "empty answers"
        span = locate_answer(context, answer, start)
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


def squad_file(path: Path, source: str, record_id: RecordId, passages: Passages) -> Iterator[Group | str]:
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


def squad_reader(lang: str, files: Callable[[Path], list[Path]], record_id: RecordId) -> Reader:
    """A reader of one language's SQuAD JSON files (`files` lists them under the source's directory)."""

    def read(root: Path, ctx: Reading) -> Iterator[Group | str]:
        if lang not in ctx.languages:
            return
        passages = Passages(lang)
        for path in files(root):
            yield from squad_file(ctx.open(path), root.name, record_id, passages)

    return read


def by_qa_id(path: Path, qid: str, a: int, p: int, q: int) -> str:
    return qid


def tquad_files(root: Path) -> list[Path]:
    """All TQuAD pieces: the upstream files overlap, which deduplication by question text absorbs."""
    files = sorted(root.glob("*.json"))
    if not files:
        raise PolyretError(f"{root}: no TQuAD *.json file found")
    return files


def by_position(path: Path, qid: str, a: int, p: int, q: int) -> str:
    """TQuAD ids repeat across and even inside files, so its record id is the position in the file."""
    return f"{path.stem}/{a}.{p}.{q}"


read_arcd = squad_reader("ar", lambda root: [root / "arcd.json"], by_qa_id)
read_cmrc2018 = squad_reader("zh", lambda root: [root / "cmrc2018_dev.json", root / "cmrc2018_trial.json"], by_qa_id)
read_tquad = squad_reader("tr", tquad_files, by_position)
