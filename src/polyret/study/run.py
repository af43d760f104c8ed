"""`polyret run`: train and evaluate every cell of the study grid, skipping finished work, and write one report.

Each cell writes its own directory (clean results, results under dialectal query noise, and one per extra
benchmark); each trained model its own under OUT/train/. So an interrupted grid resumes where it stopped (a killed
training resumes from its last checkpoint), and a failed cell is reported without losing the others.
"""

from __future__ import annotations

import json
import time
import traceback
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console

from polyret.errors import PolyretError
from polyret.options import name_path_pairs
from polyret.evaluate.config import EvaluateConfig, evaluation_dtype
from polyret.evaluate.runner import evaluate, load_benchmark, prepare_output
from polyret.model.encoder import Encoder, EncoderOptions
from polyret.report.io import write_json_atomic, write_text_atomic
from polyret.report.schema import write_study
from polyret.study.grid import Cell, cell_options, cells_of, train_config
from polyret.study.profiles import Profile
from polyret.study.report import render_report
from polyret.study.summary import collect

NOISED = "noised"
EXTRA = "extra"
MLQA_R = "mlqa-r"


def parse_extra_benchmarks(specs: list[str]) -> dict[str, Path]:
    """NAME=DIR pairs of --extra-benchmark; names become directory names and report headings."""
    def directory_name(spec: str, name: str) -> None:
        if not name.replace("-", "").replace("_", "").isalnum():
            raise PolyretError(f"--extra-benchmark {spec!r}: NAME may hold letters, digits, - and _ only")

    return name_path_pairs("--extra-benchmark", specs, check_name=directory_name)


def cell_parts(cell_dir: Path, extras: dict[str, Path], noised: bool = True) -> dict[str, Path]:
    """part name -> its results directory: 'clean', 'noised' (unless the profile's noise_eval is empty), and
    'extra/NAME' per extra benchmark."""
    parts = {"clean": cell_dir, **({NOISED: cell_dir / NOISED} if noised else {})}
    parts.update({f"{EXTRA}/{name}": cell_dir / EXTRA / name for name in extras})
    return parts


def run_study(models: list[str], profile: Profile, data_dir: Path, output: Path, overwrite: bool,
              console: Console, encoder_batch_size: int = 32, device: str = "auto",
              extra_benchmarks: dict[str, Path] | None = None) -> dict[str, Any]:
    """Run (or resume) the grid and write OUT/results.json, OUT/report.md and the figures."""
    extras_paths = extra_benchmarks or {}
    cells = cells_of(models, profile)
    base = EvaluateConfig(benchmark="xquad-r", data_dir=data_dir, languages=profile.languages,
                          articles=profile.articles)
    bench = load_benchmark(base)  # input errors surface before anything is trained
    extras = {name: load_benchmark(EvaluateConfig(benchmark=str(path), data_dir=data_dir))
              for name, path in extras_paths.items()}
    if profile.dialect_benchmark:  # evaluated in every cell beside XQuAD-R, like an extra benchmark
        from polyret.data.dialects import NAME, VARIANTS, load_ntrex_benchmark

        if NAME in extras:
            raise PolyretError(f"--extra-benchmark: the name {NAME!r} is the built-in dialect benchmark's")
        extras[NAME] = load_ntrex_benchmark(data_dir, "test", profile.dialect_sentences)
        extras_paths = {**extras_paths, NAME: data_dir / VARIANTS}
    if profile.mlqa_r:  # the paper's second benchmark, in every cell beside XQuAD-R
        from polyret.data.mlqa_r import load_mlqa_r

        if MLQA_R in extras:
            raise PolyretError(f"--extra-benchmark: the name {MLQA_R!r} is the built-in MLQA-R's")
        extras[MLQA_R] = load_mlqa_r(data_dir, None, profile.mlqa_r_articles)
        extras_paths = {**extras_paths, MLQA_R: data_dir / MLQA_R}
    if (output / "report.md").exists() and not overwrite and all(
            _finished(output / "cells" / c.slug, extras_paths, bool(profile.noise_eval)) for c in cells):
        raise PolyretError(f"{output}: already holds a finished study; pass --overwrite to redo it")
    output.mkdir(parents=True, exist_ok=True)
    write_text_atomic(output / "profile.yaml", yaml.safe_dump(profile.model_dump(mode="json"), sort_keys=False))
    leakage = _leakage_once(cells, profile, data_dir, output, console)

    status: dict[str, dict[str, Any]] = {}
    ordered = [c for model in models for c in cells if c.model == model]
    clock = StudyClock(len(ordered))
    clock.plan(ordered)
    for cell in ordered:
        began = time.perf_counter()
        status[cell.slug] = _run_cell(cell, profile, data_dir, output, overwrite, console, bench, extras,
                                      base, encoder_batch_size, device, leakage)
        console.print(clock.tick(cell, time.perf_counter() - began, skipped=status[cell.slug].get("seconds") is None
                                 and status[cell.slug]["status"] == "done"), highlight=False)
    summary = collect(output, cells, status, profile, models, extras_paths, leakage)
    write_study(output / "results.json", summary)
    write_text_atomic(output / "report.md", render_report(summary, output))
    return summary


