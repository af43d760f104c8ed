"""A user's own training data (JSON lines): round trip, malformed lines named by file, line and field with nothing
written, and hard negatives from the data reaching the loss."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from polyret.cli import app
from polyret.data.groups import Group
from polyret.data.sources.user import read_train_file, write_train_file
from polyret.data.training import load_training_groups
from polyret.errors import PolyretError
from polyret.sampling import make_sampler


def groups(n: int = 12, negatives: bool = True) -> list[Group]:
    return [Group(f"mine.jsonl/g{i}", "mine.jsonl", {"en": f"question number {i}?", "de": f"Frage Nummer {i}?"},
                  {"en": f"The answer passage number {i}.", "de": f"Die Antwortpassage Nummer {i}."}, {},
                  {"de": [f"Eine falsche Passage {i}."], "en": [f"A wrong passage {i}.", f"Another wrong one {i}."]}
                  if negatives else {})
            for i in range(n)]


def test_round_trip_and_cleaning_like_any_source(tmp_path: Path) -> None:
    path = tmp_path / "mine.jsonl"
    write_train_file(path, groups())
    assert list(read_train_file(path)) == groups()
    data = load_training_groups(tmp_path, sources=["none"], train_files=[path], languages=["en", "de"])
    assert data.groups == groups() and list(data.stats) == ["mine.jsonl"]
    assert data.stats["mine.jsonl"].pairs[("en", "de")] == 12 and str(path) in data.files
    both = load_training_groups(tmp_path, sources=["none"], train_files=[path], languages=["en"])
    assert both.groups[0].negatives == {"en": ["A wrong passage 0.", "Another wrong one 0."]}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"id": "a", "queries": {"en": "q"}, "passages": {}}\n{"id": "b", "passages": {}}',
         ":2: missing or invalid field 'queries'"),
        ('{"id": "a", "queries": {"en": 3}, "passages": {}}', ":1: field queries.en: expected a text"),
        ('{"id": "a", "queries": {"en": "q"}, "passages": {"en": "p"}, "negatives": {"en": "n"}}',
         ":1: field negatives.en: expected a list of texts"),
        ('{"id": "a", "queries": {"en": "q"}, "passages": {}, "negative": {}}', ":1: unknown field 'negative'"),
        ('{"id": "a", "queries": {"en": "q"}, "passages": {}}\n{"id": "a", "queries": {"en": "r"}, "passages": {}}',
         ":2: id 'a' repeats the id of"),
        ('{"queries": {"en": "q"}, "passages": {}}', ":1: missing or invalid field 'id'"),
        ('{"id": "a", "queries": {"en": "q"}}', ":1: missing or invalid field 'passages'"),
        ('{"id": "a", "queries"', ":1: malformed JSON"),
    ],
)
def test_malformed_line_names_file_line_and_field(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(line + "\n", encoding="utf-8")
    with pytest.raises(PolyretError) as caught:
        load_training_groups(tmp_path, sources=["none"], train_files=[path])
    assert f"{path}{message}" in str(caught.value) and "\n" not in str(caught.value)


def test_train_command_refuses_a_bad_file_and_writes_nothing(tiny_models: dict[str, Path], data_dir: Path,
                                                             tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1, "queries": {"en": "q"}, "passages": {"en": ["p"]}}\n', encoding="utf-8")
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["train", "--model", str(tiny_models["bert"]), "--data-dir", str(data_dir),
                                      "--sources", "none", "--train-file", str(bad), "--output", str(out),
                                      "--steps", "1", "--batch-size", "2"])
    assert result.exit_code != 0
    assert f"{bad}:1: field passages.en: expected a text" in " ".join(result.output.split())
    assert not out.exists()


def test_sampler_draws_negatives_in_the_positive_language_never_a_batch_positive() -> None:
    sampler = make_sampler("x_y", groups(), 6, seed=3, per_example_pairs=True)
    for step in range(20):
        batch = sampler.batch_at(step)
        assert len(batch.negatives) == len(batch)
        for gid, lang, negative in zip(batch.group_ids, batch.positive_langs, batch.negatives):
            group = next(g for g in groups() if g.id == gid)
            assert negative in group.negatives[lang] and negative not in batch.positives
    assert make_sampler("x_y", groups(negatives=False), 6).batch_at(0).negatives == []


def test_hard_negatives_from_the_file_reach_the_loss(tiny_models: dict[str, Path], data_dir: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    from polyret.train.config import load_config
    from polyret.train.loop import train
    from polyret.train.loss import InfoNCELoss

    path = tmp_path / "mine.jsonl"
    write_train_file(path, groups())
    seen: list[tuple[int, int | None]] = []
    original = InfoNCELoss.forward

    def recording(self, q, p, n=None):  # type: ignore[no-untyped-def]
        seen.append((q.shape[0], None if n is None else n.shape[0]))
        return original(self, q, p, n)

    monkeypatch.setattr(InfoNCELoss, "forward", recording)
    out = tmp_path / "run"
    config = load_config(None, {"model": str(tiny_models["bert"]), "strategy": "hybrid", "steps": 3, "batch_size": 4,
                                "data_dir": data_dir, "sources": "none", "train_files": [path],
                                "languages": "en,de", "output": out, "check_leakage": False})
    train(config)
    assert seen == [(4, 4)] * 3  # every example had a negative in its positive's language
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert [r["negatives"] for r in records] == [4, 4, 4]
    assert all(r["sources"] == {"mine.jsonl": 4} for r in records)
