"""`polyret evaluate`: encode a benchmark once (cached), rank exactly, score, and write a citable result."""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import asdict, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from polyret.data.benchmark import RetrievalBenchmark
from polyret.data.generic import load_generic
from polyret.data.xquad_r import load_xquad_r
from polyret.errors import PolyretError
from polyret.evaluate.config import SAVED_CONFIG, EvaluateConfig
from polyret.evaluate.metrics import RetrievalMetrics, compute_metrics, cross_check, write_trec_run
from polyret.evaluate.search import exact_search
from polyret.evaluate.transforms import (ROLES, LanguageMeans, Role, TransformSpec, apply_transform, parse_transform,
                                         sample_indices, tatoeba_texts, training_texts)
from polyret.model.encoder import Encoder
from polyret.noise.apply import QueryNoise
from polyret.noise.tables import parse_spec
from polyret.provenance import code_version, environment
from polyret.report.figures import pair_heatmap
from polyret.report.io import write_json_atomic, write_text_atomic

STATS_FILE = "transform_stats.npz"
RESULT_FILES = ("results.json", "pair_map.png", "run.trec", STATS_FILE, "robustness.json", "robustness.png",
                SAVED_CONFIG)


def load_benchmark(options: EvaluateConfig) -> RetrievalBenchmark:
    """XQuAD-R, MLQA-R or the NTREX dialect benchmark / dev set by name (under data_dir), or a generic-format
    directory."""
    if options.benchmark == "xquad-r":
        return load_xquad_r(options.data_dir, options.languages, options.articles, options.candidate_context)
    if options.benchmark == "mlqa-r":
        from polyret.data.mlqa_r import load_mlqa_r

        return load_mlqa_r(options.data_dir, options.languages, options.articles, options.candidate_context)
    if options.benchmark in ("ntrex-dialects", "ntrex-dev"):
        from polyret.data.dialects import load_ntrex_benchmark

        dialects = options.benchmark == "ntrex-dialects"
        return load_ntrex_benchmark(options.data_dir, "test" if dialects else "dev", options.articles, dialects)
    path = Path(options.benchmark)
    if not path.exists():
        raise PolyretError(f"--benchmark: {options.benchmark!r} is neither a benchmark name (xquad-r, mlqa-r, "
                           "ntrex-dialects, ntrex-dev) nor an existing directory")
    if options.articles is not None:
        raise PolyretError("--articles applies to the named benchmarks only (xquad-r, mlqa-r: first K articles; "
                           "ntrex-*: first K sentences)")
    return load_generic(path, options.languages)


def transform_spec(options: EvaluateConfig) -> TransformSpec | None:
    """The parsed transform, or None; raises on a bad or unlabelled-oracle transform before any work is done."""
    if options.transform is None:
        return None
    return parse_transform(options.transform, options.transform_source, options.allow_oracle)


def query_noise(options: EvaluateConfig) -> QueryNoise | None:
    """The parsed query-noise plan; raises on a bad dialect spec before any work is done."""
    for spec in options.robustness_dialects or [] if options.robustness else []:
        parse_spec(spec)  # an unknown language or dialect fails here, before any work
    if not options.query_noise:
        return None
    return QueryNoise.parse(options.query_noise, options.noise_seed)


def prepare_output(output: Path, overwrite: bool) -> None:
    """Refuse to clobber earlier results unless asked. Nothing is deleted here: with --overwrite the old results
    stay until the new ones are ready to be written (clear_results, called by `evaluate` after encoding)."""
    existing = [name for name in RESULT_FILES if (output / name).exists()]
    if existing and not overwrite:
        raise PolyretError(f"{output}: already holds {existing[0]}; pass --overwrite to replace it")
    if output.exists() and not output.is_dir():
        raise PolyretError(f"{output}: exists and is not a directory")
    output.mkdir(parents=True, exist_ok=True)


def clear_results(output: Path) -> None:
    """Remove the result files an earlier evaluation wrote here (polyret's own file names only), so none of them
    is mistaken for part of the run about to be written."""
    for name in RESULT_FILES:
        (output / name).unlink(missing_ok=True)


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


