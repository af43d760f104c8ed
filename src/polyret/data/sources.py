"""Where every data file comes from publicly (repository, commit, path, licence) and its expected sha256."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any


@lru_cache(maxsize=1)
def registry() -> list[dict[str, Any]]:
    """Entries of `sources.json`, one per file of the data root (path relative to the root)."""
    text = resources.files("polyret.data").joinpath("sources.json").read_text(encoding="utf-8")
    return list(json.loads(text)["files"])


def expected_sha256(path: str) -> str | None:
    for entry in registry():
        if entry["path"] == path:
            return str(entry["sha256"])
    return None


def upstream_url(entry: dict[str, Any]) -> str | None:
    """Raw download address of an entry's upstream file (a zip archive for entries with `archive_member`)."""
    if not entry.get("upstream_path"):
        return None
    ref = entry.get("commit") or entry.get("ref") or "master"
    return f"https://raw.githubusercontent.com/{entry['repo']}/{ref}/{entry['upstream_path']}"
