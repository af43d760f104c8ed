"""`polyret train`: contrastive fine-tuning with a batch strategy, checkpoints, exact resume and data parallelism.

Run it as one process, or under `torchrun --nproc_per_node N` for data parallelism (gloo on CPU, NCCL on GPU):
every rank draws the same batch kind and language (pair) at each step from a shared seed, holds a disjoint shard
of the global batch, and the loss gathers embeddings from all ranks so negatives span the whole global batch.

`train` is a thin driver over named phases, each a function of its own:
set_up (device, ranks, output) -> prepare_data (groups, leakage, sampler, noiser) -> build_model (freezing, DDP,
optimiser, scheduler, the step) -> start_or_resume (checkpoint) -> run_steps (the step, log, checkpoints, hooks)
-> save. Hooks (train/hooks.py) watch or extend a run without living in the loop.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from polyret.errors import PolyretError
from polyret.model.encoder import Encoder, EncoderOptions, pick_device
from polyret.noise.apply import BatchNoiser
from polyret.ownership import claim, remove_owned, require_owned
from polyret.provenance import code_version, environment
from polyret.report.io import write_json_atomic, write_text_atomic
from polyret.train.checkpoint import CHECKPOINTS, list_checkpoints, load_checkpoint, restore, rng_state, save_checkpoint
from polyret.train.config import SAVED_CONFIG, TrainConfig, read_saved_config
from polyret.train.distributed import Distributed
from polyret.train.hooks import TrainHook, TrainState
from polyret.train.precision import Precision, resolve_mode
from polyret.train.saving import save_trained_model
from polyret.train.step import NonFiniteLoss, StepResult, TrainStep

LOG = "log.jsonl"
FINISHED = "polyret_model.json"


@dataclass
class Run:
    """Set-up: where this process trains and writes."""

    config: TrainConfig
    device: torch.device
    dist: Distributed
    start: int
    console: Console
    replace_existing: bool = False  # --overwrite of a run polyret made: removed once every input has loaded

    @property
    def out(self) -> Path:
        return self.config.output


@dataclass
class TrainData:
    """Data: the groups' statistics and files, this rank's sampler and the optional noiser."""

    data: Any
    sampler: Any
    noiser: BatchNoiser | None
    groups: list[Any] = field(default_factory=list)  # the design's groups, as the sampler draws from them


@dataclass
class Parts:
    """Model: the encoder, its (wrapped) module, optimiser, scheduler and the step that drives them."""

    encoder: Encoder
    wrapped: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    step: TrainStep
    counts: dict[str, int]
    precision: Precision

    @property
    def model(self) -> torch.nn.Module:
        return self.encoder.model


def train(config: TrainConfig, resume: bool = False, overwrite: bool = False,
          console: Console | None = None, hooks: Sequence[TrainHook] = ()) -> Path:
    """Train per `config`; returns the output directory (a loadable model directory).

    `hooks` are called on every rank at the start and end of the run and of every step (train/hooks.py).
    """
    run = set_up(config, resume, overwrite, console or Console(stderr=True))
    data = prepare_data(run)
    parts = build_model(run, data)
    start_or_resume(run, data, parts)
    state = TrainState(config=config, output=run.out, rank=run.dist.rank, world_size=run.dist.world_size,
                       encoder=parts.encoder, model=parts.model, start_step=run.start, step=run.start)
    for hook in hooks:
        hook.on_train_start(state)
    run_steps(run, data, parts, state, hooks)
    for hook in hooks:
        hook.on_before_save(state)
    save(run, data, parts)
    for hook in hooks:
        hook.on_train_end(state)
    run.dist.barrier()
    run.dist.close()
    return run.out


# ---------------------------------------------------------------------------------------------- set-up
def set_up(config: TrainConfig, resume: bool, overwrite: bool, console: Console) -> Run:
    """Device, ranks and the output directory; the step to start from (0, or the checkpoint's with --resume)."""
    device = pick_device(config.device)
    dist = Distributed(device)
    start, replace_existing = prepare_output(config, resume, overwrite) if dist.main else (0, False)
    dist.barrier()
    if not dist.main and resume:
        start = list_checkpoints(config.output)[-1]
    return Run(config=config, device=device, dist=dist, start=start, console=console,
               replace_existing=replace_existing)


def prepare_output(config: TrainConfig, resume: bool, overwrite: bool) -> tuple[int, bool]:
    """Decide where to start: 0 for a fresh run, or the newest checkpoint's step with --resume.

    Nothing is deleted here: with --overwrite, an existing directory must be one polyret made (else a one-line
    refusal), and it is removed only after the data and the model have loaded (start_or_resume).
    Returns (start step, whether an existing run is to be replaced).
    """
    out = config.output
    if resume:
        steps = list_checkpoints(out)
        if not steps:
            raise PolyretError(f"{out}: --resume given but no checkpoint found in {out / 'checkpoints'}")
        saved = read_saved_config(out)
        if saved.model_dump(exclude={"output"}) != config.model_dump(exclude={"output"}):
            raise PolyretError(f"{out}: --resume with options that differ from the saved {SAVED_CONFIG}")
        return steps[-1], False
    if out.exists() and not out.is_dir():
        raise PolyretError(f"{out}: exists and is not a directory")
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise PolyretError(f"{out}: already exists and is not empty; pass --resume to continue or --overwrite")
        require_owned(out)
        return 0, True
    return 0, False


# ---------------------------------------------------------------------------------------------- data
def prepare_data(run: Run) -> TrainData:
    """Training groups, the leakage guard, this rank's sampler and the noiser."""
    from polyret.data.training import load_training_groups
    from polyret.sampling import design_groups, make_sampler

    config, dist = run.config, run.dist
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
                           languages=config.training_languages, per_example_pairs=config.per_example_pairs,
                           same_language_negatives=config.same_language_negatives)
    noiser = BatchNoiser(config.noise, config.seed) if config.noise is not None else None
    return TrainData(data=data, sampler=sampler, noiser=noiser, groups=groups)


