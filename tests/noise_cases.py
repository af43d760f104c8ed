"""Helpers shared by the noise table tests: noising with some families only, XQuAD-R questions, realism records."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any, Callable

from conftest import find_data_dir, missing_data

from polyret.noise import noise_text

DATA = find_data_dir()

LEX = frozenset({"lexical"})
MORPH = frozenset({"morphosyntactic"})
PHON = frozenset({"phonological"})
ORTH = frozenset({"orthographic"})
CODE = frozenset({"code_switching"})


def only_for(language: str) -> Callable[..., str]:
    """`only(text, dialect, *families, seed=3)`: `text` noised at rate 1 by the named families of `language`."""

    def only(text: str, dialect: str, *families: str, seed: int = 3) -> str:
        return noise_text(text, language, dialect, 1.0, seed=seed, families=frozenset(families)).text

    return only


def noised_for(language: str) -> Callable[..., str]:
    """`noised(text, dialect, families, seed=0)`: `text` noised at rate 1 by a set of families of `language`."""

    def noised(text: str, dialect: str, families: frozenset[str], seed: int = 0) -> str:
        return noise_text(text, language, dialect, 1.0, seed, families=families).text

    return noised


@lru_cache(maxsize=None)
def xquad_questions(language: str) -> tuple[str, ...]:
    """Every question of xquad-r/<language>.json (skips the test when the shared data is absent)."""
    path = DATA / "xquad-r" / f"{language}.json" if DATA is not None else None
    if path is None or not path.is_file():
        missing_data(f"xquad-r/{language}.json")
    data = json.loads(path.read_text(encoding="utf-8"))
    return tuple(qa["question"] for art in data["data"] for par in art["paragraphs"] for qa in par["qas"])


def changed_share(language: str, dialect: str, texts: tuple[str, ...], rate: float = 0.5) -> float:
    """The share of `texts` that noise toward `dialect` changes (text i drawn with seed i)."""
    changed = sum(noise_text(text, language, dialect, rate, seed=i).text != text for i, text in enumerate(texts))
    return changed / len(texts)


def realism_records(language: str) -> dict[str, Any]:
    """dialect ("de-gsw") -> realism record for `language` (skips the test when dev/tatoeba is absent)."""
    if DATA is None or not (DATA / "dev" / "tatoeba").is_dir():
        missing_data("dev/tatoeba")
    from polyret.noise.realism import realism

    return {record.dialect: record for record in realism(DATA, languages=[language])}
