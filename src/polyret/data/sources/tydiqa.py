"""TyDi QA GoldP v1.1 dev (XTREME's SQuAD JSON), native questions in ar, ru and en: `tydiqa.goldp.<lang>.dev.json`.

Like ARCD, question -> the sentence(s) holding the answer with the paragraph as context, where the record has
an answer. The copy at hand carries none (every answer is "" at offset 0, `polyret data stats` counts them), so
there the positive is the whole gold passage: by construction of GoldP the passage that answers the question.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from polyret.data.groups import Group
from polyret.data.sources.base import Reading
from polyret.data.sources.squad import Passages, by_qa_id, squad_file

LANGUAGES = ("ar", "ru", "en")


def read_tydiqa(root: Path, ctx: Reading) -> Iterator[Group | str]:
    for lang in LANGUAGES:
        if lang in ctx.languages:
            path = ctx.open(root / f"tydiqa.goldp.{lang}.dev.json")
            yield from squad_file(path, root.name, by_qa_id, Passages(lang, unanswered="passage"))
