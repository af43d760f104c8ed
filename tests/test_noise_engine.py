"""The noise engine and the table format, independent of what any language's table says.

Most tests run on small tables written to a temporary rules directory (monkeypatched in place of the package's);
the statistical ones (seeds, rate monotonicity) run on whatever language tables are installed.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections import Counter
from difflib import SequenceMatcher
from pathlib import Path

import pytest
import yaml

from polyret.errors import PolyretError
from polyret.noise import tables
from polyret.noise.engine import noise_text
from polyret.noise.realism import cosine, ngram_profile

TOY = {
    "language": "xx",
    "name": "Toy",
    "standard_tatoeba": "xxx",
    "sources": {"made_up": "a table written for the tests"},
    "dialects": {"aa": {"name": "first (the default)"}, "bb": {"name": "second"}},
    "rules": [
        {"id": "greet", "family": "lexical", "dialects": ["aa"], "kind": "words",
         "map": {"hello": "howdy", "good morning": "mornin'", "you": ["ye", "yous"]}, "source": "made_up"},
        {"id": "th_stop", "family": "phonological", "dialects": "*", "kind": "chars", "map": {"th": "d"},
         "source": "made_up"},
        {"id": "drop_is", "family": "morphosyntactic", "dialects": ["bb"], "kind": "regex",
         "pattern": "\\b(she|he) is (\\w+ing)\\b", "replace": "\\1 \\2", "source": "made_up"},
        {"id": "qwerty", "family": "typo", "kind": "typo", "keyboard": ["qwertyuiop", "asdfghjkl", "zxcvbnm"],
         "source": "made_up"},
    ],
}
YY = {**TOY, "language": "yy", "dialects": {"cc": {"name": "only"}},
      "rules": [{**TOY["rules"][1], "dialects": "*"}, TOY["rules"][3]]}


def clear_caches() -> None:
    tables.language_table.cache_clear()
    tables.available.cache_clear()
    tables.dialect_table.cache_clear()


@pytest.fixture()
def rules_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    """An empty rules directory in place of the package's; the real tables come back afterwards."""
    clear_caches()
    monkeypatch.setattr(tables, "_rules_dir", lambda: tmp_path)
    yield tmp_path
    monkeypatch.undo()
    clear_caches()


