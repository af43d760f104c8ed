"""Where the dev Tatoeba files (LASER's test sets) lie in a data root: dev/tatoeba/tatoeba.<xxx>-eng.<side>."""

from __future__ import annotations

from pathlib import Path


def tatoeba_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "dev" / "tatoeba"


def tatoeba_file(data_dir: Path, code: str, side: str | None = None) -> Path:
    """The `code`-English pair file's `code` side (or its `eng` side with side="eng"); code is ISO 639-3."""
    return tatoeba_dir(data_dir) / f"tatoeba.{code}-eng.{side or code}"
