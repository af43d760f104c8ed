"""`polyret train`: fine-tune an encoder with a batch strategy."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from polyret.cli.common import console, default_data_dir, friendly


@friendly
def train(
    config: Optional[Path] = typer.Option(None, help="YAML config; flags given here override it"),
    model: Optional[str] = typer.Option(None, help="embedded:me5-small (default), a local directory or a hub id"),
    strategy: Optional[str] = typer.Option(None, help="a batch strategy: x_x_mono, x_y, hybrid (default), x_x, en_en "
                                           "or one registered in sampling.BATCH_STRATEGIES, optionally +noise"),
    alpha: Optional[float] = typer.Option(None, help="hybrid: probability of a monolingual batch (0.5)"),
    tau: Optional[float] = typer.Option(None, help="language (pair) sampling: p ~ n^tau (1.0)"),
    per_example_pairs: Optional[bool] = typer.Option(None, help="x_y: draw the language pair per example"),
    same_language_negatives: Optional[bool] = typer.Option(None, help="cross-lingual batches: a negative in each "
                                                           "query's own language (from a group outside the batch)"),
    steps: Optional[int] = typer.Option(None, help="optimiser steps (100)"),
    batch_size: Optional[int] = typer.Option(None, help="pairs per step across all ranks (16)"),
    grad_accum: Optional[int] = typer.Option(None, help="micro-batches per step, gradient-cached: negatives stay the whole batch (1)"),
    lr: Optional[float] = typer.Option(None, help="peak learning rate (2e-5)"),
    optimizer: Optional[str] = typer.Option(None, help="adamw (default) or sgd, or one registered in "
                                            "train/optim.py OPTIMIZERS"),
    schedule: Optional[str] = typer.Option(None, help="learning-rate schedule after warmup: linear (default), cosine "
                                           "or constant (train/optim.py SCHEDULES)"),
    weight_decay: Optional[float] = typer.Option(None),
    warmup_steps: Optional[int] = typer.Option(None, help="-1: 10% of steps"),
    max_grad_norm: Optional[float] = typer.Option(None),
    temperature: Optional[float] = typer.Option(None, help="InfoNCE temperature (0.05)"),
    symmetric: Optional[bool] = typer.Option(None, help="also the passage-to-query loss"),
    loss: Optional[str] = typer.Option(None, help="infonce (default) or margin (LaBSE's bidirectional "
                                       "additive-margin loss)"),
    margin: Optional[float] = typer.Option(None, help="--loss margin: the additive margin on the cosine (0.3)"),
    distill_weight: Optional[float] = typer.Option(None, help="add multilingual distillation toward the frozen base "
                                                   "model's pivot-language embeddings, with this weight (0: off)"),
    distill_pivot: Optional[str] = typer.Option(None, help="distillation pivot language (en)"),
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
    train_file: Optional[list[Path]] = typer.Option(None, help="your own groups, JSON lines (id, queries, passages, "
                                                    "optional negatives; see README 'Data'), repeatable"),
    ntrex_window: Optional[int] = typer.Option(None, help="NTREX inverse cloze: sentences on each side (2)"),
    holdout_languages: Optional[str] = typer.Option(None, help="comma-separated languages kept out of training, "
                                                    "e.g. el,vi"),
    design: Optional[str] = typer.Option(None, help="practical (default: all groups) or controlled (only groups "
                                         "that feed both batch kinds)"),
    output: Optional[Path] = typer.Option(None, help="model directory to write (runs/train)"),
    device: Optional[str] = typer.Option(None, help="auto, cpu or cuda[:N]; under torchrun auto/cuda give each rank cuda:LOCAL_RANK"),
    mixed_precision: Optional[str] = typer.Option(None, help="auto (bf16 on GPUs that have it, else none), fast (bf16 "
                                                  "wherever it is native, GPU or CPU, else none), no, bf16 or fp16 (GPU only)"),
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
    overrides["train_files"] = overrides.pop("train_file") or None
    noise = {key[len("noise_"):]: overrides.pop(key) for key in [k for k in overrides if k.startswith("noise_")]}
    if any(v is not None for v in noise.values()):
        overrides["noise"] = noise
    from polyret.train.config import load_config
    from polyret.train.loop import train as run_training

    if overrides["data_dir"] is None and (config is None):
        overrides["data_dir"] = default_data_dir()
    cfg = load_config(config, overrides)
    run_training(cfg, resume=resume, overwrite=overwrite, console=console)


@friendly
def interpolate(
    finetuned: Path = typer.Argument(..., help="a finished polyret model directory (polyret train's --output)"),
    alpha: str = typer.Option("0.5", help="weight of the fine-tuned model, or a comma list (e.g. 0,0.25,0.5,0.75,1) "
                              "to choose the best on the development set"),
    output: Path = typer.Option(..., help="model directory to write"),
    base: Optional[str] = typer.Option(None, help="the base model (default: the one the model was trained from)"),
    data_dir: Optional[Path] = typer.Option(None, help="data root (for the development set, dev/tatoeba)"),
    measure: str = typer.Option("mixed_mrr", help="development measure that chooses alpha (higher wins)"),
) -> None:
    """WiSE-FT weight interpolation: (1 - alpha) * base + alpha * fine-tuned, alpha chosen on dev/tatoeba."""
    from polyret.errors import PolyretError
    from polyret.options import comma_list
    from polyret.train.interpolate import interpolate_models

    try:
        alphas = [float(a) for a in comma_list(alpha)]
    except ValueError:
        raise PolyretError(f"--alpha: {alpha!r} is not a number or a comma list of numbers") from None
    dev = None
    if len(alphas) > 1:
        from polyret.evaluate.dev import load_dev_set

        dev = load_dev_set(data_dir or default_data_dir())
    record = interpolate_models(finetuned, alphas, output, base, dev, measure)
    for point in (record["chosen_on"] or {}).get("sweep", []):
        console.print(f"alpha {point['alpha']:.3f}: {measure} {point[measure]:.4f}")
    console.print(f"alpha {record['alpha']}: model saved to {output}")
