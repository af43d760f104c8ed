"""MKQA parallel questions (MIA 2022 re-split): `dev/` and `test-questions/` mkqa-<lang>.jsonl.

One group per question id (the record id minus its `_<lang>` suffix) with a query per language and no passage:
the translation in language B is the positive of the query in language A.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from polyret.data.groups import Group
from polyret.data.jsonio import read_jsonl, require_field
from polyret.data.sources.base import Reading, language
from polyret.errors import PolyretError


def read_mkqa(root: Path, ctx: Reading) -> Iterator[Group | str]:
    questions: dict[str, dict[str, str]] = {}
    for part in ("dev", "test-questions"):
        files = sorted((root / part).glob("mkqa-*.jsonl"))
        if not files:
            raise PolyretError(f"{root / part}: no mkqa-<lang>.jsonl file found")
        for path in files:
            code = path.stem.removeprefix("mkqa-")
            if language(code) in ctx.languages:
                _read_file(ctx.open(path), code, questions)
    for qid, texts in questions.items():
        yield Group(f"{root.name}/{qid}", root.name, texts)


def _read_file(path: Path, code: str, questions: dict[str, dict[str, str]]) -> None:
    lang = language(code)
    for where, record in read_jsonl(path):
        rid = require_field(record, "id", str, where)
        if require_field(record, "lang", str, where) != code or not rid.endswith(f"_{code}"):
            raise PolyretError(f"{where}: id {rid!r} / lang {record['lang']!r} do not match the file's {code!r}")
        texts = questions.setdefault(rid.removesuffix(f"_{code}"), {})
        if lang in texts:
            raise PolyretError(f"{where}: id {rid!r} appears twice")
        texts[lang] = require_field(record, "question", str, where)
