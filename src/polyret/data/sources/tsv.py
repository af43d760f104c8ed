"""Plain-text inputs read line by line, with errors that name the file and line."""

from __future__ import annotations

from pathlib import Path

from polyret.errors import PolyretError


def read_lines(path: Path) -> list[str]:
    """The file's lines without their line ends (a missing final newline is fine); UTF-8 or a PolyretError."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise PolyretError(f"{path}: not UTF-8 ({err.reason} at byte {err.start})") from None
    return text.split("\n")[:-1] if text.endswith("\n") else text.split("\n")


def tsv_rows(path: Path, fields: tuple[str, ...]) -> list[list[str]]:
    """Every line split at tabs into exactly `fields`, none empty; the error names file, line and field."""
    rows = []
    for number, line in enumerate(read_lines(path), 1):
        parts = line.split("\t")
        if len(parts) != len(fields):
            raise PolyretError(f"{path}:{number}: expected {len(fields)} tab-separated fields "
                               f"({', '.join(fields)}), got {len(parts)}")
        for name, value in zip(fields, parts):
            if not value.strip():
                raise PolyretError(f"{path}:{number}: empty field {name!r}")
        rows.append(parts)
    return rows
