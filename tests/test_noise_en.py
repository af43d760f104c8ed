"""English rule table: each dialect target's families on hand-written sentences, exact outputs at rate 1."""

from __future__ import annotations

import pytest

from polyret.noise import noise_text
from polyret.noise.tables import dialect_table


def only(text: str, dialect: str, *families: str) -> str:
    return noise_text(text, "en", dialect, 1.0, seed=3, families=frozenset(families)).text


@pytest.mark.parametrize("dialect, family, text, expected", [
    ("sco", "lexical", "I know the small church.", "I ken the wee kirk."),
    ("sco", "lexical", "What did you see?", "Whit did you see?"),
    ("sco", "phonological", "Go down to the old town.", "Gang doon tae the auld toon."),
    ("sco", "morphosyntactic", "They were late.", "They was late."),
    ("sco", "code_switching", "Welcome home!", "Fàilte home!"),
    ("sus", "lexical", "Those dogs are not tired.", "Them dogs ain't plumb tired."),
    ("sus", "morphosyntactic", "What did they buy?", "What'd they buy?"),
    ("sus", "morphosyntactic", "He didn't say anything.", "He didn't say nothing."),
    ("sus", "phonological", "They are walking.", "They are walkin'."),
    ("net", "lexical", "Thanks, see you tomorrow.", "Thx, see u tmrw."),
    ("net", "orthographic", "I don't think it's late.", "I dont think its late."),
    ("net", "code_switching", "By the way, it works.", "Btw, it works."),
])
def test_each_family_of_each_dialect(dialect: str, family: str, text: str, expected: str) -> None:
    assert only(text, dialect, family) == expected


def test_every_dialect_has_three_families_and_typos_are_a_control() -> None:
    for dialect in ("sco", "sus", "net"):
        families = dialect_table("en", dialect).families
        assert len(set(families) - {"typo"}) >= 3, (dialect, families)
        assert "typo" not in families
    assert dialect_table("en", "typos").families == ("typo",)


def test_deterministic_and_rate_zero_is_identity() -> None:
    text = "What is the name of the small church where they were married?"
    assert noise_text(text, "en", "sco", 0.5, seed=1) == noise_text(text, "en", "sco", 0.5, seed=1)
    assert noise_text(text, "en", "sco", 0.0, seed=1).text == text
    assert noise_text(text, "en", "sco", 0.0, seed=1).fired == ()
