"""The `polyret` command tree."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from polyret.cli_common import console, default_data_dir, friendly
from polyret.errors import PolyretError
from polyret.options import comma_list, option_list

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)


def _rates(value: Optional[str]) -> Optional[list[float]]:
    if value is None:
        return None
    try:
        return [float(part) for part in comma_list(value)]
    except ValueError:
        raise PolyretError(f"--robustness-rates: {value!r} is not a comma-separated list of numbers") from None


@app.command()
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


@app.command()
@friendly
def train(
    config: Optional[Path] = typer.Option(None, help="YAML config; flags given here override it"),
    model: Optional[str] = typer.Option(None, help="embedded:me5-small (default), a local directory or a hub id"),
    strategy: Optional[str] = typer.Option(None, help="x_x_mono, x_y, hybrid (default), hybrid+noise, x_x or en_en"),
    alpha: Optional[float] = typer.Option(None, help="hybrid: probability of a monolingual batch (0.5)"),
    tau: Optional[float] = typer.Option(None, help="language (pair) sampling: p ~ n^tau (1.0)"),
    per_example_pairs: Optional[bool] = typer.Option(None, help="x_y: draw the language pair per example"),
    steps: Optional[int] = typer.Option(None, help="optimiser steps (100)"),
    batch_size: Optional[int] = typer.Option(None, help="pairs per step across all ranks (16)"),
    grad_accum: Optional[int] = typer.Option(None, help="micro-batches per step (1)"),
    lr: Optional[float] = typer.Option(None, help="peak learning rate (2e-5)"),
    weight_decay: Optional[float] = typer.Option(None),
    warmup_steps: Optional[int] = typer.Option(None, help="-1: 10% of steps"),
    max_grad_norm: Optional[float] = typer.Option(None),
    temperature: Optional[float] = typer.Option(None, help="InfoNCE temperature (0.05)"),
    symmetric: Optional[bool] = typer.Option(None, help="also the passage-to-query loss"),
    freeze_embeddings: Optional[bool] = typer.Option(None, help="freeze word embeddings (default yes)"),
    freeze_layers: Optional[int] = typer.Option(None, help="freeze the lowest N layers"),
    gradient_checkpointing: Optional[bool] = typer.Option(None),
    query_max_length: Optional[int] = typer.Option(None),
    passage_max_length: Optional[int] = typer.Option(None),
    seed: Optional[int] = typer.Option(None),
    checkpoint_every: Optional[int] = typer.Option(None),
    data_dir: Optional[Path] = typer.Option(None, help="data root laid out as shared/data"),
    sources: Optional[str] = typer.Option(None, help="comma-separated training sources (default: all)"),
    languages: Optional[str] = typer.Option(None, help="comma-separated languages (default: XQuAD-R's 11)"),
    output: Optional[Path] = typer.Option(None, help="model directory to write (runs/train)"),
    device: Optional[str] = typer.Option(None, help="auto, cpu or cuda[:N]"),
    mixed_precision: Optional[str] = typer.Option(None, help="auto, no, bf16 or fp16 (GPU only)"),
    check_leakage: Optional[bool] = typer.Option(None, help="refuse training text that overlaps XQuAD-R (yes)"),
    noise_dialects: Optional[str] = typer.Option(None, help="dialectal noise targets, e.g. all-* or ar-egy,de-gsw "
                                                 "(default with --strategy hybrid+noise: all-*)"),
    noise_rate: Optional[float] = typer.Option(None, help="noise: share of rule sites rewritten (0.3)"),
    noise_share: Optional[float] = typer.Option(None, help="noise: share of examples noised (0.5)"),
    noise_apply_to: Optional[str] = typer.Option(None, help="noise: query (default), passage or both"),
    resume: bool = typer.Option(False, help="continue from the newest checkpoint in --output"),
    overwrite: bool = typer.Option(False, help="replace an existing --output"),
) -> None:
    """Fine-tune an encoder with a batch strategy (hybrid batching and the LAReQA baselines)."""
    overrides = {k: v for k, v in locals().items() if k not in {"config", "resume", "overwrite"}}
    noise = {key[len("noise_"):]: overrides.pop(key) for key in [k for k in overrides if k.startswith("noise_")]}
    if any(v is not None for v in noise.values()):
        overrides["noise"] = noise
    from polyret.train.config import load_config
    from polyret.train.loop import train as run_training

    if overrides["data_dir"] is None and (config is None):
        overrides["data_dir"] = default_data_dir()
    cfg = load_config(config, overrides)
    run_training(cfg, resume=resume, overwrite=overwrite, console=console)


@app.command()
@friendly
def run(
    data_dir: Path = typer.Option(None, help="data root laid out as shared/data (default $POLYRET_DATA or ../shared/data)"),
    output: Path = typer.Option(Path("runs/study"), help="study directory (cells/, results.json, report.md)"),
    profile: str = typer.Option("quick", help="smoke (a minute), quick (default, under 30 minutes on 2 CPU cores) "
                                "or full (whole XQuAD-R, 3 seeds: a GPU)"),
    models: str = typer.Option("embedded:me5-small", help="comma-separated model specs"),
    strategies: Optional[str] = typer.Option(None, help="comma-separated strategies (default: the profile's)"),
    batch_size: int = typer.Option(32, min=1),
    device: str = typer.Option("auto"),
    overwrite: bool = typer.Option(False, help="redo finished cells (and retrain their models)"),
    extra_benchmark: Optional[list[str]] = typer.Option(None, help="NAME=DIR of a generic-format benchmark "
                                                        "(corpus.jsonl, queries.jsonl, qrels.tsv), repeatable: "
                                                        "evaluated for every cell"),
    steps: Optional[int] = typer.Option(None, help="override the profile's training steps per trained cell"),
    seeds: Optional[str] = typer.Option(None, help="override the profile's seeds, e.g. 0,1,2"),
) -> None:
    """The study: every (model, strategy, seed) cell trained where it trains and evaluated zero-shot on XQuAD-R
    (clean and with dialectal query noise), one report with intervals, paired tests and a plain-language answer."""
    from polyret.study.profiles import PROFILES
    from polyret.study.run import parse_extra_benchmarks, run_study

    if profile not in PROFILES:
        raise PolyretError(f"--profile: unknown profile {profile!r}; available: {', '.join(PROFILES)}")
    chosen = PROFILES[profile]
    if strategies:
        chosen = chosen.model_copy(update={"strategies": comma_list(strategies)})
    if steps is not None:
        if steps < 1:
            raise PolyretError("--steps must be at least 1")
        chosen = chosen.model_copy(update={"train": chosen.train.model_copy(update={"steps": steps})})
    if seeds is not None:
        try:
            chosen = chosen.model_copy(update={"seeds": [int(x) for x in comma_list(seeds)]})
        except ValueError:
            raise PolyretError(f"--seeds: {seeds!r} is not a comma-separated list of integers") from None
    extras = parse_extra_benchmarks(extra_benchmark or [])
    summary = run_study(comma_list(models), chosen, data_dir or default_data_dir(),
                        output, overwrite, console, batch_size, device, extras)
    from rich.markdown import Markdown

    Console().print(Markdown((output / "report.md").read_text()))
    failed = [c["cell"] for c in summary["cells"] if c["status"] != "done"]
    if failed:
        raise PolyretError(f"{len(failed)} cell(s) failed: {', '.join(failed)} (see their error.txt)")


def _register_subcommands() -> None:
    from polyret.cli_data import data_app
    from polyret.cli_fetch import fetch
    from polyret.cli_noise import noise_app

    data_app.command("fetch")(fetch)
    app.add_typer(data_app, name="data")
    app.add_typer(noise_app, name="noise")


_register_subcommands()


def main() -> None:  # pragma: no cover - console entry for `python -m polyret`
    sys.exit(app())
