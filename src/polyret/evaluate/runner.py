"""`polyret evaluate`: encode a benchmark once (cached), rank exactly, score, and write a citable result."""

from __future__ import annotations

import time
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from polyret.data.benchmark import RetrievalBenchmark
from polyret.data.generic import load_generic
from polyret.data.xquad_r import load_xquad_r
from polyret.errors import PolyretError
from polyret.evaluate import stages
from polyret.evaluate.config import SAVED_CONFIG, EvaluateConfig
from polyret.evaluate.metrics import RetrievalMetrics, compute_metrics, cross_check
from polyret.evaluate.search import exact_search
from polyret.evaluate.transforms import LanguageMeans, TransformSpec, apply_transform, parse_transform
from polyret.model.encoder import Encoder
from polyret.noise.apply import QueryNoise
from polyret.noise.tables import parse_spec
from polyret.provenance import code_version, environment
from polyret.report.io import write_json_atomic, write_text_atomic
from polyret.report.schema import EVALUATION_VERSION, write_evaluation

STATS_FILE = "transform_stats.npz"
RESULT_FILES = ("results.json", "pair_map.png", "run.trec", STATS_FILE, "robustness.json", "robustness.png",
                SAVED_CONFIG)


def load_benchmark(options: EvaluateConfig) -> RetrievalBenchmark:
    """XQuAD-R, MLQA-R, the NTREX dialect benchmark / dev set or the qa-dev set by name (under data_dir), or a
    generic-format directory."""
    if options.benchmark == "xquad-r":
        return load_xquad_r(options.data_dir, options.languages, options.articles, options.candidate_context)
    if options.benchmark == "mlqa-r":
        from polyret.data.mlqa_r import load_mlqa_r

        return load_mlqa_r(options.data_dir, options.languages, options.articles, options.candidate_context)
    if options.benchmark in ("ntrex-dialects", "ntrex-dev"):
        from polyret.data.dialects import load_ntrex_benchmark

        dialects = options.benchmark == "ntrex-dialects"
        return load_ntrex_benchmark(options.data_dir, "test" if dialects else "dev", options.articles, dialects)
    if options.benchmark == "qa-dev":
        from polyret.data.qa_dev import load_qa_dev

        if options.languages:
            raise PolyretError("--languages: qa-dev has a fixed language set (ar, th, tr, zh); leave it out")
        return load_qa_dev(options.data_dir, options.articles)
    path = Path(options.benchmark)
    if not path.exists():
        raise PolyretError(f"--benchmark: {options.benchmark!r} is neither a benchmark name (xquad-r, mlqa-r, "
                           "ntrex-dialects, ntrex-dev, qa-dev) nor an existing directory")
    if options.articles is not None:
        raise PolyretError("--articles applies to the named benchmarks only (xquad-r, mlqa-r: first K articles; "
                           "ntrex-*: first K sentences; qa-dev: K questions per language)")
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


def check_model_held_out(bench: RetrievalBenchmark, model: str, where: str) -> None:
    """Refuse a model that trained on a source `bench` is built from (data/held_out.py); a benchmark built from
    none (every evaluation set) costs nothing, not even resolving the model."""
    if bench.built_from:
        from polyret.data.held_out import check_held_out
        from polyret.model.loading import resolve_model_dir

        check_held_out(bench, resolve_model_dir(model)[0], where)


def evaluate(
    bench: RetrievalBenchmark,
    encoder: Encoder,
    options: EvaluateConfig,
    output: Path,
    console: Console | None = None,
) -> dict[str, Any]:
    """Encode, rank, score; write results.json, the heatmap and optionally a TREC run into `output`.

    The stages (polyret.evaluate.stages) in order: noise the queries, encode, transform, search, score, artefacts;
    each can be called alone."""
    console = console or Console(stderr=True)
    check_model_held_out(bench, encoder.options.model, f"model {encoder.options.model}")
    spec = transform_spec(options)
    noise = query_noise(options)
    bench, noise_section = stages.noise_queries(bench, noise)
    source_texts = stages.read_source_texts(spec, options, bench.languages) if spec is not None else {}
    started = time.perf_counter()
    queries, cands, encode_stats = stages.encode_benchmark(bench, encoder, console)
    clear_results(output)  # the model loaded and encoded: the old results can go
    transformed = stages.transform(spec, bench, encoder, options, source_texts, queries, cands, console)
    queries, cands, stats = transformed.queries, transformed.candidates, transformed.stats
    if stats is not None:
        stats.save(output / STATS_FILE)
    arrays = stages.index_arrays(bench)
    langs, query_lang, cand_lang, relevant = arrays
    if options.search != "exact":
        return _evaluate_topk(bench, encoder, options, output, queries, cands, relevant, encode_stats, started,
                              noise_section)
    t0 = time.perf_counter()
    ranks = stages.search(bench, queries, cands, k=options.top_k, device=encoder.device, arrays=arrays)
    metrics = stages.score(bench, ranks, arrays=arrays)
    search_seconds = time.perf_counter() - t0
    metric_dict = metrics.to_dict(per_query=True)
    cross = cross_check(ranks, metrics)
    result = {
        **_identity(bench, encoder, options, metric_dict),
        "library_cross_check": cross,
        "search": {"engine": "exact", "device": str(encoder.device),
                   "path": "torch" if encoder.device.type == "cuda" else "numpy"},
        "transform": None if transformed.section is None else {**transformed.section, "stats_file": STATS_FILE},
        "query_noise": noise_section,
        "code_version": code_version(),
        "environment": environment(),
        "timing": {**encode_stats, "search_seconds": round(search_seconds, 2),
                   "total_seconds": round(time.perf_counter() - started, 2)},
    }
    stages.write_artefacts(output, bench, encoder.options.model, metric_dict, ranks, spec,
                           trec_run=options.trec_run)
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
        "polyret_result_version": EVALUATION_VERSION,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "metrics": metrics,
        "model": encoder.describe(),
        "benchmark": {  # the loader's options first: the languages evaluated, not the selection asked for
            **bench.options,
            "name": bench.name,
            "n_queries": len(bench.queries),
            "n_candidates": len(bench.candidates),
            "languages": bench.languages,
            "files_sha256": bench.files,
        },
        "options": {**options.evaluation_options(),
                    "encoder": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(encoder.options).items()}},
    }


def _save(output: Path, options: EvaluateConfig, encoder: Encoder, result: dict[str, Any]) -> None:
    saved = options.with_encoder(encoder.options).model_copy(update={"output": output})
    write_text_atomic(output / SAVED_CONFIG, saved.to_yaml())  # `--config` this file to repeat the run
    write_evaluation(output / "results.json", result)  # last: its presence means the run finished


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


def _robustness(bench: RetrievalBenchmark, encoder: Encoder, options: EvaluateConfig,
                spec: TransformSpec | None, stats: LanguageMeans | None, cands: np.ndarray,
                relevant: list[np.ndarray], query_lang: np.ndarray, cand_lang: np.ndarray, langs: list[str],
                clean: RetrievalMetrics, output: Path, console: Console) -> dict[str, Any]:
    """The query-noise sweep (see evaluate/robustness.py); writes robustness.json and robustness.png."""
    from polyret.evaluate.robustness import DEFAULT_DIALECTS, DEFAULT_RATES, robustness_curve
    from polyret.report.figures import robustness_figure

    def score(queries: list[Any]) -> tuple[np.ndarray, dict[str, float]]:
        (vectors,), _ = stages.encode_with_progress(encoder, [([q.text for q in queries], "query")], console,
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
