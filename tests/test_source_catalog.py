"""The one list of training sources: every registered source is fetchable (its files registered with checksums),
and stats, leakage and training read the same list."""

from __future__ import annotations

from pathlib import Path

from polyret.data.sources import registry
from polyret.data.sources.catalog import REGISTRY, SOURCES
from polyret.data.training import load_training_groups


def test_every_source_has_its_files_registered_for_fetch() -> None:
    paths = [entry["path"] for entry in registry()]
    for source in REGISTRY:
        assert any(path.startswith(source.directory + "/") for path in paths), source.name


def test_training_reads_the_catalog_in_order_and_cites_only_registered_files(data_dir: Path) -> None:
    data = load_training_groups(data_dir)
    assert tuple(data.stats) == SOURCES
    registered = {entry["path"] for entry in registry()}
    assert set(data.files) <= registered
    for name in SOURCES:
        assert any(path.startswith(f"train/{name}/") for path in data.stats[name].files), name
