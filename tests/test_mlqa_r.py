"""MLQA-R: the reader against the published files, every metric on a hand-made 3-language case worked out by hand,
the command line end to end, and the errors on bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from polyret.cli import app
from polyret.data.leakage import evaluation_texts
from polyret.data.mlqa_r import MLQA_R_LANGUAGES, load_mlqa_r
from polyret.errors import PolyretError
from polyret.evaluate.metrics import compute_metrics, cross_check
from polyret.evaluate.stages import index_arrays as _index_arrays
from polyret.evaluate.search import exact_search

runner = CliRunner()


# ------------------------------------------------------------------------------------------ the published files
def test_whole_pool_matches_lareqa_counts(data_dir: Path) -> None:
    bench = load_mlqa_r(data_dir)
    assert (len(bench.queries), len(bench.candidates)) == (4_199, 20_534)
    per_lang = {lang: sum(q.lang == lang for q in bench.queries) for lang in MLQA_R_LANGUAGES}
    assert per_lang == {"ar": 517, "de": 512, "en": 1148, "es": 500, "hi": 507, "vi": 511, "zh": 504}
    sizes = {len(rel) for rel in bench.qrels.values()}
    assert sizes == {2, 3, 4}
    cands = {c.id: c for c in bench.candidates}
    for query in bench.queries:  # one relevant sentence per language where the question exists, its own included
        langs = [cands[c].lang for c in bench.qrels[query.id]]
        assert len(langs) == len(set(langs)) and query.lang in langs
    assert bench.options["relevant_set_sizes"] == {
        str(n): sum(len(r) == n for r in bench.qrels.values()) for n in (2, 3, 4)}
    assert len(bench.files) == 7


def test_subset_keeps_whole_relevant_sets(data_dir: Path) -> None:
    bench = load_mlqa_r(data_dir, articles=10)
    full = load_mlqa_r(data_dir)
    assert 0 < len(bench.queries) < len(full.queries)
    ids = {q.id.split("/", 1)[1] for q in bench.queries}
    full_sizes = {q.id: len(full.qrels[q.id]) for q in full.queries if q.id.split("/", 1)[1] in ids}
    assert {q.id: len(bench.qrels[q.id]) for q in bench.queries} == full_sizes


def test_leakage_guard_covers_mlqa_r(data_dir: Path) -> None:
    records = evaluation_texts(data_dir)
    mlqa = [r for r in records if r.id.startswith("mlqa-r:")]
    assert len(mlqa) == 4_199 + 20_534


# ------------------------------------------------------------------------------------------ a hand-made case
def _article(title: str, sentences: list[str], qas: list[tuple[str, str, int]]) -> dict[str, Any]:
    """One article of one paragraph; qas are (id, question, index of the answer sentence)."""
    context, breaks = "", []
    for sentence in sentences:
        start = len(context)
        context += sentence + " "
        breaks.append([start, start + len(sentence)])
    return {"title": title, "paragraphs": [{
        "context": context, "sentences": sentences, "sentence_breaks": breaks,
        "qas": [{"id": qid, "question": question, "answers": [{"text": "x", "answer_start": breaks[i][0] + 1}]}
                for qid, question, i in qas]}]}


def write_mlqa(root: Path, files: dict[str, list[dict[str, Any]]]) -> Path:
    (root / "mlqa-r").mkdir(parents=True, exist_ok=True)
    for lang, articles in files.items():
        (root / "mlqa-r" / f"{lang}.json").write_text(json.dumps({"version": "1.0", "data": articles}))
    return root


QA, QB = "a" * 40, "b" * 40  # MLQA ids are 40 hex digits; question b does not exist in Spanish
HAND = {
    "en": [_article("E", ["E zero.", "E one."], [(QA, "en question a", 0), (QB, "en question b", 1)])],
    "de": [_article("D", ["D null.", "D eins."], [(QA, "de Frage a", 0), (QB, "de Frage b", 1)])],
    "es": [_article("S", ["S cero.", "S uno."], [(QA, "es pregunta a", 0)])],
}
# Scores: rows en/a, en/b, de/a, de/b, es/a; columns E0 E1 D0 D1 S0 S1 (the reader's order).
SCORES = np.array([
    [0.9, 0.8, 0.3, 0.7, 0.5, 0.1],
    [0.2, 0.6, 0.9, 0.4, 0.8, 0.1],
    [0.4, 0.1, 0.8, 0.9, 0.2, 0.3],
    [0.1, 0.9, 0.2, 0.8, 0.3, 0.4],
    [0.5, 0.6, 0.7, 0.1, 0.2, 0.9],
])


def test_every_metric_on_a_hand_worked_case(tmp_path: Path) -> None:
    bench = load_mlqa_r(write_mlqa(tmp_path, HAND), languages=["en", "de", "es"])
    assert [q.id for q in bench.queries] == [f"en/{QA}", f"en/{QB}", f"de/{QA}", f"de/{QB}", f"es/{QA}"]
    assert [c.text for c in bench.candidates] == ["E zero.", "E one.", "D null.", "D eins.", "S cero.", "S uno."]
    assert bench.options["relevant_set_sizes"] == {"2": 2, "3": 3}  # b: en, de; a: en, de, es
    langs, query_lang, cand_lang, relevant = _index_arrays(bench)
    assert langs == ["de", "en", "es"]
    # candidate vectors are the unit axes, so a query's vector is its row of scores
    ranks = exact_search(SCORES.astype(np.float32), np.eye(6, dtype=np.float32), relevant, cand_lang,
                         n_langs=3, k=6)
    m = compute_metrics(ranks, query_lang, cand_lang, langs, query_ids=[q.id for q in bench.queries])
    # Mul ranks of the relevant items, by hand: en/a 1,4,5; en/b 3,4; de/a 2,3,5; de/b 1,2; es/a 2,4,5
    ap = [(1 / 1 + 2 / 4 + 3 / 5) / 3, (1 / 3 + 2 / 4) / 2, (1 / 2 + 2 / 3 + 3 / 5) / 3, 1.0, (1 / 2 + 2 / 4 + 3 / 5) / 3]
    np.testing.assert_allclose(m.query_mul_ap, ap)
    assert m.mul_map == pytest.approx(np.mean(ap))
    assert m.mul_mrr == pytest.approx(np.mean([1, 1 / 3, 1 / 2, 1, 1 / 2]))
    assert m.mul_r_at_1 == pytest.approx(np.mean([1 / 3, 0, 0, 1 / 2, 0]))
    assert m.mul_r_at_10 == pytest.approx(1.0)
    np.testing.assert_allclose(m.query_rank_distance, [4, 1, 3, 1, 3])
    assert m.rank_distance == pytest.approx(np.mean([(4 + 1) / 2, (3 + 1) / 2, 3]))  # per query language (en de es)
    # Pair cells (rows = query language de, en, es; columns = candidate language): AP = 1 / rank among the two
    # sentences of the column language, over the queries whose question exists there (b never counts for es).
    expected = np.array([[0.75, 1.0, 0.5],   # de->de: a 1/2, b 1;  de->en: 1, 1;  de->es: a only 1/2
                         [0.5, 1.0, 1.0],    # en->de: 1/2, 1/2;   en->en: 1, 1;  en->es: a only 1
                         [1.0, 0.5, 0.5]])   # es->de: 1;          es->en: 1/2;   es->es: 1/2
    np.testing.assert_allclose(m.pair_map, expected)
    np.testing.assert_array_equal(m.pair_n_queries, [[2, 2, 1], [2, 2, 1], [1, 1, 1]])
    assert m.mo_map == pytest.approx((0.75 + 1.0 + 0.5) / 3)
    assert m.cr_map == pytest.approx((1.0 + 0.5 + 0.5 + 1.0 + 1.0 + 0.5) / 6)
    r1 = np.array([[0.5, 1, 0], [0, 1, 1], [1, 0, 0]])
    np.testing.assert_allclose(m.pair_r_at_1, r1)
    assert m.r_at_1 == pytest.approx(r1.mean())
    assert m.r_at_10 == pytest.approx(1.0)
    cross_check(ranks, m)  # ir_measures agrees on the Mul measures (raises otherwise)


def test_evaluate_command_on_mlqa_r(tmp_path: Path, tiny_models: dict[str, Path]) -> None:
    root = write_mlqa(tmp_path / "data", HAND)
    out = tmp_path / "out"
    done = runner.invoke(app, ["evaluate", "--model", str(tiny_models["bert"]), "--benchmark", "mlqa-r",
                               "--data-dir", str(root), "--languages", "en,de,es", "--output", str(out)])
    assert done.exit_code == 0, done.output
    result = json.loads((out / "results.json").read_text())
    assert result["benchmark"]["name"] == "mlqa-r"
    assert (result["benchmark"]["n_queries"], result["benchmark"]["n_candidates"]) == (5, 6)
    assert result["benchmark"]["relevant_set_sizes"] == {"2": 2, "3": 3}
    assert set(result["benchmark"]["files_sha256"]) == {"mlqa-r/en.json", "mlqa-r/de.json", "mlqa-r/es.json"}
    assert result["metrics"]["pair_n_queries"]["matrix"] == [[2, 2, 1], [2, 2, 1], [1, 1, 1]]
    assert result["library_cross_check"]


# ------------------------------------------------------------------------------------------ bad input
def _all_seven(extra: dict[str, list[dict[str, Any]]] | None = None) -> dict[str, list[dict[str, Any]]]:
    files = {lang: [_article(lang, [f"{lang} s0.", f"{lang} s1."], [(QA, f"{lang} q", 0)])] for lang in MLQA_R_LANGUAGES}
    return {**files, **(extra or {})}


def test_the_seven_files_load_and_a_lonely_question_is_named(tmp_path: Path) -> None:
    assert len(load_mlqa_r(write_mlqa(tmp_path / "ok", _all_seven())).queries) == 7
    lonely = _all_seven({"de": [_article("de", ["de s0.", "de s1."], [(QA, "de q", 0), (QB, "only here", 1)])]})
    with pytest.raises(PolyretError, match=rf"de\.json: question id {QB} exists in this language only"):
        load_mlqa_r(write_mlqa(tmp_path / "lonely", lonely))
    # with a language subset the same question keeps its one relevant sentence (the documented rule)
    bench = load_mlqa_r(write_mlqa(tmp_path / "lonely", lonely), languages=["de", "en"])
    assert len(bench.qrels[f"de/{QB}"]) == 1


def test_answer_outside_every_sentence_is_named(tmp_path: Path) -> None:
    files = _all_seven()
    files["hi"][0]["paragraphs"][0]["qas"][0]["answers"][0]["answer_start"] = 10_000
    with pytest.raises(PolyretError, match=rf"hi\.json.*id {QA}\): answer_start 10000 lies outside"):
        load_mlqa_r(write_mlqa(tmp_path, files))


def test_missing_language_file_and_unknown_language(tmp_path: Path) -> None:
    root = write_mlqa(tmp_path, _all_seven())
    (root / "mlqa-r" / "vi.json").unlink()
    with pytest.raises(PolyretError, match=r"mlqa-r/vi\.json: file not found"):
        load_mlqa_r(root)
    with pytest.raises(PolyretError, match="unknown language code 'th' for MLQA-R"):
        load_mlqa_r(root, languages=["th"])
    with pytest.raises(PolyretError, match="MLQA-R directory not found"):
        load_mlqa_r(tmp_path / "nowhere")
