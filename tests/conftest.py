"""Shared fixtures: the read-only data root, tiny local models, an isolated cache."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

REPO = Path(__file__).resolve().parents[1]

from builders import parallel_bench  # noqa: E402,F401 (a fixture every module may use)


def find_data_dir() -> Path | None:
    given = os.environ.get("POLYRET_DATA")
    candidates = [given] if given else [REPO.parent / "shared" / "data"]  # a given root is the only one tried
    for candidate in candidates:
        if candidate and (Path(candidate) / "xquad-r").is_dir():
            return Path(candidate)
    return None


def missing_data(what: str) -> None:
    """Skip for want of shared data, or fail when POLYRET_DATA says it is there (as in CI)."""
    if os.environ.get("POLYRET_DATA"):
        pytest.fail(f"POLYRET_DATA={os.environ['POLYRET_DATA']}: {what} not found")
    pytest.skip(f"shared data not found: {what}")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The data root. With POLYRET_DATA set (as in CI) a missing root fails the tests that need it, so a CI without
    data cannot pass while testing less; without it (a quick local run) they skip."""
    found = find_data_dir()
    if found is None:
        missing_data("xquad-r/ (set POLYRET_DATA or place shared/data beside the checkout)")
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
