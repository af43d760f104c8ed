"""The data registry names every file of the data root with its public home and checksum."""

from __future__ import annotations

from pathlib import Path

from polyret.data.sources import expected_sha256, registry, upstream_url
from polyret.provenance import sha256_file


def test_every_data_file_is_registered_with_its_checksum(data_dir: Path) -> None:
    on_disk = {str(p.relative_to(data_dir)) for p in data_dir.rglob("*") if p.is_file()} - {"MANIFEST.md"}
    assert on_disk == {e["path"] for e in registry()}
    for entry in registry():
        assert sha256_file(data_dir / entry["path"]) == entry["sha256"], entry["path"]


def test_upstream_addresses() -> None:
    entry = next(e for e in registry() if e["path"] == "xquad-r/en.json")
    assert upstream_url(entry) == "https://raw.githubusercontent.com/google-research-datasets/lareqa/master/xquad-r/en.json"
    assert all(upstream_url(e) for e in registry() if not e.get("note"))
    assert expected_sha256("nope") is None