# ---------------------------------------------------------------------------------------------- model
def build_model(run: Run, data: TrainData | None = None) -> Parts:
    """Encoder, freezing, DDP, optimiser, scheduler, loss (and its teacher, for distillation) and the step."""
    from polyret.train.loss import build_loss
    from polyret.train.optim import build_optimizer

    config = run.config
    encoder = Encoder(EncoderOptions(model=config.model, device=str(run.device)))
    torch.manual_seed(config.seed + run.dist.rank)
    model = encoder.model
    counts = freeze(model, config)
    if config.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    model.train()
    wrapped = run.dist.wrap(model)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer, scheduler = build_optimizer(params, config)
    loss_fn = build_loss(config)
    precision = Precision(resolve_mode(config.mixed_precision, run.device), run.device)
    teacher = None
    if config.distill_weight > 0:
        from polyret.train.distill import Teacher

        if data is None:
            raise PolyretError("distillation needs the training groups (build_model(run, data))")
        with torch.random.fork_rng(devices=[run.device] if run.device.type == "cuda" else []):
            # loading the teacher draws no random number of the run: dropout masks stay those of a plain run
            teacher = Teacher(Encoder(EncoderOptions(model=config.model, device=str(run.device))),
                              data.groups, config.distill_pivot, config.query_max_length,
                              config.passage_max_length)
    step = TrainStep(encoder, wrapped, loss_fn, optimizer, scheduler, config, precision, teacher)
    return Parts(encoder=encoder, wrapped=wrapped, optimizer=optimizer, scheduler=scheduler, step=step, counts=counts,
                 precision=precision)


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


# ---------------------------------------------------------------------------------------------- checkpoint / resume
def start_or_resume(run: Run, data: TrainData, parts: Parts) -> None:
    """Fresh run: write the config and data statistics. Resume: load the checkpoint into every part."""
    out, dist = run.out, run.dist
    if run.start:
        state = load_checkpoint(out, run.start)
        mine = restore(state, parts.model, parts.optimizer, parts.scheduler, dist.rank, dist.world_size, run.device)
        data.sampler.load_state_dict(mine["sampler"])  # refuses a resume on other data or sampler options
        if state.get("scaler"):  # fp16 runs only
            parts.precision.scaler.load_state_dict(state["scaler"])
        if dist.main:
            torn = _truncate_log(out / LOG, run.start)
            if torn:
                run.console.print(torn)
            run.console.print(f"resuming {out} from step {run.start}")
    else:
        dist.barrier()  # every rank has loaded its data and model before rank 0 removes an old run
    if not run.start and dist.main:
        from polyret.data.training import stats_json
        from polyret.sampling import SAMPLER_INFO

        if run.replace_existing:
            remove_owned(out)
        claim(out, "training run")
        write_text_atomic(out / SAVED_CONFIG, run.config.to_yaml())
        write_json_atomic(out / "data_stats.json", stats_json(data.data))
        write_json_atomic(out / SAMPLER_INFO, {"design": run.config.design, **data.sampler.describe()})
    dist.barrier()


