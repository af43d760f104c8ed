"""`polyret evaluate`: zero-shot evaluation with language-bias measures."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from polyret.cli.common import console, default_data_dir, friendly
from polyret.errors import PolyretError
from polyret.options import comma_list, option_list


def _rates(value: Optional[str]) -> Optional[list[float]]:
    if value is None:
        return None
    try:
        return [float(part) for part in comma_list(value)]
    except ValueError:
        raise PolyretError(f"--robustness-rates: {value!r} is not a comma-separated list of numbers") from None


@friendly
def evaluate(
    model: str = typer.Option("embedded:me5-small", help="embedded:me5-small, a local directory, or a hub id"),
    benchmark: str = typer.Option("xquad-r", help="'xquad-r' or a generic-format directory"),
    data_dir: Path = typer.Option(None, help="data root laid out as shared/data (xquad-r/, train/, dev/)"),
    output: Path = typer.Option(..., help="directory for results.json, pair_map.png (and run.trec)"),
    languages: Optional[str] = typer.Option(None, help="comma-separated subset, e.g. ar,en,zh (both sides)"),
    articles: Optional[int] = typer.Option(None, help="XQuAD-R: only the first K of the 48 aligned articles"),
    candidate_context: bool = typer.Option(False, help="encode candidates as sentence + paragraph (LAReQA style)"),
    pooling: Optional[str] = typer.Option(None, help="mean or cls (default: from the model's metadata, else mean)"),
    query_prefix: Optional[str] = typer.Option(None, help="default: from the model's metadata, else none"),
    passage_prefix: Optional[str] = typer.Option(None, help="default: from the model's metadata, else none"),
    max_length: Optional[int] = typer.Option(None, help="token limit (default: model's, else 512)"),
    batch_size: int = typer.Option(32, min=1),
    device: str = typer.Option("auto", help="auto, cpu or cuda[:N]"),
    dtype: str = typer.Option("float32", help="float32, float16 or bfloat16 (half precision mainly for GPUs)"),
    trec_run: bool = typer.Option(False, help="also write run.trec (top-k per query)"),
    top_k: int = typer.Option(100, min=10, help="depth of the stored top-k ranking"),
    overwrite: bool = typer.Option(False, help="replace results already in --output"),
    cache_dir: Optional[Path] = typer.Option(None, help="embedding cache (default $POLYRET_CACHE/embeddings)"),
    transform: Optional[str] = typer.Option(None, help="training-free language-bias baseline: center or subspace[:k]"),
    transform_source: Optional[str] = typer.Option(None, help="statistics from tatoeba (dev), training, or "
                                                   "oracle-eval-pool (needs --allow-oracle)"),
    allow_oracle: bool = typer.Option(False, help="permit statistics estimated from the evaluation set (labelled)"),
    transform_max_per_language: int = typer.Option(500, help="texts per language for the statistics (seeded)"),
    query_noise: Optional[list[str]] = typer.Option(None, help="noise queries: DIALECT_SPEC:RATE, repeatable "
                                                    "(ar-egy:0.3, de:0.2 = default dialect, all:0.3; see "
                                                    "`polyret noise list`)"),
    noise_seed: int = typer.Option(0, help="seed of the query noise"),
    robustness: bool = typer.Option(False, help="also sweep the query-noise rate: robustness.json + .png"),
    robustness_dialects: Optional[str] = typer.Option(None, help="comma-separated dialect specs for --robustness "
                                                      "(default: all = each language's default dialect)"),
    robustness_rates: Optional[str] = typer.Option(None, help="comma-separated rates (default 0,0.1,0.2,0.3,0.5)"),
) -> None:
    """Zero-shot retrieval evaluation with language-bias measures (LAReQA protocol on XQuAD-R)."""
    from polyret.evaluate.runner import (EvaluationOptions, evaluate as run_eval, load_benchmark, prepare_output,
                                         query_noise as query_noise_plan, transform_spec)
    from polyret.model.encoder import Encoder, EncoderOptions
    from polyret.report.tables import print_summary

    if dtype not in ("float32", "float16", "bfloat16"):
        raise PolyretError(f"--dtype: unknown dtype {dtype!r} (float32, float16 or bfloat16)")
    if pooling is not None and pooling not in ("mean", "cls"):
        raise PolyretError(f"--pooling: unknown pooling {pooling!r} (mean or cls)")
    options = EvaluationOptions(
        benchmark=benchmark, data_dir=data_dir or default_data_dir(), languages=option_list("--languages", languages),
        articles=articles, candidate_context=candidate_context, top_k=top_k, trec_run=trec_run,
        transform=transform, transform_source=transform_source, allow_oracle=allow_oracle,
        transform_max_per_language=transform_max_per_language, query_noise=query_noise or None,
        noise_seed=noise_seed, robustness=robustness, robustness_dialects=None if robustness_dialects is None else comma_list(robustness_dialects),
        robustness_rates=_rates(robustness_rates),
    )
    transform_spec(options)
    query_noise_plan(options)
    bench = load_benchmark(options)  # all input errors surface before any output is touched
    prepare_output(output, overwrite)
    encoder = Encoder(EncoderOptions(
        model=model, pooling=pooling, query_prefix=query_prefix, passage_prefix=passage_prefix,  # type: ignore[arg-type]
        max_length=max_length, batch_size=batch_size, device=device, dtype=dtype, cache_dir=cache_dir,  # type: ignore[arg-type]
    ))
    console.print(f"[bold]{bench.name}[/]: {len(bench.queries)} queries, {len(bench.candidates)} candidates, "
                  f"languages {','.join(bench.languages)}; model {model} on {encoder.device}")
    result = run_eval(bench, encoder, options, output, console)
    print_summary(result, Console())
    console.print(f"results: {output / 'results.json'}")