def _encode_with_progress(encoder: Encoder, jobs: list[tuple[list[str], Role]], console: Console,
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
    (queries, cands), stats = _encode_with_progress(encoder, [(q_texts, "query"), (c_texts, "passage")], console,
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
    arrays, stats = _encode_with_progress(encoder, [(flat, role) for role in ROLES], console,
                                          f"{spec.source} statistics")
    return LanguageMeans.estimate(dict(zip(ROLES, arrays)), {role: flat_langs for role in ROLES}, langs,
                                  spec.source), stats


def _index_arrays(bench: RetrievalBenchmark) -> tuple[list[str], np.ndarray, np.ndarray, list[np.ndarray]]:
    langs = bench.languages
    lang_index = {lang: i for i, lang in enumerate(langs)}
    cand_index = {c.id: i for i, c in enumerate(bench.candidates)}
    query_lang = np.array([lang_index[q.lang] for q in bench.queries], dtype=np.int64)
    cand_lang = np.array([lang_index[c.lang] for c in bench.candidates], dtype=np.int64)
    relevant = [np.array(sorted(cand_index[c] for c in bench.qrels[q.id]), dtype=np.int64) for q in bench.queries]
    return langs, query_lang, cand_lang, relevant


def evaluate(
    bench: RetrievalBenchmark,
    encoder: Encoder,
    options: EvaluateConfig,
    output: Path,
    console: Console | None = None,
) -> dict[str, Any]:
    """Encode, rank, score; write results.json, the heatmap and optionally a TREC run into `output`."""
    console = console or Console(stderr=True)
    spec = transform_spec(options)
    noise = query_noise(options)
    noise_section: dict[str, Any] | None = None
    if noise is not None:
        noised_queries, tally = noise.apply(bench.queries)
        bench = replace(bench, queries=noised_queries)
        noise_section = {**noise.describe(), **tally.to_dict()}
    source_texts = read_source_texts(spec, options, bench.languages) if spec is not None else {}
    started = time.perf_counter()
    queries, cands, encode_stats = encode_benchmark(bench, encoder, console)
    clear_results(output)  # the model loaded and encoded: the old results can go
    transform_section: dict[str, Any] | None = None
    stats: LanguageMeans | None = None
    if spec is not None:
        t0 = time.perf_counter()
        stats, source_encoding = estimate_transform_stats(spec, bench, encoder, options, source_texts, queries,
                                                           cands, console)
        queries = apply_transform(spec, stats, queries, [q.lang for q in bench.queries], "query")
        cands = apply_transform(spec, stats, cands, [c.lang for c in bench.candidates], "passage")
        stats.save(output / STATS_FILE)
        transform_section = {
            "name": spec.name, "k": spec.k, "source": spec.source, "oracle": spec.oracle,
            "max_per_language": options.transform_max_per_language,
            "statistics": "per role: query-side means from texts encoded as queries, candidate-side from passages",
            "counts": stats.counts, "stats_file": STATS_FILE, "stats_sha256": stats.sha256(),
            "source_encoding": source_encoding, "seconds": round(time.perf_counter() - t0, 2),
        }
    langs, query_lang, cand_lang, relevant = _index_arrays(bench)
    if options.search != "exact":
        return _evaluate_topk(bench, encoder, options, output, queries, cands, relevant, encode_stats, started,
                              noise_section)
    t0 = time.perf_counter()
    ranks = exact_search(queries, cands, relevant, cand_lang, n_langs=len(langs), k=options.top_k,
                         device=encoder.device)
    metrics = compute_metrics(ranks, query_lang, cand_lang, langs, query_ids=[q.id for q in bench.queries])
    search_seconds = time.perf_counter() - t0
    metric_dict = metrics.to_dict(per_query=True)
    cross = cross_check(ranks, metrics)
    result = {
        **_identity(bench, encoder, options, metric_dict),
        "library_cross_check": cross,
        "search": {"engine": "exact", "device": str(encoder.device),
                   "path": "torch" if encoder.device.type == "cuda" else "numpy"},
        "transform": transform_section,
        "query_noise": noise_section,
        "code_version": code_version(),
        "environment": environment(),
        "timing": {**encode_stats, "search_seconds": round(search_seconds, 2),
                   "total_seconds": round(time.perf_counter() - started, 2)},
    }
    pair = metric_dict["pair_map"]
    label = "" if spec is None else f" + {spec.label} ({'ORACLE: ' if spec.oracle else ''}{spec.source} stats)"
    pair_heatmap(pair["matrix"], pair["languages"], output / "pair_map.png",
                 title=f"{bench.name}: per-pair mAP, {encoder.options.model}{label}\n"
                       + "  ".join(f"{name} {_num(metric_dict[key])}" for name, key in
                                   (("Mo", "mo_map"), ("Cr", "cr_map"), ("Mul", "mul_map"))))
    if options.trec_run:
        write_trec_run(output / "run.trec", ranks, [q.id for q in bench.queries], [c.id for c in bench.candidates],
                       tag=encoder.options.model)
    if options.robustness:
        t0 = time.perf_counter()
        result["robustness"] = _robustness(bench, encoder, options, spec, stats, cands, relevant, query_lang,
                                           cand_lang, langs, metrics, output, console)
        result["timing"]["robustness_seconds"] = round(time.perf_counter() - t0, 2)
    _save(output, options, encoder, result)
    return result


def _identity(bench: RetrievalBenchmark, encoder: Encoder, options: EvaluateConfig,
              metrics: dict[str, Any]) -> dict[str, Any]:
    """The head of every results.json: version, time, metrics, and what was evaluated how."""
    return {
        "polyret_result_version": 1,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "metrics": metrics,
        "model": encoder.describe(),
        "benchmark": {
            "name": bench.name,
            "n_queries": len(bench.queries),
            "n_candidates": len(bench.candidates),
            "languages": bench.languages,
            "files_sha256": bench.files,
            **bench.options,
        },
        "options": {**options.evaluation_options(),
                    "encoder": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(encoder.options).items()}},
    }


def _save(output: Path, options: EvaluateConfig, encoder: Encoder, result: dict[str, Any]) -> None:
    saved = options.with_encoder(encoder.options).model_copy(update={"output": output})
    write_text_atomic(output / SAVED_CONFIG, saved.to_yaml())  # `--config` this file to repeat the run
    write_json_atomic(output / "results.json", result)  # last: its presence means the run finished


def _evaluate_topk(bench: RetrievalBenchmark, encoder: Encoder, options: EvaluateConfig, output: Path,
                   queries: np.ndarray, cands: np.ndarray, relevant: list[np.ndarray], encode_stats: dict[str, Any],
                   started: float, noise_section: dict[str, Any] | None) -> dict[str, Any]:
    """--search faiss-*: the top k through faiss and the measures it supports; no per-language ranks."""
    from polyret.evaluate.topk import faiss_topk, topk_measures

    t0 = time.perf_counter()
    top = faiss_topk(queries, cands, options.top_k, index=options.search.split("-", 1)[1])
    metrics = topk_measures(top, relevant)
    search_seconds = time.perf_counter() - t0
    result = {
        **_identity(bench, encoder, options, metrics),
        "search": {"engine": options.search, **top.index,
                   "note": "top-k measures only; Mo/Cr/Mul mAP and rank distance need --search exact"},
        "query_noise": noise_section,
        "code_version": code_version(),
        "environment": environment(),
        "timing": {**encode_stats, "search_seconds": round(search_seconds, 2),
                   "total_seconds": round(time.perf_counter() - started, 2)},
    }
    if options.trec_run:
        with open(output / "run.trec", "w", encoding="utf-8") as f:
            for q, row, scores in zip(bench.queries, top.indices.tolist(), top.scores.tolist()):
                f.writelines(f"{q.id} Q0 {bench.candidates[c].id} {r} {s!r} {encoder.options.model}\n"
                             for r, (c, s) in enumerate(zip(row, scores), 1) if c >= 0)
    _save(output, options, encoder, result)
    return result


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _robustness(bench: RetrievalBenchmark, encoder: Encoder, options: EvaluateConfig,
                spec: TransformSpec | None, stats: LanguageMeans | None, cands: np.ndarray,
                relevant: list[np.ndarray], query_lang: np.ndarray, cand_lang: np.ndarray, langs: list[str],
                clean: RetrievalMetrics, output: Path, console: Console) -> dict[str, Any]:
    """The query-noise sweep (see evaluate/robustness.py); writes robustness.json and robustness.png."""
    from polyret.evaluate.robustness import DEFAULT_DIALECTS, DEFAULT_RATES, robustness_curve
    from polyret.report.figures import robustness_figure

    def score(queries: list[Any]) -> tuple[np.ndarray, dict[str, float]]:
        (vectors,), _ = _encode_with_progress(encoder, [([q.text for q in queries], "query")], console,
                                              "noised queries")
        if spec is not None and stats is not None:
            vectors = apply_transform(spec, stats, vectors, [q.lang for q in queries], "query")
        ranks = exact_search(vectors, cands, relevant, cand_lang, n_langs=len(langs), k=options.top_k,
                             device=encoder.device)
        return by_language(compute_metrics(ranks, query_lang, cand_lang, langs))

    def by_language(metrics: RetrievalMetrics) -> tuple[np.ndarray, dict[str, float]]:
        return metrics.query_mul_ap, {lang: float(v) for lang, v in zip(langs, metrics.language_mul_map)}

    curve = robustness_curve(bench.queries, langs, score, by_language(clean),
                             list(options.robustness_dialects or DEFAULT_DIALECTS),
                             list(options.robustness_rates or DEFAULT_RATES), options.noise_seed,
                             progress=lambda msg: console.print(f"[dim]robustness: {msg}[/]"))
    curve.update(model=encoder.describe(), benchmark={"name": bench.name, "languages": langs, **bench.options,
                                                      "files_sha256": bench.files},
                 code_version=code_version())
    write_json_atomic(output / "robustness.json", curve)
    robustness_figure(curve, output / "robustness.png",
                      f"{bench.name}: Mul mAP under dialectal query noise, {encoder.options.model}")
    return {"file": "robustness.json", "figure": "robustness.png", "rates": curve["rates"],
            "lines": {line["dialect"]: line["mul_map"] for line in curve["lines"]}}