def checkpoint(run: Run, data: TrainData, parts: Parts, step: int) -> Path:
    """Every rank's RNG states and sampler position go to rank 0, which writes the checkpoint of `step`.

    Called on every rank; returns the checkpoint directory once it is complete.
    """
    mine = {"rng": rng_state(run.device), "sampler": {**data.sampler.state_dict(), "step": step + 1}}
    ranks = run.dist.gather_objects(mine)
    path = run.out / CHECKPOINTS / f"step-{step}"
    if run.dist.main:
        extra = {"config": run.config.model_dump(mode="json"), "scaler": parts.precision.scaler.state_dict()}
        path = save_checkpoint(run.out, step, parts.model, parts.optimizer, parts.scheduler, ranks, extra)
    run.dist.barrier()
    return path


def _truncate_log(path: Path, last_step: int) -> str | None:
    """Drop log records past the checkpoint we resume from (the killed run may have logged a few more).

    A torn last line (power loss, full disk: the write of one record cut short) is dropped and reported; a bad line
    anywhere else is not something polyret wrote, and is refused with its line number. Returns what was dropped.
    """
    if not path.exists():
        return None
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    kept, torn = [], None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            step = int(record["step"])
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            if number == len(lines):
                torn = f"{path}: dropped a torn last line ({number}: {line[:40]!r}...)"
                continue
            raise PolyretError(f"{path}:{number}: not a log record of polyret's ({line[:60]!r})") from None
        if step <= last_step:
            kept.append(line)
    write_text_atomic(path, "".join(line + "\n" for line in kept))
    return torn


# ---------------------------------------------------------------------------------------------- the steps
def run_steps(run: Run, data: TrainData, parts: Parts, state: TrainState, hooks: Sequence[TrainHook]) -> None:
    """Steps start+1..steps: batch, noise, the step, log, checkpoint, hooks."""
    config, dist = run.config, run.dist
    columns = (TextColumn("[bold]training"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
               TimeElapsedColumn(), TimeRemainingColumn())
    with Progress(*columns, console=run.console, disable=not dist.main) as bar:
        task = bar.add_task("train", total=config.steps, completed=run.start, info="")
        for step in range(run.start + 1, config.steps + 1):
            state.step, state.batch, state.result, state.record, state.checkpoint = step, None, None, None, None
            for hook in hooks:
                hook.on_step_start(state)
            began = time.perf_counter()
            batch = data.sampler.batch_at(step)
            noise_tally = None
            if data.noiser is not None:
                batch, noise_tally = data.noiser.noise_batch(batch)
            try:
                result = parts.step(batch)
            except NonFiniteLoss as err:
                raise PolyretError(f"{err}; stopped, the last good checkpoint "
                                   f"({(list_checkpoints(run.out) or ['none'])[-1]}) is intact") from None
            record = log_record(step, batch, result, parts, config, time.perf_counter() - began)
            if noise_tally is not None:  # this rank's share (rank 0 logs)
                record["noise"] = noise_tally.to_dict()
            if dist.main:
                with open(run.out / LOG, "a", encoding="utf-8") as handle:
                    handle.write(json.dumps(record, ensure_ascii=False) + "\n")
                langs = ",".join(record["query_langs"]) + "→" + ",".join(record["passage_langs"])
                bar.update(task, advance=1, info=f"loss {result.loss:.3f} · {record['pairs_per_second']:.1f} pairs/s"
                                                  f" · {batch.kind} {langs}")
            if step % config.checkpoint_every == 0 or step == config.steps:
                state.checkpoint = checkpoint(run, data, parts, step)
            state.batch, state.result, state.record = batch, result, record
            for hook in hooks:
                hook.on_step_end(state)
            dist.barrier()


def log_record(step: int, batch: Any, result: StepResult, parts: Parts, config: TrainConfig,
               seconds: float) -> dict[str, Any]:
    """One line of log.jsonl."""
    from polyret.sampling import batch_composition

    record = {"step": step, "loss": result.loss, "accuracy": result.accuracy, "kind": batch.kind,
              "query_langs": sorted(set(batch.query_langs)), "passage_langs": sorted(set(batch.positive_langs)),
              "lr": parts.scheduler.get_last_lr()[0], "grad_norm": result.grad_norm,
              "pairs_per_second": round(config.batch_size / seconds, 3)}
    record.update(batch_composition(batch))  # this rank's share: language pairs, sources, negatives
    return record


# ---------------------------------------------------------------------------------------------- save
def save(run: Run, data: TrainData, parts: Parts) -> None:
    """The finished model directory (rank 0)."""
    if run.dist.main:
        save_trained_model(parts.encoder, parts.model, run.out, run.config, parts.counts,
                           {"code_version": code_version(), "environment": environment(),
                            "data_files_sha256": data.data.files, "device": str(run.device),
                            "mixed_precision": parts.precision.mode, "world_size": run.dist.world_size})
        run.console.print(f"model saved: {run.out}")
