"""Evaluation as stages: called alone, in order, they give exactly what `polyret evaluate` writes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from polyret.evaluate.config import EvaluateConfig
from polyret.evaluate.runner import evaluate, transform_spec
from polyret.evaluate.stages import encode_benchmark, read_source_texts, score, search, transform
from polyret.data.generic import load_generic
from polyret.model.encoder import Encoder, EncoderOptions


def test_stages_called_alone_reproduce_evaluate(tmp_path: Path, tiny_models: dict[str, Path],
                                                parallel_bench: Path) -> None:
    bench = load_generic(parallel_bench, None)
    encoder = Encoder(EncoderOptions(model=str(tiny_models["bert"]), cache_dir=tmp_path / "cache"))
    options = EvaluateConfig(model=str(tiny_models["bert"]), benchmark=str(parallel_bench),
                             output=tmp_path / "out")
    result = evaluate(bench, encoder, options, tmp_path / "out", Console(quiet=True))
    written = json.loads((tmp_path / "out" / "results.json").read_text())
    assert written["metrics"]["mul_map"] == result["metrics"]["mul_map"]

    queries, candidates, _ = encode_benchmark(bench, encoder, Console(quiet=True))
    metrics = score(bench, search(bench, queries, candidates))
    for key in ("mo_map", "cr_map", "mul_map", "r_at_1", "r_at_10", "rank_distance"):
        assert getattr(metrics, key) == written["metrics"][key], key
    # an independent computation from the vectors alone: whole-pool AP of each query by brute force
    scores = queries.astype(np.float64) @ candidates.astype(np.float64).T
    index = {c.id: i for i, c in enumerate(bench.candidates)}
    aps = []
    for row, query in enumerate(bench.queries):
        order = np.argsort(-scores[row], kind="stable")
        rank_of = np.empty(len(order), dtype=np.int64)
        rank_of[order] = np.arange(1, len(order) + 1)
        ranks = np.sort([rank_of[index[c]] for c in bench.qrels[query.id]])
        aps.append(np.mean(np.arange(1, len(ranks) + 1) / ranks))
    assert metrics.mul_map == pytest.approx(float(np.mean(aps)), abs=1e-12)
    # no transform: the transform stage hands the vectors through untouched
    none = transform(None, bench, encoder, options, {}, queries, candidates, Console(quiet=True))
    assert none.queries is queries and none.stats is None and none.section is None
    centred = options.model_copy(update={"transform": "center", "transform_source": "oracle-eval-pool", "allow_oracle": True})
    spec = transform_spec(centred)
    moved = transform(spec, bench, encoder, centred, read_source_texts(spec, centred, bench.languages), queries,
                      candidates, Console(quiet=True))
    centred_run = evaluate(bench, encoder, centred.model_copy(update={"output": tmp_path / "c"}), tmp_path / "c",
                           Console(quiet=True))
    assert not np.allclose(moved.queries, queries)
    assert score(bench, search(bench, moved.queries, moved.candidates)).mul_map == centred_run["metrics"]["mul_map"]
    assert moved.section["stats_sha256"] == centred_run["transform"]["stats_sha256"]
