"""German rule table: each dialect target's families on hand-written sentences, exact outputs at rate 1."""

from __future__ import annotations

import pytest
from noise_cases import only_for, realism_records

only = only_for("de")


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


def test_noise_moves_standard_german_toward_real_dialect_text() -> None:
    records = realism_records("de")
    assert set(records) == {"de-gsw", "de-swg", "de-nds"}
    for record in records.values():
        assert record.noised_similarity > record.clean_similarity + 0.01, record
