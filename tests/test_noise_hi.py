"""Hindi rule table: each dialect target's families on hand-written sentences, exact outputs at rate 1."""

from __future__ import annotations

import pytest
from noise_cases import only_for

only = only_for("hi")


@pytest.mark.parametrize("dialect, family, text, expected", [
    ("bho", "morphosyntactic", "वह घर जाता है", "वह घर जाला"),
    ("bho", "morphosyntactic", "किताब लिखी गई थी।", "किताब लिखल गइल रहे।"),
    ("bho", "morphosyntactic", "राम ने खाना बनाया।", "राम खाना बनावल।"),
    ("bho", "morphosyntactic", "राम का घर बड़ा नहीं है।", "राम के घर बड़ा नइखे।"),
    ("bho", "lexical", "क्या तुम्हारा नाम राम है?", "का तोहार नाम राम है?"),
    ("bho", "lexical", "वह कब आया?", "ऊ कहिया आया?"),
    ("bho", "phonological", "शहर में वर्षा", "सहर में बरसा"),
    ("bho", "orthographic", "हिन्दी ज़रूरी है।", "हिंदी जरूरी है."),
    ("awa", "morphosyntactic", "राम ने देखा।", "राम देखिस।"),
    ("awa", "lexical", "क्या लड़का आया?", "का लरिका आया?"),
    ("awa", "phonological", "शहर में वर्षा", "सहर में बरसा"),
    ("awa", "orthographic", "कहाँ जाना है।", "कहां जाना है."),
    ("hinglish", "lexical", "यह प्रश्न बहुत कठिन है", "यह सवाल बहुत मुश्किल है"),
    ("hinglish", "phonological", "ज्ञान और कृपा", "ग्यान और क्रिपा"),
    ("hinglish", "orthographic", "हिन्दी ज़रूरी है।", "हिंदी जरूरी है."),
    ("hinglish", "code_switching", "क्या नहीं?", "kya nahi?"),
])
def test_each_family_of_each_dialect(dialect: str, family: str, text: str, expected: str) -> None:
    assert only(text, dialect, family) == expected


def test_rules_chain_in_table_order() -> None:
    # the participle pass runs before the copula pass, so both words of गया था change
    assert only("क्या आप जानते हैं कि वह कहाँ गया था?", "bho", "lexical", "morphosyntactic", seed=3) in {
        f"का {you} जानेला कि ऊ {where} गइल {was}?"
        for you in ("रउआ", "रउरा") for where in ("कहाँ", "कहवाँ") for was in ("रहे", "रहल")}
    # हम 'we' becomes हमनी before मैं becomes हम
    assert only("मैं और हम", "bho", "lexical", "morphosyntactic") in {"हम आ हमनी", "हम अउर हमनी"}
    assert only("यह किसने लिखा?", "bho", "lexical", "morphosyntactic") == "ई के लिखल?"


def test_short_keys_do_not_match_inside_longer_words() -> None:
    # का in अमेरिका, था in संस्था, ने in होने, उस in हाउस, इस in इस्लाम: Devanagari vowel signs are not \w
    text = "अमेरिका की संस्था होने वाली थी।"
    assert only(text, "bho", "morphosyntactic") == "अमेरिका के संस्था होने वाली रहली।"
    assert only(text, "hinglish", "code_switching") == "अमेरिका ki संस्था होने वाली thi।"
    assert only("हाउस में इस्लाम का इतिहास", "bho", "lexical") == "हाउस में इस्लाम का इतिहास"


def test_alternatives_are_drawn_from_the_listed_forms() -> None:
    assert only("वह काम करता है", "awa", "morphosyntactic") in {"वह काम करत है", "वह काम करत अहै"}
    copulas = {only("यह घर है।", "bho", "morphosyntactic", seed=seed) for seed in range(40)}
    assert copulas == {"यह घर बा।", "यह घर बाटे।", "यह घर हवे।"}
    english = [only("उस देश में", "hinglish", "code_switching", seed=seed) for seed in range(40)]
    assert any(" कंट्री " in text for text in english) and any(" country " in text for text in english)
    assert all(" देश " in text or " कंट्री " in text or " country " in text for text in english)
