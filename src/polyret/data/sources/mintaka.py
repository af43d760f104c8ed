"""Mintaka v1.0 dev: a JSON list of {id, question (English), translations {lang: text}}: parallel questions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from polyret.data.groups import Group
from polyret.data.jsonio import read_json, require_field
from polyret.data.sources.base import Reading, language
from polyret.errors import PolyretError


def read_mintaka(root: Path, ctx: Reading) -> Iterator[Group | str]:
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
        yield Group(f"{root.name}/{rid}", root.name, {language(lang): text for lang, text in texts.items()})
