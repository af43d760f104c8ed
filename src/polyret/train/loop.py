"""`polyret train`: contrastive fine-tuning with a batch strategy, checkpoints, exact resume and data parallelism.

Run it as one process, or under `torchrun --nproc_per_node N` for data parallelism (gloo on CPU, NCCL on GPU):
every rank draws the same batch kind and language (pair) at each step from a shared seed, holds a disjoint shard
of the global batch, and the loss gathers embeddings from all ranks so negatives span the whole global batch.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import time
from pathlib import Path
from typing import Any

import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from polyret.errors import PolyretError
from polyret.model.encoder import Encoder, EncoderOptions
from polyret.noise.apply import BatchNoiser
from polyret.provenance import code_version, environment
from polyret.report.io import write_json_atomic, write_text_atomic
from polyret.train.checkpoint import list_checkpoints, load_checkpoint, restore, save_checkpoint
from polyret.train.config import SAVED_CONFIG, TrainConfig, read_saved_config
from polyret.train.saving import save_trained_model

LOG = "log.jsonl"
FINISHED = "polyret_model.json"
KILL_ENV = "POLYRET_DEBUG_SIGKILL_AT_STEP"  # tests: die like `kill -9` at the start of this step


class Distributed:
    """Rank facts from torchrun's environment; one process when absent."""

    def __init__(self, device: torch.device) -> None:
        self.world_size = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        if self.world_size > 1 and not torch.distributed.is_initialized():
            backend = "nccl" if device.type == "cuda" else "gloo"
            torch.distributed.init_process_group(backend=backend)

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world_size > 1:
            torch.distributed.barrier()

    def close(self) -> None:
        if self.world_size > 1 and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def freeze(model: torch.nn.Module, config: TrainConfig) -> dict[str, int]:
    """Freeze word embeddings and the lowest layers as configured; return parameter counts."""
    embeddings = model.get_input_embeddings()
    if config.freeze_embeddings:
        embeddings.weight.requires_grad_(False)
    if config.freeze_layers:
        layers = _layers(model)
        if config.freeze_layers > len(layers):
            raise PolyretError(f"--freeze-layers {config.freeze_layers}: the model has only {len(layers)} layers")
        for layer in layers[: config.freeze_layers]:
            layer.requires_grad_(False)
    total = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"total": total, "trainable": trainable}


def _layers(model: torch.nn.Module) -> torch.nn.ModuleList:
    for path in ("encoder.layer", "transformer.layer", "layers"):
        obj: Any = model
        try:
            for part in path.split("."):
                obj = getattr(obj, part)
            return obj
        except AttributeError:
            continue
    raise PolyretError(f"--freeze-layers: cannot find the transformer layers of {type(model).__name__}")


def prepare_output(config: TrainConfig, resume: bool, overwrite: bool) -> int:
    """Decide where to start: 0 for a fresh run, or the newest checkpoint's step with --resume."""
    out = config.output
    if resume:
        steps = list_checkpoints(out)
        if not steps:
            raise PolyretError(f"{out}: --resume given but no checkpoint found in {out / 'checkpoints'}")
        saved = read_saved_config(out)
        if saved.model_dump(exclude={"output"}) != config.model_dump(exclude={"output"}):
            raise PolyretError(f"{out}: --resume with options that differ from the saved {SAVED_CONFIG}")
        return steps[-1]
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise PolyretError(f"{out}: already exists and is not empty; pass --resume to continue or --overwrite")
        shutil.rmtree(out)
    return 0


def _truncate_log(path: Path, last_step: int) -> None:
    """Drop log records past the checkpoint we resume from (the killed run may have logged a few more)."""
    if not path.exists():
        return
    kept = [line for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and json.loads(line)["step"] <= last_step]
    write_text_atomic(path, "".join(line + "\n" for line in kept))


