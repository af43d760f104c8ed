"""Shared fixtures: the read-only data root, tiny local models, an isolated cache."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

REPO = Path(__file__).resolve().parents[1]


def find_data_dir() -> Path | None:
    candidates = [os.environ.get("POLYRET_DATA"), REPO.parent / "shared" / "data"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "xquad-r").is_dir():
            return Path(candidate)
    return None


@pytest.fixture(scope="session")
def data_dir() -> Path:
    found = find_data_dir()
    if found is None:
        pytest.skip("shared data not found: set POLYRET_DATA or place shared/data beside the checkout")
    return found


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep embedding caches per test; the converted embedded model is shared per session (costly to build)."""
    if "POLYRET_CACHE" not in os.environ:
        monkeypatch.setenv("POLYRET_CACHE", str(tmp_path_factory.getbasetemp() / "polyret-cache"))


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from tiny_models import make_sentence_transformers_layout, make_tiny_model

    root = tmp_path_factory.mktemp("tiny-models")
    models = {arch: make_tiny_model(root / arch, arch) for arch in ("bert", "xlm-roberta", "distilbert")}
    models["st-cls"] = make_sentence_transformers_layout(make_tiny_model(root / "st-cls", "bert", seed=1), "cls")
    return models
