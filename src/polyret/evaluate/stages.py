"""Evaluation as stages a user can call alone: noise the queries, encode, transform, search, score, write artefacts.

`polyret evaluate` (evaluate/runner.evaluate) is these stages in order plus the result file; a researcher who wants
only the vectors, or to score ranks of their own, calls one stage:

    queries, candidates, _ = encode_benchmark(bench, encoder, console)
    ranks = search(bench, queries, candidates)
    metrics = score(bench, ranks)          # RetrievalMetrics: mo_map, cr_map, mul_map, ...
"""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from polyret.data.benchmark import RetrievalBenchmark
from polyret.evaluate.config import EvaluateConfig
from polyret.evaluate.metrics import RetrievalMetrics, compute_metrics, write_trec_run
from polyret.evaluate.search import exact_search
from polyret.evaluate.transforms import (ROLES, LanguageMeans, Role, TransformSpec, apply_transform, sample_indices,
                                         tatoeba_texts, training_texts)
from polyret.model.encoder import Encoder
from polyret.noise.apply import QueryNoise
from polyret.report.figures import pair_heatmap


def noise_queries(bench: RetrievalBenchmark, noise: QueryNoise | None
                  ) -> tuple[RetrievalBenchmark, dict[str, Any] | None]:
    """The benchmark with its queries noised by the plan (candidates untouched), and what the noise did."""
    if noise is None:
        return bench, None
    noised, tally = noise.apply(bench.queries)
    return replace(bench, queries=noised), {**noise.describe(), **tally.to_dict()}


MEMMAP_BYTES = 256 * 2**20
"""Embedding matrices above this size live in a memory-mapped file (a 1M x 384 pool is 1.5 GB)."""


def pool_array(encoder: Encoder, n: int) -> np.ndarray | None:
    """None (a plain array) for small matrices; above MEMMAP_BYTES an unlinked temporary file mapped into memory,
    beside the embedding cache, so the pool's pages can leave RAM and it is never held twice."""
    if n * encoder.dim * 4 <= MEMMAP_BYTES:
        return None
    root = Path(encoder.cache().path).parent
    handle, name = tempfile.mkstemp(prefix="pool-", suffix=".f32", dir=root)
    os.close(handle)
    try:
        return np.memmap(name, dtype=np.float32, mode="w+", shape=(n, encoder.dim))
    finally:
        os.unlink(name)  # the mapping keeps the data; the file goes when the array does


def encode_with_progress(encoder: Encoder, jobs: list[tuple[list[str], Role]], console: Console,
                          label: str) -> tuple[list[np.ndarray], dict[str, Any]]:
    """Encode each (texts, role) job through the cache, with one progress bar over the texts not yet cached."""
    todo = sum(encoder.count_missing(texts, role) for texts, role in jobs)
    here_before = 0 if encoder.sharding is None else encoder.sharding.texts_here
    start = time.perf_counter()
    columns = (TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(), TextColumn("texts"),
               TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=False, disable=todo == 0) as bar:
        task = bar.add_task("encode", total=todo)
        def advance(n: int) -> None:
            bar.advance(task, n)

        arrays = [encoder.encode(texts, role, progress=advance, out=pool_array(encoder, len(texts)))
                  for texts, role in jobs]
    seconds = time.perf_counter() - start
    stats = {"texts_encoded": todo, "encode_seconds": round(seconds, 2),
             "texts_per_second": round(todo / seconds, 2) if todo and seconds > 0 else None,
             "distinct_texts": sum(len(set(encoder.prefixed(texts, role))) for texts, role in jobs),
             "ranks": 1 if encoder.sharding is None else encoder.sharding.world}
    if encoder.sharding is not None:
        stats["texts_encoded_on_rank_0"] = encoder.sharding.texts_here - here_before
    return arrays, stats


