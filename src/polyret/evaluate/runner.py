"""`polyret evaluate`: encode a benchmark once (cached), rank exactly, score, and write a citable result."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
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
from polyret.evaluate.metrics import compute_metrics, cross_check, write_trec_run
from polyret.evaluate.search import exact_search
from polyret.model.encoder import Encoder
from polyret.provenance import code_version, environment
from polyret.report.figures import pair_heatmap
from polyret.report.io import write_json_atomic

RESULT_FILES = ("results.json", "pair_map.png", "run.trec")


@dataclass
class EvaluationOptions:
    """Everything besides the model that decides a result; saved verbatim in results.json."""

    benchmark: str = "xquad-r"
    data_dir: Path = Path("../shared/data")
    languages: list[str] | None = None
    articles: int | None = None
    candidate_context: bool = False
    top_k: int = 100
    trec_run: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


def load_benchmark(options: EvaluationOptions) -> RetrievalBenchmark:
    """XQuAD-R by name (under data_dir), or any generic-format directory by path."""
    if options.benchmark == "xquad-r":
        return load_xquad_r(options.data_dir, options.languages, options.articles, options.candidate_context)
    path = Path(options.benchmark)
    if not path.exists():
        raise PolyretError(f"--benchmark: {options.benchmark!r} is neither 'xquad-r' nor an existing directory")
    if options.articles is not None:
        raise PolyretError("--articles applies to XQuAD-R only")
    return load_generic(path, options.languages)


def prepare_output(output: Path, overwrite: bool) -> None:
    """Refuse to clobber earlier results unless asked; with --overwrite, remove only what we write."""
    existing = [name for name in RESULT_FILES if (output / name).exists()]
    if existing and not overwrite:
        raise PolyretError(f"{output}: already holds {existing[0]}; pass --overwrite to replace it")
    if output.exists() and not output.is_dir():
        raise PolyretError(f"{output}: exists and is not a directory")
    output.mkdir(parents=True, exist_ok=True)
    for name in existing:
        (output / name).unlink()


def encode_benchmark(
    bench: RetrievalBenchmark, encoder: Encoder, console: Console
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Query and candidate vectors, each distinct text encoded once and cached; with a progress bar."""
    q_texts = [q.text for q in bench.queries]
    c_texts = [c.text if c.context is None else f"{c.text} {c.context}" for c in bench.candidates]
    todo = encoder.count_missing(q_texts, "query") + encoder.count_missing(c_texts, "passage")
    start = time.perf_counter()
    columns = (TextColumn("[bold]encoding"), BarColumn(), MofNCompleteColumn(), TextColumn("texts"),
               TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=False, disable=todo == 0) as bar:
        task = bar.add_task("encode", total=todo)
        def advance(n: int) -> None:
            bar.advance(task, n)

        queries = encoder.encode(q_texts, "query", progress=advance)
        cands = encoder.encode(c_texts, "passage", progress=advance)
    seconds = time.perf_counter() - start
    stats = {"texts_encoded": todo, "encode_seconds": round(seconds, 2),
             "texts_per_second": round(todo / seconds, 2) if todo and seconds > 0 else None,
             "distinct_texts": len(set(encoder.prefixed(q_texts, "query"))) + len(set(encoder.prefixed(c_texts, "passage")))}
    return queries, cands, stats


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
    options: EvaluationOptions,
    output: Path,
    console: Console | None = None,
) -> dict[str, Any]:
    """Encode, rank, score; write results.json, the heatmap and optionally a TREC run into `output`."""
    console = console or Console(stderr=True)
    started = time.perf_counter()
    queries, cands, encode_stats = encode_benchmark(bench, encoder, console)
    langs, query_lang, cand_lang, relevant = _index_arrays(bench)
    t0 = time.perf_counter()
    ranks = exact_search(queries, cands, relevant, cand_lang, n_langs=len(langs), k=options.top_k)
    metrics = compute_metrics(ranks, query_lang, cand_lang, langs, query_ids=[q.id for q in bench.queries])
    search_seconds = time.perf_counter() - t0
    metric_dict = metrics.to_dict(per_query=True)
    cross = cross_check(ranks, metrics)
    result = {
        "polyret_result_version": 1,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "metrics": metric_dict,
        "library_cross_check": cross,
        "model": encoder.describe(),
        "benchmark": {
            "name": bench.name,
            "n_queries": len(bench.queries),
            "n_candidates": len(bench.candidates),
            "languages": langs,
            "files_sha256": bench.files,
            **bench.options,
        },
        "options": {**{k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(options).items()},
                    "encoder": {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(encoder.options).items()}},
        "code_version": code_version(),
        "environment": environment(),
        "timing": {**encode_stats, "search_seconds": round(search_seconds, 2),
                   "total_seconds": round(time.perf_counter() - started, 2)},
    }
    pair = metric_dict["pair_map"]
    pair_heatmap(pair["matrix"], pair["languages"], output / "pair_map.png",
                 title=f"{bench.name}: per-pair mAP, {encoder.options.model}\n"
                       f"Mo {metric_dict['mo_map']:.3f}  Cr {metric_dict['cr_map']:.3f}  Mul {metric_dict['mul_map']:.3f}")
    if options.trec_run:
        write_trec_run(output / "run.trec", ranks, [q.id for q in bench.queries], [c.id for c in bench.candidates],
                       tag=encoder.options.model)
    write_json_atomic(output / "results.json", result)  # last: its presence means the run finished
    return result
