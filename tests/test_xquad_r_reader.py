"""The XQuAD-R reader against the published files, and its errors on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from polyret.data.xquad_r import XQUAD_R_LANGUAGES, load_xquad_r
from polyret.errors import PolyretError


def test_full_pool_matches_lareqa_counts(data_dir: Path) -> None:
    bench = load_xquad_r(data_dir)
    assert len(bench.queries) == 13_090
    assert len(bench.candidates) == 13_014
    assert all(len(rel) == 11 for rel in bench.qrels.values())
    assert len(bench.files) == 11 and all(len(h) == 64 for h in bench.files.values())


def test_relevant_sentence_holds_the_answer(data_dir: Path) -> None:
    bench = load_xquad_r(data_dir, languages=["en", "de"], articles=2)
    raw = json.loads((data_dir / "xquad-r" / "en.json").read_text())
    answers = {qa["id"]: qa["answers"][0]["text"] for art in raw["data"][:2] for p in art["paragraphs"] for qa in p["qas"]}
    cands = {c.id: c for c in bench.candidates}
    for query in bench.queries:
        rel = bench.qrels[query.id]
        assert {cands[c].lang for c in rel} == {"en", "de"}  # one per language
        if query.lang == "en":
            en_sentence = next(cands[c].text for c in rel if cands[c].lang == "en")
            assert answers[query.id.split("/", 1)[1]] in en_sentence


def test_first_k_articles_subset_is_the_design_probe(data_dir: Path) -> None:
    bench = load_xquad_r(data_dir, articles=4)
    assert (len(bench.queries), len(bench.candidates)) == (1485, 915)  # docs/design.md section 3 probe


def test_language_subset_restricts_both_sides(data_dir: Path) -> None:
    bench = load_xquad_r(data_dir, languages=["ar", "zh"], articles=3)
    assert {q.lang for q in bench.queries} == {"ar", "zh"} == {c.lang for c in bench.candidates}
    assert all(len(rel) == 2 for rel in bench.qrels.values())


def _write_lang(root: Path, lang: str, data: object) -> Path:
    (root / "xquad-r").mkdir(parents=True, exist_ok=True)
    path = root / "xquad-r" / f"{lang}.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def _article(start: int = 6, breaks: object = ([0, 5], [6, 11])) -> dict:
    para = {"context": "Hello world", "sentences": ["Hello", "world"], "sentence_breaks": list(breaks),
            "qas": [{"id": "q1", "question": "Which?", "answers": [{"answer_start": start, "text": "world"}]}]}
    return {"data": [{"title": "T", "paragraphs": [para]}]}


def test_tiny_valid_file_reads(tmp_path: Path) -> None:
    _write_lang(tmp_path, "en", _article())
    bench = load_xquad_r(tmp_path, languages=["en"])
    assert bench.qrels == {"en/q1": {"en/0/0/1"}}


@pytest.mark.parametrize(
    ("content", "languages", "message"),
    [
        (None, ["en"], "en.json: file not found"),
        ('{"data": [', ["en"], "malformed JSON at line 1"),
        (_article(start=40), ["en"], "answer_start 40 lies outside every sentence break"),
        ({"data": [{"paragraphs": [{"context": "x", "sentences": ["x"], "qas": []}]}]}, ["en"],
         "paragraphs[0]: missing or invalid field 'sentence_breaks'"),
        (_article(), ["xx"], "unknown language code 'xx'"),
        (_article(), ["en", "en"], "named twice"),
    ],
)
def test_bad_input_names_the_fault(tmp_path: Path, content: object, languages: list[str], message: str) -> None:
    if content is not None:
        _write_lang(tmp_path, "en", content)
    else:
        (tmp_path / "xquad-r").mkdir()
    with pytest.raises(PolyretError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_xquad_r(tmp_path, languages=languages)


def test_article_count_out_of_range(tmp_path: Path) -> None:
    _write_lang(tmp_path, "en", _article())
    with pytest.raises(PolyretError, match="--articles"):
        load_xquad_r(tmp_path, languages=["en"], articles=0)


def test_misaligned_files_are_refused(tmp_path: Path) -> None:
    _write_lang(tmp_path, "en", _article())
    two = _article()
    extra = _article()["data"][0]
    extra["paragraphs"][0]["qas"][0]["id"] = "q2"
    two["data"].append(extra)
    _write_lang(tmp_path, "de", two)
    with pytest.raises(PolyretError, match="not aligned"):
        load_xquad_r(tmp_path, languages=["en", "de"])


def test_languages_constant_matches_files(data_dir: Path) -> None:
    assert sorted(p.stem for p in (data_dir / "xquad-r").glob("*.json")) == sorted(XQUAD_R_LANGUAGES)