def encode_benchmark(
    bench: RetrievalBenchmark, encoder: Encoder, console: Console
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Query and candidate vectors, each distinct text encoded once and cached; with a progress bar."""
    q_texts = [q.text for q in bench.queries]
    c_texts = [c.text if c.context is None else f"{c.text} {c.context}" for c in bench.candidates]
    (queries, cands), stats = encode_with_progress(encoder, [(q_texts, "query"), (c_texts, "passage")], console,
                                                    "encoding")
    return queries, cands, stats


def read_source_texts(spec: TransformSpec, options: EvaluateConfig, languages: list[str]) -> dict[str, list[str]]:
    """The source's texts per language (none for the oracle); read before encoding, so a gap fails fast."""
    if spec.oracle:
        return {}
    reader = tatoeba_texts if spec.source == "tatoeba" else training_texts
    return reader(options.data_dir, languages, options.transform_max_per_language)


def estimate_transform_stats(
    spec: TransformSpec, bench: RetrievalBenchmark, encoder: Encoder, options: EvaluateConfig,
    source_texts: dict[str, list[str]], queries: np.ndarray, cands: np.ndarray, console: Console,
) -> tuple[LanguageMeans, dict[str, Any]]:
    """Per-role language means for the evaluation set's languages, from the named source (see transforms.py)."""
    langs = bench.languages
    if spec.oracle:
        rows = {"query": (queries, np.array([q.lang for q in bench.queries])),
                "passage": (cands, np.array([c.lang for c in bench.candidates]))}
        vectors: dict[Role, np.ndarray] = {}
        labels: dict[Role, list[str]] = {}
        for role, (matrix, row_langs) in rows.items():
            picked = np.concatenate([rows_of[sample_indices(len(rows_of), options.transform_max_per_language)]
                                     for rows_of in (np.flatnonzero(row_langs == lang) for lang in langs)])
            vectors[role], labels[role] = matrix[picked], row_langs[picked].tolist()
        return LanguageMeans.estimate(vectors, labels, langs, spec.source), {}
    flat = [t for lang in langs for t in source_texts[lang]]
    flat_langs = [lang for lang in langs for _ in source_texts[lang]]
    arrays, stats = encode_with_progress(encoder, [(flat, role) for role in ROLES], console,
                                          f"{spec.source} statistics")
    return LanguageMeans.estimate(dict(zip(ROLES, arrays)), {role: flat_langs for role in ROLES}, langs,
                                  spec.source), stats


Arrays = tuple[list[str], np.ndarray, np.ndarray, list[np.ndarray]]  # what index_arrays returns


def index_arrays(bench: RetrievalBenchmark) -> Arrays:
    """The benchmark as arrays: its languages, each query's and candidate's language index, each query's relevant
    candidate rows."""
    langs = bench.languages
    lang_index = {lang: i for i, lang in enumerate(langs)}
    cand_index = {c.id: i for i, c in enumerate(bench.candidates)}
    query_lang = np.array([lang_index[q.lang] for q in bench.queries], dtype=np.int64)
    cand_lang = np.array([lang_index[c.lang] for c in bench.candidates], dtype=np.int64)
    relevant = [np.array(sorted(cand_index[c] for c in bench.qrels[q.id]), dtype=np.int64) for q in bench.queries]
    return langs, query_lang, cand_lang, relevant


@dataclass(frozen=True)
class Transformed:
    """Vectors after the transform stage; `stats` and `section` (what results.json records) are None without one."""

    queries: np.ndarray
    candidates: np.ndarray
    stats: LanguageMeans | None = None
    section: dict[str, Any] | None = None


def transform(spec: TransformSpec | None, bench: RetrievalBenchmark, encoder: Encoder, options: EvaluateConfig,
              source_texts: dict[str, list[str]], queries: np.ndarray, cands: np.ndarray,
              console: Console) -> Transformed:
    """Apply the training-free transform (none: the vectors as they are), with statistics from its source."""
    if spec is None:
        return Transformed(queries, cands)
    t0 = time.perf_counter()
    stats, source_encoding = estimate_transform_stats(spec, bench, encoder, options, source_texts, queries, cands,
                                                      console)
    section = {
        "name": spec.name, "k": spec.k, "source": spec.source, "oracle": spec.oracle,
        "max_per_language": options.transform_max_per_language,
        "statistics": "per role: query-side means from texts encoded as queries, candidate-side from passages",
        "counts": stats.counts, "stats_sha256": stats.sha256(),
        "source_encoding": source_encoding, "seconds": round(time.perf_counter() - t0, 2),
    }
    return Transformed(apply_transform(spec, stats, queries, [q.lang for q in bench.queries], "query"),
                       apply_transform(spec, stats, cands, [c.lang for c in bench.candidates], "passage"),
                       stats, section)


def search(bench: RetrievalBenchmark, queries: np.ndarray, cands: np.ndarray, k: int = 10,
           device: torch.device | None = None, arrays: Arrays | None = None) -> Any:
    """Exact search over the whole pool: every relevant candidate's rank and the top k (evaluate/search.py).
    `arrays`: index_arrays(bench), when the caller already has them."""
    langs, _, cand_lang, relevant = arrays or index_arrays(bench)
    return exact_search(queries, cands, relevant, cand_lang, n_langs=len(langs), k=k,
                        device=device or torch.device("cpu"))


def score(bench: RetrievalBenchmark, ranks: Any, arrays: Arrays | None = None) -> RetrievalMetrics:
    """Every LAReQA measure (evaluate/metrics.py) from the search stage's ranks (`arrays` as for `search`)."""
    langs, query_lang, cand_lang, _ = arrays or index_arrays(bench)
    return compute_metrics(ranks, query_lang, cand_lang, langs, query_ids=[q.id for q in bench.queries])


def write_artefacts(output: Path, bench: RetrievalBenchmark, model: str, metric_dict: dict[str, Any], ranks: Any,
                    spec: TransformSpec | None, trec_run: bool = False) -> None:
    """The per-pair heatmap (and a TREC run) beside the results."""
    pair = metric_dict["pair_map"]
    label = "" if spec is None else f" + {spec.label} ({'ORACLE: ' if spec.oracle else ''}{spec.source} stats)"
    pair_heatmap(pair["matrix"], pair["languages"], output / "pair_map.png",
                 title=f"{bench.name}: per-pair mAP, {model}{label}\n"
                       + "  ".join(f"{name} {_num(metric_dict[key])}" for name, key in
                                   (("Mo", "mo_map"), ("Cr", "cr_map"), ("Mul", "mul_map"))))
    if trec_run:
        write_trec_run(output / "run.trec", ranks, [q.id for q in bench.queries], [c.id for c in bench.candidates],
                       tag=model)


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
