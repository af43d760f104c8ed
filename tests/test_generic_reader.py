"""The generic multilingual format: round trip and errors that name file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from polyret.data.generic import load_generic
from polyret.errors import PolyretError
from builders import write_generic




CORPUS = [{"id": "d1", "text": "Paris is the capital of France.", "lang": "en", "title": "kept"},
          {"id": "d2", "text": "Paris ist die Hauptstadt Frankreichs.", "lang": "de"},
          {"id": "d3", "text": "Berlin is in Germany.", "lang": "en"}]
QUERIES = [{"id": "q1", "text": "capital of France?", "lang": "en"},
           {"id": "q2", "text": "Hauptstadt von Deutschland?", "lang": "de"},
           {"id": "q3", "text": "no answer here", "lang": "en"}]
QRELS = ["q1 0 d1 1", "q1 0 d2 2", "q2\t0\td3\t1", "q3 0 d3 0"]


def test_round_trip(tmp_path: Path) -> None:
    bench = load_generic(write_generic(tmp_path / "b", CORPUS, QUERIES, QRELS))
    assert [q.id for q in bench.queries] == ["q1", "q2"]  # q3 has only relevance 0
    assert bench.qrels["q1"] == {"d1", "d2"} and bench.qrels["q2"] == {"d3"}
    assert bench.options["queries_without_relevant"] == 1
    assert set(bench.files) == {"corpus.jsonl", "queries.jsonl", "qrels.tsv"}


def test_language_subset(tmp_path: Path) -> None:
    bench = load_generic(write_generic(tmp_path / "b", CORPUS, QUERIES, QRELS), languages=["en"])
    assert [q.id for q in bench.queries] == ["q1"] and bench.qrels["q1"] == {"d1"}


def test_empty_subset_is_an_error(tmp_path: Path) -> None:
    root = write_generic(tmp_path / "b", CORPUS, QUERIES, ["q2 0 d3 1"])
    with pytest.raises(PolyretError, match="no queries"):
        load_generic(root, languages=["en"])


@pytest.mark.parametrize(
    ("corpus_text", "qrels", "message"),
    [
        ('{"id": "d1", "text": "x", "lang": "en"}\n{"id": "d2", "text": "y"\n', QRELS, r"corpus.jsonl:2: malformed JSON"),
        ('{"id": "d1", "text": "x"}\n', QRELS, r"corpus.jsonl:1: missing or invalid field 'lang'"),
        (None, ["q1 0 d9 1"], r"qrels.tsv:1: unknown document id 'd9'"),
        (None, ["q1 0 d1"], r"qrels.tsv:1: expected 'qid 0 docid relevance'"),
        (None, ["q1 0 d1 yes"], r"qrels.tsv:1: relevance 'yes' is not an integer"),
    ],
)
def test_bad_input(tmp_path: Path, corpus_text: str | None, qrels: list[str], message: str) -> None:
    root = write_generic(tmp_path / "b", CORPUS, QUERIES, qrels)
    if corpus_text is not None:
        (root / "corpus.jsonl").write_text(corpus_text)
    with pytest.raises(PolyretError, match=message):
        load_generic(root)


def test_missing_file(tmp_path: Path) -> None:
    root = write_generic(tmp_path / "b", CORPUS, QUERIES, QRELS)
    (root / "qrels.tsv").unlink()
    with pytest.raises(PolyretError, match=r"qrels.tsv: file not found"):
        load_generic(root)