def write(directory: Path, table: dict) -> Path:
    path = directory / f"{table['language']}.yaml"
    path.write_text(yaml.safe_dump(table, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture()
def toy(rules_dir: Path) -> Path:
    write(rules_dir, TOY)
    write(rules_dir, YY)
    return rules_dir


# ------------------------------------------------------------------------------------------------ table format

@pytest.mark.parametrize("broken, says", [
    ({"kind": "words", "map": None}, "needs map"),
    ({"family": "slang"}, "family"),
    ({"source": "nowhere"}, "not in sources"),
    ({"dialects": ["zz"]}, "unknown dialects"),
    ({"kind": "typo", "keyboard": ["asdf"]}, "kind 'typo' belongs to family 'typo'"),
    ({"weight": 0}, "weight"),
])
def test_bad_rule_names_file_and_rule(rules_dir: Path, broken: dict, says: str) -> None:
    rule = {"id": "bad_rule", "family": "lexical", "kind": "words", "map": {"a": "b"}, "source": "made_up", **broken}
    path = write(rules_dir, {**TOY, "rules": [TOY["rules"][0], rule]})
    with pytest.raises(PolyretError) as err:
        tables.language_table("xx")
    message = str(err.value)
    assert str(path) in message and says in message
    if "field" in message or "needs" in message or "family" in message:
        assert "bad_rule" in message


def test_bad_pattern_and_duplicate_ids(rules_dir: Path) -> None:
    bad = {"id": "broken_regex", "family": "lexical", "kind": "regex", "pattern": "(unclosed", "replace": "x",
           "source": "made_up"}
    write(rules_dir, {**TOY, "rules": [bad]})
    with pytest.raises(PolyretError, match=r"xx\.yaml: rule 'broken_regex': bad pattern"):
        tables.dialect_table("xx", "aa")
    clear_caches()
    write(rules_dir, {**TOY, "rules": [TOY["rules"][0], TOY["rules"][0]]})
    with pytest.raises(PolyretError, match=r"xx\.yaml.*'greet' appears twice"):
        tables.language_table("xx")


def test_malformed_yaml_and_wrong_language(rules_dir: Path) -> None:
    (rules_dir / "xx.yaml").write_text("language: [unclosed\n", encoding="utf-8")
    with pytest.raises(PolyretError, match=r"xx\.yaml: malformed YAML"):
        tables.language_table("xx")
    clear_caches()
    write(rules_dir, {**TOY, "language": "yy"}).rename(rules_dir / "xx.yaml")
    with pytest.raises(PolyretError, match="says language 'yy', file name says 'xx'"):
        tables.language_table("xx")


def test_typos_is_reserved(rules_dir: Path) -> None:
    write(rules_dir, {**TOY, "dialects": {"typos": {"name": "x"}}, "rules": []})
    with pytest.raises(PolyretError, match="reserved"):
        tables.language_table("xx")


# ---------------------------------------------------------------------------------------------------- dialects

def test_available_and_dialect_selection(toy: Path) -> None:
    assert tables.available() == {"xx": ("aa", "bb", "typos"), "yy": ("cc", "typos")}
    ids = lambda d: [r.id for r in tables.dialect_table("xx", d).rules]  # noqa: E731
    assert ids("aa") == ["xx.greet", "xx.th_stop"]
    assert ids("bb") == ["xx.th_stop", "xx.drop_is"]
    assert ids("typos") == ["xx.qwerty"]
    assert tables.dialect_table("xx", "typos").families == ("typo",)


def test_parse_spec(toy: Path) -> None:
    assert tables.parse_spec("xx-bb") == [("xx", "bb")]
    assert tables.parse_spec(" xx ") == [("xx", "aa")]  # the first dialect is the default
    assert tables.parse_spec("xx-typos") == [("xx", "typos")]
    assert tables.parse_spec("all") == [("xx", "aa"), ("yy", "cc")]
    assert tables.parse_spec("all-typos") == [("xx", "typos"), ("yy", "typos")]
    with pytest.raises(PolyretError) as err:
        tables.parse_spec("zz-aa")
    assert "unknown language 'zz'" in str(err.value) and "xx, yy" in str(err.value)
    with pytest.raises(PolyretError) as err:
        tables.parse_spec("xx-cc")
    assert "unknown dialect 'cc'" in str(err.value) and "xx-aa, xx-bb, xx-typos" in str(err.value)
    with pytest.raises(PolyretError, match="available: aa, bb, typos"):
        tables.dialect_table("xx", "cc")
    with pytest.raises(PolyretError, match="no rules for language 'zz'; available: xx, yy"):
        tables.language_table("zz")


# ------------------------------------------------------------------------------------------------------ engine

def test_rate_zero_and_empty_text_unchanged(toy: Path) -> None:
    text = "hello you, the thing is there"
    for dialect in ("aa", "bb", "typos"):
        assert noise_text(text, "xx", dialect, 0.0, 5).text == text
        assert noise_text(text, "xx", dialect, 0.0, 5).fired == ()
    assert noise_text("", "xx", "aa", 1.0).text == ""
    with pytest.raises(PolyretError, match="outside"):
        noise_text(text, "xx", "aa", 1.5)


def test_rate_one_rewrites_every_site_in_order(toy: Path) -> None:
    result = noise_text("Good morning! Hello there, she is thinking.", "xx", "aa", 1.0)
    assert result.text == "Mornin'! Howdy dere, she is dinking."
    assert [(f.rule, f.before, f.after) for f in result.fired] == [
        ("xx.greet", "Good morning", "Mornin'"), ("xx.greet", "Hello", "Howdy"),
        ("xx.th_stop", "th", "d"), ("xx.th_stop", "th", "d")]
    assert noise_text("she is thinking", "xx", "bb", 1.0).text == "she dinking"  # chars before regex: in order
    assert noise_text("Othello", "xx", "aa", 1.0, families=frozenset({"lexical"})).text == "Othello"


def test_words_rules_keep_capitals_and_whole_words(toy: Path) -> None:
    fam = frozenset({"lexical"})
    assert noise_text("hello HELLO Hello", "xx", "aa", 1.0, families=fam).text == "howdy Howdy Howdy"
    assert noise_text("shelloo hellos", "xx", "aa", 1.0, families=fam).text == "shelloo hellos"
    assert noise_text("You", "xx", "aa", 1.0, families=fam).text in {"Ye", "Yous"}


def test_firings_reconstruct_the_output(toy: Path) -> None:
    """No rule here rewrites another's output, so the firings account for every change."""
    text = "hello you, good morning: the other thing is that she is thinking of you"
    for seed in range(20):
        result = noise_text(text, "xx", "aa", 0.5, seed)
        assert result.fired
        for firing in result.fired:
            assert firing.before in text and firing.after in result.text
        assert len(result.text) - len(text) == sum(len(f.after) - len(f.before) for f in result.fired)
        undone = result.text
        for firing in reversed(result.fired):  # undo right to left: each after is the last one not yet undone
            at = undone.rindex(firing.after)
            undone = undone[:at] + firing.before + undone[at + len(firing.after):]
        assert undone == text


def osa_distance(a: str, b: str) -> int:
    """Optimal string alignment distance: insertions, deletions, substitutions, adjacent transpositions."""
    d = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


def test_typo_rule_one_edit_per_word_and_only_for_typos(toy: Path) -> None:
    text = "Typing quickly produces mistakes in several longer words"
    firings = [f for seed in range(60) for f in noise_text(text, "xx", "typos", 1.0, seed).fired]
    assert len(firings) > 100 and {f.rule for f in firings} == {"xx.qwerty"}
    for firing in firings:
        assert firing.before in text.split() and osa_distance(firing.before, firing.after) == 1
        assert firing.after[0] == firing.before[0]  # the first letter is kept
    for seed in range(20):  # each word is one site: one slip at most, and words shorter than 3 are skipped
        result = noise_text("an ox is ok but this word gets one", "xx", "typos", 1.0, seed)
        assert all(len(f.before) >= 3 for f in result.fired)
        assert len(result.fired) <= 5  # but, this, word, gets, one
    for dialect in ("aa", "bb"):
        assert all(f.family != "typo" for seed in range(20) for f in noise_text(text, "xx", dialect, 1.0, seed).fired)


def test_alternatives_are_all_drawn(toy: Path) -> None:
    seen = {noise_text("you", "xx", "aa", 1.0, seed).text for seed in range(40)}
    assert seen == {"ye", "yous"}


def test_weight_scales_the_rate(rules_dir: Path) -> None:
    rule = {"id": "a_to_b", "family": "orthographic", "kind": "chars", "map": {"a": "b"}, "source": "made_up"}
    write(rules_dir, {**TOY, "rules": [{**rule, "weight": 0.25}]})
    text = "a" * 4000
    changed = noise_text(text, "xx", "aa", 0.8, 1).text.count("b") / len(text)
    assert abs(changed - 0.2) < 0.03
    clear_caches()
    write(rules_dir, {**TOY, "rules": [{**rule, "weight": 4}]})
    assert noise_text(text, "xx", "aa", 0.3, 1).text == "b" * 4000  # min(1, rate * weight)


# ------------------------------------------------------------------------------- real tables: seeds and rates

DETERMINISM_TEXTS = ["What is the name of the river that runs through the city?",
                     "Tôi không biết anh ấy đã đi đâu vào hôm qua.",
                     "ใครเป็นผู้ชนะการแข่งขันในปีนั้น"]


def _real_noise(spec: list[tuple[str, str]], texts: list[str], seed: int) -> list[str]:
    return [noise_text(t, lang, dialect, 0.5, seed).text for lang, dialect in spec for t in texts]


def test_deterministic_across_calls_and_processes() -> None:
    spec = [(lang, dialects[0]) for lang, dialects in tables.available().items()]
    spec += [(lang, "typos") for lang in tables.available()]
    here = _real_noise(spec, DETERMINISM_TEXTS, 11)
    assert _real_noise(spec, DETERMINISM_TEXTS, 11) == here
    code = ("import json, sys\nsys.path.insert(0, sys.argv[1])\nfrom test_noise_engine import _real_noise\n"
            "print(json.dumps(_real_noise(json.loads(sys.argv[2]), json.loads(sys.argv[3]), 11)))")
    env_hash = {"PYTHONHASHSEED": "12345"}
    import os
    out = subprocess.run([sys.executable, "-c", code, str(Path(__file__).parent), json.dumps(spec),
                          json.dumps(DETERMINISM_TEXTS)], capture_output=True, text=True, check=True,
                         env={**os.environ, **env_hash})
    assert json.loads(out.stdout) == here


def xquad_questions(root: Path, lang: str, n: int) -> list[str]:
    data = json.loads((root / "xquad-r" / f"{lang}.json").read_text(encoding="utf-8"))
    return [qa["question"] for art in data["data"] for par in art["paragraphs"] for qa in par["qas"]][:n]


def _languages_with_questions(root: Path) -> list[str]:
    return [lang for lang in tables.available() if (root / "xquad-r" / f"{lang}.json").is_file()]


def test_seeds_differ_on_a_corpus(data_dir: Path) -> None:
    for lang in _languages_with_questions(data_dir):
        questions = xquad_questions(data_dir, lang, 50)
        dialect = tables.available()[lang][0]
        a = [noise_text(q, lang, dialect, 0.3, 0).text for q in questions]
        b = [noise_text(q, lang, dialect, 0.3, 1).text for q in questions]
        assert a != b, lang
        assert sum(x != y for x, y in zip(a, b)) >= 5, lang


def changed_share(texts: list[str], noised: list[str]) -> float:
    """Share of characters changed: 1 - matched characters over the longer text, pooled over the corpus."""
    total = sum(max(len(a), len(b)) for a, b in zip(texts, noised))
    matched = sum(sum(block.size for block in SequenceMatcher(None, a, b, autojunk=False).get_matching_blocks())
                  for a, b in zip(texts, noised))
    return 1.0 - matched / total


def test_rate_monotone_on_average(data_dir: Path) -> None:
    langs = _languages_with_questions(data_dir)
    assert len(langs) >= 3
    for lang in langs:
        questions = xquad_questions(data_dir, lang, 200)
        for dialect in (tables.available()[lang][0], "typos"):
            shares = [changed_share(questions, [noise_text(q, lang, dialect, rate, 3).text for q in questions])
                      for rate in (0.1, 0.3, 0.6, 1.0)]
            assert shares[0] > 0 and all(a < b for a, b in zip(shares, shares[1:])), (lang, dialect, shares)


# -------------------------------------------------------------------------------------------- realism helpers

def test_ngram_profile_and_cosine_by_hand() -> None:
    profile = ngram_profile(["Ab"])  # padded " ab ": unigrams ' ','a','b',' '; bigrams ' a','ab','b '; ...
    assert profile == Counter({" ": 2, "a": 1, "b": 1, " a": 1, "ab": 1, "b ": 1, " ab": 1, "ab ": 1})
    assert ngram_profile(["ab"], orders=(2,)) == Counter({" a": 1, "ab": 1, "b ": 1})
    a, b = ngram_profile(["ab"], orders=(1,)), ngram_profile(["ba", "b"], orders=(1,))
    # a = {' ':2, a:1, b:1}; b = {' ':4, a:1, b:2}: dot 8+1+2 = 11, |a| = sqrt 6, |b| = sqrt 21
    assert cosine(a, b) == pytest.approx(11 / math.sqrt(6 * 21))
    assert cosine(b, a) == pytest.approx(cosine(a, b))
    assert cosine(a, a) == pytest.approx(1.0)
    assert cosine(a, Counter()) == 0.0
    assert cosine(Counter({"x": 1}), Counter({"y": 3})) == 0.0


def test_turkish_capitals_round_trip(rules_dir: Path) -> None:
    """İ lowers to i + combining dot (the key must still be found) and a capitalised i-word gets a dotted İ."""
    table = {**TOY, "language": "tr", "dialects": {"aa": {"name": "x"}},
             "rules": [{"id": "w", "family": "lexical", "kind": "words", "map": {"bir": "iki", "ızgara": "ocak"},
                        "source": "made_up"}]}
    write(rules_dir, table)
    assert noise_text("BİR Bir bir", "tr", "aa", 1.0).text == "İki İki iki"
    assert noise_text("Izgara", "tr", "aa", 1.0).text == "Ocak"


def test_word_boundaries_respect_combining_marks(rules_dir: Path) -> None:
    """Devanagari vowel signs are combining marks: a key must not match inside a longer word."""
    table = {**TOY, "language": "hx", "dialects": {"aa": {"name": "x"}},
             "rules": [{"id": "w", "family": "lexical", "kind": "words", "map": {"का": "के"}, "source": "made_up"}]}
    write(rules_dir, table)
    assert noise_text("अमेरिका का", "hx", "aa", 1.0).text == "अमेरिका के"