def train(config: TrainConfig, resume: bool = False, overwrite: bool = False,
          console: Console | None = None) -> Path:
    """Train per `config`; returns the output directory (a loadable model directory)."""
    from transformers import get_linear_schedule_with_warmup

    from polyret.data.training import load_training_groups, stats_json
    from polyret.sampling import SAMPLER_INFO, batch_composition, design_groups, make_sampler
    from polyret.train.loss import InfoNCELoss

    console = console or Console(stderr=True)
    encoder = Encoder(EncoderOptions(model=config.model, device=config.device))
    dist = Distributed(encoder.device)
    out = config.output
    start = prepare_output(config, resume, overwrite) if dist.main else 0
    dist.barrier()
    if not dist.main and resume:
        start = list_checkpoints(out)[-1]

    data = load_training_groups(config.data_dir, config.sources, config.training_languages,
                                ntrex_window=config.ntrex_window, train_files=config.train_files)
    groups = design_groups(data.groups, config.design)
    if config.check_leakage:
        from polyret.data.leakage import assert_no_leakage, evaluation_texts, training_texts

        assert_no_leakage(training_texts(groups), evaluation_texts(config.data_dir))
    if config.batch_size % (dist.world_size * config.grad_accum):
        raise PolyretError(f"--batch-size {config.batch_size} must divide evenly over {dist.world_size} rank(s) "
                           f"x {config.grad_accum} accumulation step(s)")
    sampler = make_sampler(config.sampler_strategy, groups, config.batch_size, alpha=config.alpha, tau=config.tau,
                           seed=config.seed, world_size=dist.world_size, rank=dist.rank,
                           languages=config.training_languages, per_example_pairs=config.per_example_pairs)

    noiser = BatchNoiser(config.noise, config.seed) if config.noise is not None else None
    torch.manual_seed(config.seed + dist.rank)
    model = encoder.model
    counts = freeze(model, config)
    if config.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    model.train()
    wrapped: torch.nn.Module = model
    if dist.world_size > 1:
        wrapped = torch.nn.parallel.DistributedDataParallel(model)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    scheduler = get_linear_schedule_with_warmup(optimizer, config.effective_warmup, config.steps)
    loss_fn = InfoNCELoss(temperature=config.temperature, symmetric=config.symmetric)
    autocast = _autocast(config, encoder.device)

    if start:
        state = load_checkpoint(out, start)
        sampler.load_state_dict(state["sampler"])  # refuses a resume on other data or sampler options
        restore(state, model, optimizer, scheduler)
        if dist.main:
            _truncate_log(out / LOG, start)
            console.print(f"resuming {out} from step {start}")
    elif dist.main:
        out.mkdir(parents=True, exist_ok=True)
        write_text_atomic(out / SAVED_CONFIG, config.to_yaml())
        write_json_atomic(out / "data_stats.json", stats_json(data))
        write_json_atomic(out / SAMPLER_INFO, {"design": config.design, **sampler.describe()})
    dist.barrier()

    kill_at = int(os.environ.get(KILL_ENV, "0"))
    columns = (TextColumn("[bold]training"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
               TimeElapsedColumn(), TimeRemainingColumn())
    log_path = out / LOG
    with Progress(*columns, console=console, disable=not dist.main) as bar:
        task = bar.add_task("train", total=config.steps, completed=start, info="")
        for step in range(start + 1, config.steps + 1):
            if step == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
            began = time.perf_counter()
            batch = sampler.batch_at(step)
            noise_tally = None
            if noiser is not None:
                batch, noise_tally = noiser.noise_batch(batch)
            loss_value, accuracy = _optimiser_step(batch, encoder, wrapped, loss_fn, optimizer, config, autocast)
            if not math.isfinite(loss_value):
                raise PolyretError(f"step {step}: loss is {loss_value}; stopped, the last good checkpoint "
                                   f"({(list_checkpoints(out) or ['none'])[-1]}) is intact")
            grad_norm = torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            seconds = time.perf_counter() - began
            if dist.main:
                record = {"step": step, "loss": loss_value, "accuracy": accuracy, "kind": batch.kind,
                          "query_langs": sorted(set(batch.query_langs)),
                          "passage_langs": sorted(set(batch.positive_langs)),
                          "lr": scheduler.get_last_lr()[0], "grad_norm": float(grad_norm),
                          "pairs_per_second": round(config.batch_size / seconds, 3)}
                record.update(batch_composition(batch))  # this rank's share: language pairs, sources, negatives
                if noise_tally is not None:  # this rank's share (rank 0 logs)
                    record["noise"] = noise_tally.to_dict()
                with open(log_path, "a", encoding="utf-8") as handle:
                    handle.write(json.dumps(record, ensure_ascii=False) + "\n")
                langs = ",".join(record["query_langs"]) + "→" + ",".join(record["passage_langs"])
                bar.update(task, advance=1, info=f"loss {loss_value:.3f} · {record['pairs_per_second']:.1f} pairs/s"
                                                  f" · {batch.kind} {langs}")
            if (step % config.checkpoint_every == 0 or step == config.steps) and dist.main:
                save_checkpoint(out, step, model, optimizer, scheduler, {"config": config.model_dump(mode="json"),
                                                                          "sampler": {**sampler.state_dict(), "step": step + 1}})
            dist.barrier()

    if dist.main:
        save_trained_model(encoder, model, out, config, counts,
                           {"code_version": code_version(), "environment": environment(),
                            "data_files_sha256": data.files})
        console.print(f"model saved: {out}")
    dist.barrier()
    dist.close()
    return out


def _autocast(config: TrainConfig, device: torch.device) -> Any:
    mode = config.mixed_precision
    if mode == "auto":
        mode = "bf16" if device.type == "cuda" and torch.cuda.is_bf16_supported() else "no"
    if mode == "no":
        return torch.autocast(device_type=device.type, enabled=False)
    if device.type != "cuda":
        raise PolyretError(f"--mixed-precision {mode}: only on a GPU (this run uses {device})")
    return torch.autocast(device_type="cuda", dtype=torch.bfloat16 if mode == "bf16" else torch.float16)


def _optimiser_step(batch: Any, encoder: Encoder, wrapped: torch.nn.Module, loss_fn: Any,
                    optimizer: torch.optim.Optimizer, config: TrainConfig, autocast: Any) -> tuple[float, float]:
    """Forward and backward over `grad_accum` micro-batches of this rank's shard; mean loss and accuracy."""
    queries = encoder.token_ids(encoder.prefixed(batch.queries, "query"), config.query_max_length)
    positives = encoder.token_ids(encoder.prefixed(batch.positives, "passage"), config.passage_max_length)
    chunk = len(queries) // config.grad_accum
    total_loss, total_acc = 0.0, 0.0
    for i in range(config.grad_accum):
        part = slice(i * chunk, (i + 1) * chunk)
        hard = [n for n in batch.negatives[part] if n is not None]  # the data's hard negatives, if any
        with autocast:
            q = encoder.embed_ids(queries[part], wrapped)
            p = encoder.embed_ids(positives[part], wrapped)
            n = encoder.embed_ids(encoder.token_ids(encoder.prefixed(hard, "passage"), config.passage_max_length),
                                  wrapped) if hard else None
            loss, acc = loss_fn(q, p, n)
        (loss / config.grad_accum).backward()
        total_loss += float(loss.detach()) / config.grad_accum
        total_acc += float(acc) / config.grad_accum
    if torch.distributed.is_initialized():  # log the global batch's loss, not rank 0's share of it
        both = torch.tensor([total_loss, total_acc], dtype=torch.float64)
        torch.distributed.all_reduce(both)
        total_loss, total_acc = (both / torch.distributed.get_world_size()).tolist()
    return total_loss, total_acc

