"""Where every data file comes from publicly (repository, commit, path, licence) and its expected sha256."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any
from urllib.parse import quote

GITHUB_RAW = "https://raw.githubusercontent.com"


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


def upstream_url(entry: dict[str, Any], base_url: str = GITHUB_RAW) -> str | None:
    """Raw download address of an entry's upstream file (a zip archive for entries with `archive_member`).

    `base_url` lets a mirror (or a test server) serve the same `<repo>/<ref>/<path>` tree as GitHub's raw host.
    """
    if not entry.get("upstream_path"):
        return None
    ref = entry.get("commit") or entry.get("ref") or "master"
    return f"{base_url.rstrip('/')}/{entry['repo']}/{ref}/{quote(entry['upstream_path'])}"
