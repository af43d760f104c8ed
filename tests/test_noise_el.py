"""Greek rule table: each dialect target's families on hand-written sentences, exact outputs at rate 1."""

from __future__ import annotations

import re

import pytest
from noise_cases import only_for

from polyret.noise import noise_text

GREEK_LETTERS = re.compile(r"[\u0370-\u03ff\u1f00-\u1fff]")
only = only_for("el")


@pytest.mark.parametrize("dialect, family, text, expected", [
    ("cyp", "lexical", "Τι κάνεις; Εγώ βλέπω όλα έξω.", "Ίντα κάμνεις; Εγιώ θωρώ ούλλα όξω."),
    ("cyp", "lexical", "Πώς το λένε αυτό το παιδί;", "Ίνταλως το λαλούν τούτο το κοπέλλι;"),
    ("cyp", "morphosyntactic", "Δεν θα έρθει γιατί είναι άρρωστος.", "Εν να έρθει γιατί εν άρρωστος."),
    ("cyp", "morphosyntactic", "Ο Γιάννης μου είπε ότι ήταν εδώ.", "Ο Γιάννης είπε μου ότι ήτουν εδώ."),
    # enclisis at the start of the clause, proclisis kept after negation
    ("cyp", "morphosyntactic", "Μου αρέσει ο καφές, αλλά δεν μου αρέσει το τσάι.",
     "Αρέσει μου ο καφές, αλλά εν μου αρέσει το τσάι."),
    ("cyp", "phonological", "Έχει ένα κερί σήμερα.", "Έσει ένα τζερί σήμμερα."),
    ("cyp", "phonological", "Οι άνθρωποι έχουν λίγο νερό.", "Οι άθθρωποι έχουν λλίο νερό."),
    ("cyp", "orthographic", "Πότε είναι η γιορτή;", "Ποτε ειναι η γιορτη?"),
    ("cyp", "code_switching", "Συγγνώμη, το γάλα είναι στο ψυγείο.", "Sorry, το γάλα είναι στη φρίζα."),
    ("greeklish", "lexical", "Τι να σου πω, φίλε;", "Ti na sou πω, file;"),
    ("greeklish", "phonological", "Είναι ωραίο παιδί.", "Iνe oρeο πeδί."),
    ("greeklish", "orthographic", "Πού είναι το θέατρο;", "Πou είναι το 8έατρο?"),
    ("greeklish", "code_switching", "Καλά, πάμε στο σπίτι.", "Kala, pame sto spiti."),
])
def test_each_family_of_each_dialect(dialect: str, family: str, text: str, expected: str) -> None:
    assert only(text, dialect, family) == expected


def test_alternatives_are_drawn_from_the_listed_forms() -> None:
    assert only("Εγώ και εσύ.", "cyp", "lexical") in {"Εγιώ τζαι εσού.", "Εγιώ τζιαι εσού."}
    assert re.fullmatch(r"A[uv]rio (th|8)a pame", only("Αύριο θα πάμε", "greeklish", "code_switching"))


def test_cypriot_wh_cleft() -> None:
    out = {only("Πότε έφυγε ο Νίκος;", "cyp", "morphosyntactic", seed=s) for s in range(20)}
    assert out <= {"Πότε εν που έφυγε ο Νίκος;", "Πότε έφυγε ο Νίκος;"}
    assert "Πότε εν που έφυγε ο Νίκος;" in out


def test_greeklish_romanises_the_whole_text() -> None:
    text = "Ποιος έγραψε το βιβλίο για την ιστορία της Ελλάδας;"
    for seed in range(5):
        out = noise_text(text, "el", "greeklish", 0.5, seed=seed).text
        assert not GREEK_LETTERS.search(out), out