class StudyClock:
    """One overall progress line after each cell: cells done, time so far, and an estimate of the time left.

    The estimate assumes the cells still to run cost what the cells that ran (not those kept from earlier) cost on
    average, trained and untrained separately, since a trained cell costs several times an evaluation-only one.
    """

    def __init__(self, total: int) -> None:
        self.total, self.done, self.started = total, 0, time.perf_counter()
        self.spent: dict[bool, list[float]] = {True: [], False: []}
        self.left: dict[bool, int] = {True: 0, False: 0}

    def plan(self, cells: list[Cell]) -> None:
        for cell in cells:
            self.left[cell.trains] += 1

    def tick(self, cell: Cell, seconds: float, skipped: bool = False) -> str:
        self.done += 1
        self.left[cell.trains] = max(0, self.left[cell.trains] - 1)
        if not skipped:
            self.spent[cell.trains].append(seconds)
        elapsed = time.perf_counter() - self.started
        guess = 0.0
        for trains in (True, False):
            known = self.spent[trains] or self.spent[not trains]
            if self.left[trains] and known:
                guess += self.left[trains] * sum(known) / len(known)
        eta = f", about {_minutes(guess)} left" if self.done < self.total and guess else ""
        return f"[bold]study:[/] {self.done}/{self.total} cells done, {_minutes(elapsed)} so far{eta}"


def _minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"


def _finished(cell_dir: Path, extras: dict[str, Path], noised: bool = True) -> bool:
    return all((path / "results.json").exists() for path in cell_parts(cell_dir, extras, noised).values())


def _leakage_once(cells: list[Cell], profile: Profile, data_dir: Path, output: Path,
                  console: Console) -> dict[str, Any] | None:
    """Zero-shot means zero-shot: prove no evaluation text is in the training data before any cell trains."""
    if not any(c.trains for c in cells):
        return None
    record_path = output / "leakage.json"
    from polyret.data.leakage import assert_no_leakage, evaluation_sets, evaluation_texts, training_texts
    from polyret.data.training import load_training_groups

    languages = next(train_config(c, profile, data_dir, output, "cpu") for c in cells if c.trains).training_languages
    data = load_training_groups(data_dir, profile.train.sources, languages, ntrex_window=profile.train.ntrex_window,
                                train_files=profile.train.train_files)
    key = {"training_files_sha256": data.files, "sources": profile.train.sources,
           "languages": languages, "ntrex_window": profile.train.ntrex_window,
           "evaluation_sets": evaluation_sets(data_dir)}
    if record_path.exists():
        saved = json.loads(record_path.read_text())
        if saved.get("key") == key:
            return saved
    started = time.perf_counter()
    console.print("checking that no evaluation text reaches training ...")
    train_texts, eval_texts = training_texts(data.groups), evaluation_texts(data_dir)
    assert_no_leakage(train_texts, eval_texts)  # raises, naming the overlap, before any training
    record = {"key": key, "evaluation_sets": key["evaluation_sets"], "training_texts": len(train_texts),
              "evaluation_texts": len(eval_texts),
              "overlapping_texts": 0, "seconds": round(time.perf_counter() - started, 2)}
    write_json_atomic(record_path, record)
    return record


