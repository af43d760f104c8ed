"""Realism across all tables: every dialect with real text moves toward it, and more than typos at the same rate."""

from __future__ import annotations

from pathlib import Path

from polyret.noise.realism import realism


def test_every_backed_dialect_beats_clean_and_the_typo_control(data_dir: Path) -> None:
    records = realism(data_dir)
    assert {r.tatoeba for r in records} == {"arz", "arq", "gsw", "swg", "nds", "yue", "wuu"}
    for r in records:
        assert r.noised_similarity > r.clean_similarity, r
        # dialect rules, not perturbation as such: the gain is several times what keyboard typos give
        assert r.noised_similarity - r.clean_similarity > 2 * (r.typo_control_similarity - r.clean_similarity), r
