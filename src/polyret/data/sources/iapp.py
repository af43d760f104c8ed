"""iApp Wiki QA Thai (squad_format/data.zip): one JSON object per line, answers as parallel lists."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from polyret.data.groups import Group
from polyret.data.jsonio import read_jsonl, require_field
from polyret.data.sources.base import Reading
from polyret.data.sources.squad import Passages
from polyret.errors import PolyretError


def read_iapp(root: Path, ctx: Reading) -> Iterator[Group | str]:
    if "th" not in ctx.languages:
        return
    passages = Passages("th")
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