def _run_cell(cell: Cell, profile: Profile, data_dir: Path, output: Path, overwrite: bool, console: Console,
              bench: Any, extras: dict[str, Any], base: EvaluateConfig, batch_size: int, device: str,
              leakage: dict[str, Any] | None) -> dict[str, Any]:
    cell_dir = output / "cells" / cell.slug
    parts = cell_parts(cell_dir, {name: Path() for name in extras}, bool(profile.noise_eval))
    todo = {name: path for name, path in parts.items() if overwrite or not (path / "results.json").exists()}
    if not todo:
        console.print(f"[dim]cell {cell.slug}: finished earlier, kept[/]")
        return {"status": "done"}
    console.print(f"[bold]cell {cell.slug}[/]")
    began = time.perf_counter()
    failed: dict[str, str] = {}
    try:
        model_spec = (_trained_model(cell, profile, data_dir, output, overwrite, console, device) if cell.trains
                      else cell.model)
        encoder = Encoder(EncoderOptions(model=model_spec, batch_size=batch_size, device=device,
                                         dtype=evaluation_dtype(device)))  # type: ignore[arg-type]
        options = cell_options(base, cell, profile, len(bench.languages))
        for name, path in todo.items():
            try:
                prepare_output(path, overwrite=True)
                if name == "clean":
                    evaluate(bench, encoder, options, path, console)
                elif name == NOISED:
                    noise = [f"{spec}:{profile.noise_eval_rate}" for spec in profile.noise_eval]
                    evaluate(bench, encoder, options.model_copy(update={"query_noise": noise}), path, console)
                else:
                    extra = extras[name.split("/", 1)[1]]
                    extra_options = cell_options(base, cell, profile, len(extra.languages)).model_copy(
                        update={"benchmark": extra.name, "languages": None, "articles": None})
                    evaluate(extra, encoder, extra_options, path, console)
            except Exception as err:  # one part failing (say an extra benchmark) keeps the rest
                console.print(f"[red]cell {cell.slug} ({name}) failed:[/] {err}")
                write_text_atomic(path / "error.txt", traceback.format_exc())
                failed[name] = str(err)
    except Exception as err:  # a failed cell must not lose the others
        console.print(f"[red]cell {cell.slug} failed:[/] {err}")
        cell_dir.mkdir(parents=True, exist_ok=True)
        write_text_atomic(cell_dir / "error.txt", traceback.format_exc())
        return {"status": "failed", "error": str(err)}
    seconds = round(time.perf_counter() - began, 1)
    if "clean" in failed:
        return {"status": "failed", "error": failed["clean"], "seconds": seconds}
    return {"status": "done", "failed_parts": failed, "seconds": seconds}


def _trained_model(cell: Cell, profile: Profile, data_dir: Path, output: Path, overwrite: bool,
                   console: Console, device: str) -> str:
    """The cell's trained model directory: reused if finished with the same options, resumed if interrupted."""
    from polyret.train.checkpoint import list_checkpoints
    from polyret.train.config import read_saved_config
    from polyret.train.loop import train

    out = output / "train" / cell.training_slug
    config = train_config(cell, profile, data_dir, out, device=device)
    if (out / "polyret_model.json").exists() and not overwrite:
        saved = read_saved_config(out)
        if saved.model_dump(exclude={"output"}) != config.model_dump(exclude={"output"}):
            raise PolyretError(f"{out}: trained with other options than this profile's; pass --overwrite to retrain")
        if profile.dev is not None and not (out / "dev_curve.json").exists():
            raise PolyretError(f"{out}: trained without the profile's development-set curve; pass --overwrite "
                               "to retrain")
        console.print(f"[dim]model {out.name}: trained earlier, kept[/]")
        return str(out)
    resume = out.exists() and bool(list_checkpoints(out)) and not overwrite
    console.print(f"training {cell.base} (seed {cell.seed}, {config.steps} steps of {config.batch_size} pairs)"
                  + (" [resuming]" if resume else ""))
    from polyret.train.dev_hook import dev_hook_for

    hooks = [dev_hook_for(profile.dev, data_dir)] if profile.dev is not None else []
    train(config, resume=resume, overwrite=not resume, console=console, hooks=hooks)
    return str(out)
