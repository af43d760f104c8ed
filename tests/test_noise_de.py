"""German rule table: each dialect target's families on hand-written sentences, exact outputs at rate 1."""

from __future__ import annotations

import json

import pytest
from conftest import find_data_dir

from polyret.noise import noise_text
from polyret.noise.tables import dialect_table

DATA = find_data_dir()
DIALECTS = ("gsw", "swg", "nds", "aus")


def only(text: str, dialect: str, *families: str) -> str:
    return noise_text(text, "de", dialect, 1.0, seed=3, families=frozenset(families)).text


@pytest.mark.parametrize("dialect, family, text, expected", [
    ("gsw", "lexical", "Wir haben etwas gesehen.", "Mir händ öppis gseh."),
    ("gsw", "lexical", "Welche Kinder kommen?", "Weli Kinder chöme?"),
    ("gsw", "morphosyntactic", "Wann wurde das Haus gebaut?", "Wann isch s Haus gebaut worde?"),
    ("gsw", "morphosyntactic", "Wer war der erste König?", "Wer isch der erste König gsi?"),
    ("gsw", "morphosyntactic", "Die Frau hatte ein Häuschen.", "D Frau hät ein Häusli gha."),
    ("gsw", "phonological", "Die Rechnung ist natürlich gut.", "Die Rechnig ist natürli guet."),
    ("gsw", "phonological", "Das Kind kauft ein Buch.", "Das Chind kauft ein Buech."),
    ("gsw", "orthographic", "Die Straße ist groß.", "Die Strasse ist gross."),
    ("gsw", "code_switching", "Danke für das Fahrrad.", "Merci für das Velo."),
    ("swg", "lexical", "Ich habe keine Zeit.", "I han koine Zeit."),
    ("swg", "morphosyntactic", "Das war gut.", "Das isch gut gwä."),
    ("swg", "morphosyntactic", "Die Kinder haben ein Kätzchen.", "D Kinder haben ein Kätzle."),
    ("swg", "phonological", "Das Buch ist gut.", "Das Buach ist guad."),
    ("swg", "code_switching", "Das ist eilig.", "Das ist pressant."),
    ("nds", "lexical", "Ich weiß das nicht.", "Ik weet dat nich."),
    ("nds", "morphosyntactic", "Wir spielen in dem Garten.", "Wir spielt in ’n Garten."),
    ("nds", "phonological", "Er will Wasser machen.", "Er will Water maken."),
    ("nds", "phonological", "Sie schlafen im Schnee.", "Sie slapen im Snee."),
    ("nds", "orthographic", "Die Straße ist groß.", "Die Strasse ist gross."),
    ("aus", "lexical", "Ich habe nichts.", "I hab nix."),
    ("aus", "morphosyntactic", "Das war ein Häuschen.", "Das is ein Häuserl gwesn."),
    ("aus", "phonological", "Der Vater ist gut.", "Der Vadda ist guat."),
    ("aus", "orthographic", "Wir fahren Ski.", "Wir fahren Schi."),
    ("aus", "code_switching", "Hallo, wie geht es?", "Servus, wie geht es?"),
])
def test_each_family_of_each_dialect(dialect: str, family: str, text: str, expected: str) -> None:
    assert only(text, dialect, family) == expected


def test_rules_chain_in_table_order() -> None:
    # lexical first (ist > isch, der > de), then the preterite rule, then n-apocope and ß > ss
    assert only("Wer war der Präsident, der das Gesetz erlassen hat?", "gsw",
                "lexical", "morphosyntactic", "phonological", "orthographic") == \
        "Wer isch de Präsident, de s Gsetz erlasse hät gsi?"
    assert only("Ich habe das nicht gewusst.", "nds", "lexical") == "Ik heff dat nich gewusst."


def test_every_dialect_has_three_families_and_typos_are_a_control() -> None:
    for dialect in DIALECTS:
        families = dialect_table("de", dialect).families
        assert len(set(families) - {"typo"}) >= 3, (dialect, families)
        assert "typo" not in families
    assert dialect_table("de", "typos").families == ("typo",)


def test_keyboard_typos_keep_the_first_letter_and_only_touch_words() -> None:
    text = "Die Regierung beschloss gestern ein neues Gesetz."
    result = noise_text(text, "de", "typos", 1.0, seed=5)
    assert result.text != text
    assert {firing.family for firing in result.fired} == {"typo"}
    for firing in result.fired:
        assert firing.after[0] == firing.before[0]
        assert abs(len(firing.after) - len(firing.before)) <= 1


def test_deterministic_and_rate_zero_is_identity() -> None:
    text = "Warum war die Straße nach dem Krieg nicht mehr sicher?"
    for dialect in (*DIALECTS, "typos"):
        assert noise_text(text, "de", dialect, 0.5, seed=1) == noise_text(text, "de", dialect, 0.5, seed=1)
        assert noise_text(text, "de", dialect, 0.0, seed=1).text == text
        assert noise_text(text, "de", dialect, 0.0, seed=1).fired == ()


@pytest.mark.skipif(DATA is None, reason="shared data not found")
def test_most_questions_change_toward_swiss_german() -> None:
    assert DATA is not None
    data = json.loads((DATA / "xquad-r" / "de.json").read_text(encoding="utf-8"))
    questions = [qa["question"] for art in data["data"] for par in art["paragraphs"] for qa in par["qas"]]
    changed = sum(noise_text(q, "de", "gsw", 0.5, seed=i).text != q for i, q in enumerate(questions))
    assert changed / len(questions) >= 0.6


@pytest.mark.skipif(DATA is None or not (DATA / "dev" / "tatoeba").is_dir(), reason="dev/tatoeba not found")
def test_noise_moves_standard_german_toward_real_dialect_text() -> None:
    from polyret.noise.realism import realism

    assert DATA is not None
    records = {record.dialect: record for record in realism(DATA, languages=["de"])}
    assert set(records) == {"de-gsw", "de-swg", "de-nds"}
    for record in records.values():
        assert record.noised_similarity > record.clean_similarity + 0.01, record
