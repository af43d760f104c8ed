"""A user's own training data: JSON lines, one group per line (`polyret train --train-file FILE`, repeatable).

    {"id": "q1", "queries": {"en": "who wrote it?", "de": "wer schrieb es?"},
     "passages": {"en": "It was written by ...", "de": "Geschrieben hat es ..."},
     "negatives": {"en": ["A passage that looks relevant but is not."]}}

- `id` (string or integer, unique in the file); the group id is `<file name>/<id>`.
- `queries`: language -> query text, at least one.
- `passages`: language -> the positive passage (may be `{}`: then, like parallel questions, the query in language
  B is the positive of the query in language A).
- `negatives` (optional): language -> hard negative passages; a batch example whose positive is in that language
  gets one of them as an extra candidate in the loss.
Language codes are free (a code outside the training languages is filtered like any source's). Every other field
is an error, so a typo (`negative`) cannot silently drop data. The file goes through the same cleaning, statistics
and leakage guard as the registered sources.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from polyret.data.groups import Group
from polyret.data.jsonio import read_jsonl
from polyret.errors import PolyretError

FIELDS = ("id", "queries", "passages", "negatives")


def read_train_file(path: Path) -> Iterator[Group]:
    """The groups of one file, in order; the first malformed line raises a PolyretError naming file, line, field."""
    path = Path(path)
    if not path.is_file():
        raise PolyretError(f"{path}: --train-file not found")
    seen: dict[str, str] = {}
    for where, record in read_jsonl(path):
        unknown = sorted(set(record) - set(FIELDS))
        if unknown:
            raise PolyretError(f"{where}: unknown field {unknown[0]!r} (a line holds {', '.join(FIELDS)})")
        rid = record.get("id")
        if isinstance(rid, int) and not isinstance(rid, bool):
            rid = str(rid)
        if not isinstance(rid, str) or not rid.strip():
            raise PolyretError(f"{where}: missing or invalid field 'id' (a non-empty string or an integer)")
        if rid in seen:
            raise PolyretError(f"{where}: id {rid!r} repeats the id of {seen[rid]}")
        seen[rid] = where
        queries = _texts(record, "queries", where, required=True)
        passages = _texts(record, "passages", where, required=False)
        negatives = _negatives(record.get("negatives"), where)
        yield Group(f"{path.name}/{rid}", path.name, queries, passages, {}, negatives)


def _texts(record: dict[str, Any], name: str, where: str, required: bool) -> dict[str, str]:
    value = record.get(name)
    if not isinstance(value, dict) or (required and not value):
        need = "a non-empty object" if required else "an object"
        raise PolyretError(f"{where}: missing or invalid field {name!r} ({need} of language: text)")
    for lang, text in value.items():
        if not lang.strip() or not isinstance(text, str):
            raise PolyretError(f"{where}: field {name}.{lang}: expected a text, got {json.dumps(text)[:40]}")
    return dict(value)


def _negatives(value: Any, where: str) -> dict[str, list[str]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PolyretError(f"{where}: field 'negatives': expected an object of language: [texts]")
    for lang, texts in value.items():
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            raise PolyretError(f"{where}: field negatives.{lang}: expected a list of texts")
    return {lang: list(texts) for lang, texts in value.items()}


def write_train_file(path: Path, groups: list[Group]) -> None:
    """Groups in this format (the inverse of `read_train_file`, up to the `<file name>/` id prefix)."""
    with open(path, "w", encoding="utf-8") as handle:
        for group in groups:
            record: dict[str, Any] = {"id": group.id.split("/", 1)[-1], "queries": group.queries,
                                      "passages": group.passages}
            if group.negatives:
                record["negatives"] = group.negatives
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
