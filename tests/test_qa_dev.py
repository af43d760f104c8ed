"""qa-dev: the native-QA development set. Pool and relevance on a hand-built root, the evaluation-overlap guard,
the refusal of a model that trained on its sources, and on the real data an independent check of every answer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from builders import write_training_root
from typer.testing import CliRunner

from polyret.cli import app
from polyret.data import qa_dev
from polyret.data.leakage import TextRecord
from polyret.data.benchmark import RetrievalBenchmark
from polyret.data.held_out import check_held_out, trained_sources
from polyret.data.qa_dev import load_qa_dev
from polyret.errors import PolyretError

runner = CliRunner()

# two ARCD paragraphs; "جملة مشتركة هنا." occurs in both, so it must be one candidate
P1 = "الجملة الأولى عن القاهرة. جملة مشتركة هنا. الجملة الثالثة عن النيل."
P2 = "جملة مشتركة هنا. فقرة ثانية عن بغداد."


def _qa(qid: str, question: str, context: str, answer: str) -> dict[str, object]:
    return {"id": qid, "question": question, "answers": [{"text": answer, "answer_start": context.index(answer)}]}


def _root(tmp_path: Path) -> Path:
    root = write_training_root(tmp_path / "data")
    arcd = {"data": [{"title": "T", "paragraphs": [
        {"context": P1, "qas": [_qa("a1", "ما عن القاهرة؟", P1, "القاهرة"), _qa("a2", "ما عن النيل؟", P1, "النيل")]},
        {"context": P2, "qas": [_qa("a3", "ما عن بغداد؟", P2, "بغداد")]},
    ]}]}
    (root / "train" / "arcd" / "arcd.json").write_text(json.dumps(arcd), encoding="utf-8")
    return root


def _relevant_texts(bench, qid: str) -> set[str]:
    texts = {c.id: c.text for c in bench.candidates}
    return {texts[c] for c in bench.qrels[qid]}


def test_whole_paragraphs_pool_and_answer_sentences(tmp_path: Path) -> None:
    root = _root(tmp_path)
    two = load_qa_dev(root, questions_per_language=2, guard=False)
    ar = [q for q in two.queries if q.lang == "ar"]
    assert [q.id for q in ar] == ["ar/arcd/a1", "ar/arcd/a2"]  # the first paragraph has two: the limit is met
    assert {c.text for c in two.candidates if c.lang == "ar"} == {"الجملة الأولى عن القاهرة.", "جملة مشتركة هنا.",
                                                                   "الجملة الثالثة عن النيل."}
    three = load_qa_dev(root, questions_per_language=3, guard=False)
    ar_cands = [c for c in three.candidates if c.lang == "ar"]
    assert len(ar_cands) == 4  # 3 + 2 sentences, the shared one once
    assert _relevant_texts(three, "ar/arcd/a1") == {"الجملة الأولى عن القاهرة."}
    assert _relevant_texts(three, "ar/arcd/a2") == {"الجملة الثالثة عن النيل."}
    assert _relevant_texts(three, "ar/arcd/a3") == {"فقرة ثانية عن بغداد."}
    # every source's language is in the pool, each query's relevance stays in its own language
    assert {q.lang for q in three.queries} == {"ar", "tr", "zh", "th"}
    lang_of = {c.id: c.lang for c in three.candidates}
    assert all(lang_of[c] == q.lang for q in three.queries for c in three.qrels[q.id])
    assert "train/arcd/arcd.json" in three.files


def test_a_question_or_sentence_an_evaluation_set_holds_is_left_out(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    root = _root(tmp_path)
    # a near-copy of a question (a1) and the exact answer sentence of a3: both must go, and so must a3
    evaluation = [TextRecord("xquad-r:ar/1", "question", "ar", "ما عن القاهرة ؟"),
                  TextRecord("xquad-r:ar/s", "sentence", "ar", "فقرة ثانية عن بغداد."),
                  TextRecord("xquad-r:ar/x", "sentence", "ar", "نص آخر لا علاقة له بشيء في هذه الفقرات.")]
    monkeypatch.setattr(qa_dev, "evaluation_texts", lambda data_dir: evaluation)
    bench = load_qa_dev(root, questions_per_language=3)
    assert [q.id for q in bench.queries if q.lang == "ar"] == ["ar/arcd/a2"]
    assert "فقرة ثانية عن بغداد." not in {c.text for c in bench.candidates}
    assert bench.options["leaked"] == {"questions": 2, "sentences": 1}


def _model(path: Path, meta: dict[str, object], group_sources: dict[str, int] | None = None) -> Path:
    path.mkdir(parents=True)
    (path / "config.json").write_text("{}")
    (path / "polyret_model.json").write_text(json.dumps(meta))
    if group_sources is not None:
        (path / "sampler.json").write_text(json.dumps({"design": "x", "group_sources": group_sources}))
    return path


def test_a_model_trained_on_its_sources_is_refused(tmp_path: Path) -> None:
    bench = RetrievalBenchmark("qa-dev", [], [], {}, built_from=frozenset(qa_dev.SOURCES))
    read_all = {"training": {"data_files_sha256": {"train/arcd/arcd.json": "x", "train/xnli/dev-ar.tsv": "x"}}}
    check_held_out(bench, _model(tmp_path / "untrained", {"pooling": "mean"}), "m")  # no training record of ours
    check_held_out(bench, "intfloat/multilingual-e5-small", "m")  # a hub id: not a polyret training
    # the controlled design reads every source but its batches draw from XNLI and NTREX only: it passes
    controlled = _model(tmp_path / "controlled", read_all, {"xnli": 830, "ntrex": 261})
    assert trained_sources(controlled) == {"xnli", "ntrex"}
    check_held_out(bench, controlled, "m")
    practical = _model(tmp_path / "practical", read_all, {"arcd": 10, "xnli": 830})
    with pytest.raises(PolyretError, match="trained on arcd"):
        check_held_out(bench, practical, "--model m")
    # no sampler record: every source whose files the training read counts
    with pytest.raises(PolyretError, match="qa-dev is built from"):
        check_held_out(bench, _model(tmp_path / "no-record", read_all), "m")
    # an interpolated model of the practical one, and a model trained further from it: the chain counts
    interpolated = _model(tmp_path / "interpolated", {"interpolation": {"finetuned": str(practical)},
                                                      "finetuned_training": read_all["training"]})
    with pytest.raises(PolyretError, match="arcd"):
        check_held_out(bench, interpolated, "m")
    child = _model(tmp_path / "child", {"base_model": {"spec": str(practical), "kind": "local"}, **read_all},
                   {"xnli": 5})
    assert trained_sources(child) == {"xnli", "arcd"}
    with pytest.raises(PolyretError, match="arcd"):
        check_held_out(bench, child, "m")


def test_cli_refuses_before_writing_anything(tmp_path: Path, data_dir: Path) -> None:
    model = _model(tmp_path / "model", {"training": {"data_files_sha256": {"train/cmrc2018/cmrc2018_dev.json": "x"}}},
                   {"cmrc2018": 3})
    out = tmp_path / "out"
    result = runner.invoke(app, ["evaluate", "--model", str(model), "--benchmark", "qa-dev", "--articles", "5",
                                 "--data-dir", str(data_dir), "--output", str(out)])
    assert result.exit_code != 0 and "trained on cmrc2018" in result.output
    assert not out.exists()


def test_library_evaluate_refuses_a_hand_built_development_set_too(tmp_path: Path) -> None:
    """`runner.evaluate` is the library's entry: a caller who loads or builds a benchmark with `built_from` and
    scores a model that trained on one of those sources is refused before anything is encoded or written."""
    from types import SimpleNamespace

    from polyret.data.benchmark import Candidate, Query
    from polyret.evaluate.config import EvaluateConfig
    from polyret.evaluate.runner import evaluate

    model = _model(tmp_path / "model", {"training": {"data_files_sha256": {}}}, {"tquad": 4, "xnli": 9})
    bench = RetrievalBenchmark("my-dev", [Query("q", "soru?", "tr")], [Candidate("c", "cevap.", "tr")],
                               {"q": {"c"}}, built_from=frozenset({"tquad"}))
    out = tmp_path / "out"
    encoder = SimpleNamespace(options=SimpleNamespace(model=str(model)))  # never reached: the check comes first
    with pytest.raises(PolyretError, match="trained on tquad, which my-dev is built from"):
        evaluate(bench, encoder, EvaluateConfig(model=str(model)), out)  # type: ignore[arg-type]
    assert not out.exists()
    # restricting the languages keeps what the benchmark is built from
    assert bench.restrict_languages(["tr"]).built_from == {"tquad"}


def test_every_answer_is_in_its_relevant_sentences_on_the_real_data(data_dir: Path) -> None:
    """Independent of the readers: the raw ARCD and CMRC files say what each question's answer is; the answer
    text must lie inside the question's relevant sentences (joined without spaces: an answer may cross a sentence
    break), and the guard must have run."""
    bench = load_qa_dev(data_dir, questions_per_language=60)
    answers: dict[str, str] = {}
    for source, files in (("arcd", ["arcd.json"]), ("cmrc2018", ["cmrc2018_dev.json", "cmrc2018_trial.json"])):
        for name in files:
            data = json.loads((data_dir / "train" / source / name).read_text(encoding="utf-8"))
            for article in data["data"]:
                for para in article["paragraphs"]:
                    for qa in para["qas"]:
                        answers[f"{source}/{qa['id']}"] = qa["answers"][0]["text"]
    texts = {c.id: c.text for c in bench.candidates}
    position = {c.id: i for i, c in enumerate(bench.candidates)}  # paragraph order
    checked = 0
    for q in bench.queries:
        gid = q.id.split("/", 1)[1]
        if gid in answers:
            joined = "".join(texts[c] for c in sorted(bench.qrels[q.id], key=position.get)).replace(" ", "")
            assert answers[gid].replace(" ", "") in joined, q.id
            checked += 1
    assert checked >= 100
    assert bench.options["guard"] and bench.options["leaked"] == {"questions": 0, "sentences": 0}
    sizes = {lang: sum(q.lang == lang for q in bench.queries) for lang in ("ar", "th", "tr", "zh")}
    assert all(60 <= n <= 90 for n in sizes.values()), sizes  # whole paragraphs: a little over the limit


def test_evaluate_scores_mo_on_qa_dev(tiny_models: dict[str, Path], data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = runner.invoke(app, ["evaluate", "--model", str(tiny_models["xlm-roberta"]), "--benchmark", "qa-dev",
                                 "--articles", "8", "--data-dir", str(data_dir), "--output", str(out)])
    assert result.exit_code == 0, result.output
    saved = json.loads((out / "results.json").read_text())
    assert saved["benchmark"]["name"] == "qa-dev" and saved["benchmark"]["questions_per_language"] == 8
    assert 0 < saved["metrics"]["mo_map"] <= 1
    assert saved["metrics"]["cr_map"] is None  # no cross-language relevance: undefined, not zero
