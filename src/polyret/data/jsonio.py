"""Reading JSON and JSON-lines inputs with one-line errors that name the file, line and field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from polyret.errors import PolyretError


def read_json(path: Path) -> Any:
    """The parsed file; malformed JSON or non-UTF-8 bytes become a PolyretError naming the position."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except json.JSONDecodeError as err:
        raise PolyretError(f"{path}: malformed JSON at line {err.lineno}, column {err.colno}: {err.msg}") from None
    except UnicodeDecodeError as err:
        raise PolyretError(f"{path}: not UTF-8 ({err.reason} at byte {err.start})") from None


def read_jsonl(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """(`file:line`, record) for every non-blank line; each record must be a JSON object."""
    try:
        with open(path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                where = f"{path}:{number}"
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as err:
                    raise PolyretError(f"{where}: malformed JSON at column {err.colno}: {err.msg}") from None
                if not isinstance(record, dict):
                    raise PolyretError(f"{where}: expected a JSON object")
                yield where, record
    except UnicodeDecodeError as err:
        raise PolyretError(f"{path}: not UTF-8 ({err.reason} at byte {err.start})") from None


def require_field(record: Any, name: str, kind: type, where: str) -> Any:
    """record[name] if it is a `kind` (never a bool standing in for an int), else a PolyretError naming it."""
    value = record.get(name) if isinstance(record, dict) else None
    if not isinstance(value, kind) or isinstance(value, bool):
        raise PolyretError(f"{where}: missing or invalid field {name!r} (expected {kind.__name__})")
    return value
