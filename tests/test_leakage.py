"""The zero-shot guard: planted copies are caught, unrelated texts are not, the index finds exactly what a
brute-force comparison finds, and the real training data does not repeat XQuAD-R."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from builders import load_shared, write_training_root
from typer.testing import CliRunner

from polyret.cli.data import data_app
from polyret.data.leakage import (
    TextRecord,
    assert_no_leakage,
    check_leakage,
    evaluation_texts,
    normalize_text,
    training_texts,
)
from polyret.data.training import load_training_groups
from polyret.data.xquad_r import XQUAD_R_LANGUAGES
from polyret.errors import PolyretError

UNRELATED = [
    TextRecord("mkqa/1", "query", "en", "who wrote the song hotel california"),
    TextRecord("arcd/2", "query", "ar", "ما هي عاصمة المملكة العربية السعودية؟"),
    TextRecord("cmrc2018/3", "passage", "zh", "《战国无双3》是由光荣和ω-force开发的战国无双系列的正统第三续作。"),
]


@pytest.fixture(scope="module")
def evaluation(data_dir: Path) -> list[TextRecord]:
    return evaluation_texts(data_dir)


def _pick(evaluation: list[TextRecord], role: str, lang: str, min_chars: int) -> TextRecord:
    return next(r for r in evaluation if r.role == role and r.lang == lang and len(r.text) >= min_chars)


def test_normalisation_ignores_case_width_punctuation_and_spacing() -> None:
    assert normalize_text("  Ｗｈａｔ  IS\tthe «Capital»,  of France?! ") == "what is the capital of france"
    assert normalize_text("İSTANBUL’un") == normalize_text("istanbul'un") == "istanbul un"
    assert normalize_text("他是谁？") == "他是谁" and normalize_text("؟!...") == ""


def test_planted_exact_and_near_duplicates_are_caught(evaluation: list[TextRecord]) -> None:
    question = _pick(evaluation, "question", "en", 30)
    sentence = _pick(evaluation, "sentence", "de", 250)
    words = sentence.text.split()
    words[3], words[-3] = "Katze", "Hund"  # two words changed
    planted = [
        TextRecord("mkqa/planted", "query", "en", "  " + question.text.upper().replace(" ", "   ").rstrip("?") + " !"),
        TextRecord("tquad/planted", "passage", "de", " ".join(words)),
    ]
    report = check_leakage(UNRELATED + planted, evaluation)
    assert [(h.training.id, h.evaluation.id) for h in report.hits] == [
        ("mkqa/planted", question.id), ("tquad/planted", sentence.id),
    ]
    exact, near = report.hits
    assert exact.exact and exact.similarity == 1.0
    assert not near.exact and 0.8 <= near.similarity < 1.0
    assert report.by_source == {"mkqa": 1, "tquad": 1} and "mkqa/planted" in report.summary()
    with pytest.raises(PolyretError, match="zero-shot leakage: 2 of 5 training texts"):
        assert_no_leakage(UNRELATED + planted, [question, sentence])


def test_containment_finds_a_sentence_inside_a_paragraph(evaluation: list[TextRecord]) -> None:
    sentence = _pick(evaluation, "sentence", "tr", 80)
    before, after = "Osmanlı tarihi uzun sürdü, birçok savaş yaşandı.", "Sonra barış oldu, ticaret yeniden canlandı."
    paragraph = TextRecord("tquad/p", "context", "tr", f"{before} {sentence.text} {after}")
    assert check_leakage([paragraph], [sentence]).clean  # not a near-duplicate of similar length
    hits = check_leakage([paragraph], evaluation, measure="containment").hits
    assert [(h.evaluation.id, h.similarity) for h in hits] == [(sentence.id, 1.0)]


def test_short_texts_are_compared_for_equality_only(evaluation: list[TextRecord]) -> None:
    short = next(r for r in evaluation if r.lang == "th" and len(normalize_text(r.text)) <= 8)
    paragraph = TextRecord("iapp-wiki-qa-thai/x", "context", "th", f"ประเทศไทยมีหลายจังหวัด {short.text} และอื่น ๆ อีกมาก")
    assert check_leakage([paragraph], evaluation, measure="containment").clean
    copy = TextRecord("iapp-wiki-qa-thai/y", "passage", "th", short.text)
    assert [h.exact for h in check_leakage([copy], [short], measure="containment").hits] == [True]


def test_unrelated_texts_pass_and_options_are_checked(evaluation: list[TextRecord]) -> None:
    report = assert_no_leakage(UNRELATED, evaluation)
    assert report.clean and report.training_texts == 3 and report.evaluation_texts == 26_104 + 24_733  # XQuAD-R + MLQA-R
    with pytest.raises(PolyretError, match="--threshold"):
        check_leakage(UNRELATED, evaluation, threshold=1.5)
    with pytest.raises(PolyretError, match="--measure"):
        check_leakage(UNRELATED, evaluation, measure="cosine")  # type: ignore[arg-type]


def _grams(text: str, n: int = 5) -> set[str]:
    norm = normalize_text(text).ljust(n, "\0")
    return {norm[i : i + n] for i in range(len(norm) - n + 1)}


def _variant(text: str, rng: random.Random) -> str:
    """A copy with some words dropped or replaced, sometimes inside other text: similarities of all sizes."""
    words = [w for w in text.split() if rng.random() > 0.15]
    words = [w if rng.random() > 0.1 else "xyz" for w in words]
    return " ".join(["Nota:", *words, "fin."] if rng.random() < 0.3 else words)


@pytest.mark.parametrize("measure", ["jaccard", "containment"])
def test_index_finds_exactly_what_brute_force_finds(data_dir: Path, evaluation: list[TextRecord], measure: str) -> None:
    """The prefix filter must miss no pair over the threshold: compare with every pair measured in Python."""
    rng = random.Random(7)
    groups = load_training_groups(data_dir, sources=["mkqa", "tquad"], languages=["es", "tr"]).groups
    sample = rng.sample([r for r in evaluation if r.lang in ("es", "tr")], 600)
    training = rng.sample(training_texts(groups), 300) + [
        TextRecord(f"variant/{i}", "passage", r.lang, _variant(r.text, rng)) for i, r in enumerate(sample[:150])
    ]
    t_grams, e_grams = [_grams(r.text) for r in training], [_grams(r.text) for r in sample]
    equal = {normalize_text(r.text) for r in sample}
    for threshold, min_ngrams in ((0.5, 1), (0.8, 10)):
        expected = {i for i, r in enumerate(training) if normalize_text(r.text) in equal}
        for i, a in enumerate(t_grams):
            for b in e_grams:
                if min(len(a), len(b)) >= min_ngrams:
                    shared = len(a & b)
                    if shared >= threshold * ((len(a) + len(b) - shared) if measure == "jaccard" else len(b)) - 1e-9:
                        expected.add(i)
                        break
        report = check_leakage(training, sample, threshold=threshold, measure=measure, min_ngrams=min_ngrams)  # type: ignore[arg-type]
        found = {training.index(hit.training) for hit in report.hits}
        assert found == expected and 10 < len(expected) < 150, (threshold, len(found), len(expected))


def test_real_training_data_does_not_repeat_xquad_r(data_dir: Path, evaluation: list[TextRecord]) -> None:
    """The recorded result: none of ~94,000 training texts (shared passages and paragraphs included) equals or
    nearly equals one of the 26,104 XQuAD-R texts (Jaccard of 5-grams >= 0.8)."""
    training = training_texts(load_shared(data_dir).groups)
    report = assert_no_leakage(training, evaluation)
    assert report.training_texts > 90_000 and report.clean


def _write_xquad_r(root: Path) -> None:
    """XQuAD-R in all 11 languages, one paragraph each (the same English text: the reader only checks shape)."""
    (root / "xquad-r").mkdir(parents=True)
    first, second = "The committee met in spring.", "It approved the new charter unanimously."
    context = f"{first} {second}"
    qa = {"id": "q1", "question": "What did it approve?",
          "answers": [{"text": "charter", "answer_start": context.index("charter")}]}
    para = {"context": context, "sentences": [first, second], "qas": [qa],
            "sentence_breaks": [[0, len(first)], [len(first) + 1, len(context)]]}
    for lang in XQUAD_R_LANGUAGES:
        (root / "xquad-r" / f"{lang}.json").write_text(json.dumps({"data": [{"title": "T", "paragraphs": [para]}]}))


def test_check_leakage_command_exit_codes(tmp_path: Path) -> None:
    root = write_training_root(tmp_path)
    _write_xquad_r(root)
    runner = CliRunner()
    clean = runner.invoke(data_app, ["check-leakage", "--data-dir", str(root)])
    assert clean.exit_code == 0, clean.output
    assert "0 of" in clean.output
    mintaka = [{"id": "m9", "question": "What did it approve?", "translations": {"de": "Was hat er beschlossen?"}}]
    (root / "train" / "mintaka" / "mintaka_dev.json").write_text(json.dumps(mintaka))
    leaked = runner.invoke(data_app, ["check-leakage", "--data-dir", str(root)], env={"COLUMNS": "200"})
    assert leaked.exit_code == 2 and "mintaka/m9" in leaked.output and "exact" in leaked.output
    bad = runner.invoke(data_app, ["check-leakage", "--data-dir", str(root), "--threshold", "2"])
    assert bad.exit_code == 2 and "--threshold: must be in (0, 1]" in bad.output
