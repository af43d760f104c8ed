"""`polyret evaluate`: zero-shot evaluation with language-bias measures."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console

from polyret.cli.common import console, default_data_dir, friendly
from polyret.errors import PolyretError


@friendly
def evaluate(
    config: Optional[Path] = typer.Option(None, help="YAML config (e.g. a run's evaluate_config.yaml); flags given "
                                          "here override it"),
    model: Optional[str] = typer.Option(None, help="embedded:me5-small (default), a local directory, or a hub id"),
    benchmark: Optional[str] = typer.Option(None, help="'xquad-r' (default), 'mlqa-r', "
                                             "'ntrex-dialects', 'ntrex-dev', 'qa-dev' or a generic-format directory"),
    data_dir: Optional[Path] = typer.Option(None, help="data root laid out as shared/data (xquad-r/, train/, dev/)"),
    output: Optional[Path] = typer.Option(None, help="directory for results.json, pair_map.png (and run.trec)"),
    languages: Optional[str] = typer.Option(None, help="comma-separated subset, e.g. ar,en,zh (both sides)"),
    articles: Optional[int] = typer.Option(None, help="XQuAD-R: the first K of the 48 aligned articles; MLQA-R: the questions of the first K English articles"),
    candidate_context: Optional[bool] = typer.Option(None, help="encode candidates as sentence + paragraph "
                                                     "(LAReQA style)"),
    pooling: Optional[str] = typer.Option(None, help="mean or cls (default: from the model's metadata, else mean)"),
    query_prefix: Optional[str] = typer.Option(None, help="default: from the model's metadata, else none"),
    passage_prefix: Optional[str] = typer.Option(None, help="default: from the model's metadata, else none"),
    max_length: Optional[int] = typer.Option(None, help="token limit (default: model's, else 512)"),
    batch_size: Optional[int] = typer.Option(None, help="texts per forward pass (32)"),
    device: Optional[str] = typer.Option(None, help="auto (default), cpu or cuda[:N]"),
    dtype: Optional[str] = typer.Option(None, help="float32 (default), float16, bfloat16 or int8 "
                                         "(Linear layers quantised, CPU only)"),
    trec_run: Optional[bool] = typer.Option(None, help="also write run.trec (top-k per query)"),
    search: Optional[str] = typer.Option(None, help="exact (default: every measure, exact ranks), faiss-flat or "
                                         "faiss-hnsw (top-k measures only)"),
    top_k: Optional[int] = typer.Option(None, help="depth of the stored top-k ranking (100, at least 10)"),
    overwrite: bool = typer.Option(False, help="replace results already in --output"),
    cache_dir: Optional[Path] = typer.Option(None, help="embedding cache (default $POLYRET_CACHE/embeddings)"),
    transform: Optional[str] = typer.Option(None, help="training-free language-bias baseline: center or subspace[:k]"),
    transform_source: Optional[str] = typer.Option(None, help="statistics from tatoeba (dev), training, or "
                                                   "oracle-eval-pool (needs --allow-oracle)"),
    allow_oracle: Optional[bool] = typer.Option(None, help="permit statistics estimated from the evaluation set "
                                                "(labelled)"),
    transform_max_per_language: Optional[int] = typer.Option(None, help="texts per language for the statistics "
                                                             "(500, seeded)"),
    query_noise: Optional[list[str]] = typer.Option(None, help="noise queries: DIALECT_SPEC:RATE, repeatable "
                                                    "(ar-egy:0.3, de:0.2 = default dialect, all:0.3; see "
                                                    "`polyret noise list`)"),
    noise_seed: Optional[int] = typer.Option(None, help="seed of the query noise (0)"),
    robustness: Optional[bool] = typer.Option(None, help="also sweep the query-noise rate: robustness.json + .png"),
    robustness_dialects: Optional[str] = typer.Option(None, help="comma-separated dialect specs for --robustness "
                                                      "(default: all = each language's default dialect)"),
    robustness_rates: Optional[str] = typer.Option(None, help="comma-separated rates (default 0,0.1,0.2,0.3,0.5)"),
) -> None:
    """Zero-shot retrieval evaluation with language-bias measures (LAReQA protocol on XQuAD-R)."""
    overrides: dict[str, Any] = {k: v for k, v in locals().items() if k not in {"config", "overwrite"}}
    import torch.distributed

    from polyret.evaluate.config import load_config
    from polyret.evaluate.sharding import from_environment, rank_device
    from polyret.model.encoder import Encoder

    if config is None and data_dir is None:
        overrides["data_dir"] = default_data_dir()
    cfg = load_config(config, overrides)
    sharding = from_environment(cfg.device)  # under torchrun: rank 0 evaluates, the others only encode
    if sharding is not None:
        cfg = cfg.model_copy(update={"device": rank_device(sharding, cfg.device)})
        if sharding.rank > 0:
            worker = Encoder(cfg.encoder_options())
            try:
                sharding.serve(worker)
            finally:
                torch.distributed.destroy_process_group()
            return
    try:
        _evaluate(cfg, overwrite, sharding)
    finally:
        if sharding is not None:
            sharding.stop()
            torch.distributed.destroy_process_group()


def _evaluate(cfg: Any, overwrite: bool, sharding: Any) -> None:
    from polyret.evaluate.runner import evaluate as run_eval, load_benchmark, prepare_output, query_noise as noise_plan
    from polyret.evaluate.runner import check_model_held_out, transform_spec
    from polyret.model.encoder import Encoder
    from polyret.report.tables import print_summary

    if cfg.output is None:
        raise PolyretError("option 'output': required (--output DIR, or output: in the --config file)")
    output = cfg.output
    transform_spec(cfg)
    noise_plan(cfg)
    bench = load_benchmark(cfg)  # all input errors surface before any output is touched
    check_model_held_out(bench, cfg.model, f"--model {cfg.model}")
    prepare_output(output, overwrite)
    encoder = Encoder(cfg.encoder_options(), sharding=sharding)
    ranks = "" if sharding is None else f", sharded over {sharding.world} {sharding.backend} ranks"
    console.print(f"[bold]{bench.name}[/]: {len(bench.queries)} queries, {len(bench.candidates)} candidates, "
                  f"languages {','.join(bench.languages)}; model {cfg.model} on {encoder.device}{ranks}")
    result = run_eval(bench, encoder, cfg, output, console)
    if result["search"]["engine"] == "exact":
        print_summary(result, Console())
    else:
        console.print(f"{result['search']['faiss']} top {result['search']['k']}: "
                      + ", ".join(f"{k} {v:.4f}" for k, v in result["metrics"].items()))
    console.print(f"results: {output / 'results.json'}")
