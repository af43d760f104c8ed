"""`polyret run`: the study."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console

from polyret.cli.common import console, default_data_dir, friendly
from polyret.errors import PolyretError
from polyret.options import comma_list, name_path_pairs


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
    noise_families: Optional[str] = typer.Option(None, help="hybrid+noise trains with these noise families only, "
                                                 "e.g. lexical or phonological,orthographic (a family ablation: one "
                                                 "study directory per subset)"),
    noise_dialects: Optional[str] = typer.Option(None, help="hybrid+noise draws from these dialect targets only, "
                                                 "e.g. ar-arabizi,zh-pinyin (the romanisation arm of the ablation; "
                                                 "languages without a listed target stay clean)"),
    designs: Optional[str] = typer.Option(None, help="practical, controlled or both (practical,controlled): "
                                          "override the profile's designs"),
    holdout_languages: Optional[str] = typer.Option(None, help="languages kept out of training, e.g. el,vi "
                                                    "(the report splits seen and unseen query languages)"),
    train_file: Optional[list[Path]] = typer.Option(None, help="your own training groups (JSON lines), "
                                                    "repeatable: read by every trained cell"),
    dialect_sentences: Optional[int] = typer.Option(None, help="dialect benchmark: its first K held-out "
                                                    "sentences (default: the profile's)"),
    set_option: Optional[list[str]] = typer.Option(None, "--set", help="KEY=VALUE of the profile, repeatable: "
                                                   "train.loss=margin, train.distill_weight=1, "
                                                   "train.same_language_negatives=true, mlqa_r=false, "
                                                   "dialect_benchmark=false, noise_eval=[] (profiles.py names them)"),
) -> None:
    """The study: every (model, strategy, seed) cell trained where it trains and evaluated zero-shot on XQuAD-R
    (clean and with dialectal query noise), one report with intervals, paired tests and a plain-language answer."""
    from polyret.study.profiles import PROFILES
    from polyret.study.run import parse_extra_benchmarks, run_study

    if profile not in PROFILES:
        raise PolyretError(f"--profile: unknown profile {profile!r}; available: {', '.join(PROFILES)}")
    chosen = PROFILES[profile]
    if strategies:
        from polyret.strategy import check_strategies

        names = [strategy.name for strategy in check_strategies(comma_list(strategies))]  # "--strategies: ..."
        chosen = chosen.model_copy(update={"strategies": names})
    if steps is not None:
        if steps < 1:
            raise PolyretError("--steps must be at least 1")
        chosen = chosen.model_copy(update={"train": chosen.train.model_copy(update={"steps": steps})})
    if seeds is not None:
        try:
            chosen = chosen.model_copy(update={"seeds": [int(x) for x in comma_list(seeds)]})
        except ValueError:
            raise PolyretError(f"--seeds: {seeds!r} is not a comma-separated list of integers") from None
    for option, field, value in (("--noise-families", "families", noise_families),
                                 ("--noise-dialects", "dialects", noise_dialects)):
        if value is not None:
            chosen = _with_noise(chosen, option, field, comma_list(value))
    if designs is not None:
        chosen = chosen.model_copy(update={"designs": _choices("--designs", designs, ("practical", "controlled"))})
    budget: dict[str, object] = {}
    if holdout_languages is not None:
        budget["holdout_languages"] = comma_list(holdout_languages)
    if train_file:
        budget["train_files"] = list(train_file)
    if budget:
        chosen = chosen.model_copy(update={"train": chosen.train.model_copy(update=budget)})
    if dialect_sentences is not None:
        if dialect_sentences < 1:
            raise PolyretError("--dialect-sentences must be at least 1")
        chosen = chosen.model_copy(update={"dialect_sentences": dialect_sentences})
    chosen = _with_settings(chosen, set_option or [])
    chosen = type(chosen).model_validate(chosen.model_dump())  # the overrides pass the profile's own checks
    extras = parse_extra_benchmarks(extra_benchmark or [])
    summary = run_study(comma_list(models), chosen, data_dir or default_data_dir(),
                        output, overwrite, console, batch_size, device, extras)
    from rich.markdown import Markdown

    Console().print(Markdown((output / "report.md").read_text()))
    failed = [c["cell"] for c in summary["cells"] if c["status"] != "done"]
    if failed:
        raise PolyretError(f"{len(failed)} cell(s) failed: {', '.join(failed)} (see their error.txt)")


def _with_settings(profile: Any, settings: list[str]) -> Any:
    """The profile with each KEY=VALUE of --set applied (VALUE read as YAML: numbers, true/false, lists), checked
    by the profile's own model so a typo names the key."""
    import yaml
    from pydantic import ValidationError

    data = profile.model_dump()
    for setting in settings:
        key, sep, raw = setting.partition("=")
        if not sep or not key:
            raise PolyretError(f"--set {setting!r}: expected KEY=VALUE, e.g. train.loss=margin")
        *parents, leaf = key.split(".")
        target = data
        for part in parents:
            if not isinstance(target.get(part), dict):
                raise PolyretError(f"--set {setting!r}: the profile has no section {part!r}")
            target = target[part]
        if leaf not in target:
            raise PolyretError(f"--set {setting!r}: the profile has no option {key!r}")
        target[leaf] = yaml.safe_load(raw)
    try:
        return type(profile).model_validate(data)
    except ValidationError as err:
        first = err.errors()[0]
        raise PolyretError(f"--set: option {'.'.join(str(x) for x in first['loc'])!r}: {first['msg']}") from None


def _with_noise(profile: Any, option: str, field: str, value: list[str]) -> Any:
    """The profile with one field of hybrid+noise's noise section replaced (checked as the config checks it)."""
    from pydantic import ValidationError

    from polyret.noise.apply import NoiseConfig

    try:
        noise = NoiseConfig(**{**profile.train.noise.model_dump(), field: value})
    except ValidationError as err:
        raise PolyretError(f"{option}: {err.errors()[0]['msg']}") from None
    return profile.model_copy(update={"train": profile.train.model_copy(update={"noise": noise})})


def _choices(option: str, value: str, allowed: tuple[str, ...]) -> list[str]:
    parts = comma_list(value)
    bad = [p for p in parts if p not in allowed]
    if not parts or bad or len(set(parts)) != len(parts):
        raise PolyretError(f"{option}: expected a comma-separated subset of {', '.join(allowed)}, got {value!r}")
    return parts


@friendly
def ablation(
    arms: list[str] = typer.Argument(..., help="ARM=STUDY_DIR, one per arm: each a finished study with a hybrid "
                                     "and a hybrid+noise cell (e.g. lexical=runs/abl-lexical all=runs/study)"),
    design: str = typer.Option("controlled", help="which design's cells to compare"),
    output: Optional[Path] = typer.Option(None, help="also write the table to this markdown file, and the forest "
                                          "plot beside it (same name, .png)"),
) -> None:
    """The noise ablation: hybrid+noise minus hybrid per arm, on clean XQuAD-R, under query noise and on real
    dialect queries per variety, read from the studies' results (nothing is recomputed)."""
    from rich.markdown import Markdown

    from polyret.report.io import write_text_atomic
    from polyret.study.ablation import ablation_figure, ablation_rows, render_ablation

    rows = ablation_rows(name_path_pairs("ablation", arms, form="ARM=STUDY_DIR"), design)
    text = render_ablation(rows)
    if output is not None:
        figure = ablation_figure(rows, output.with_suffix(".png"))
        write_text_atomic(output, text + f"\n![forest plot of the ablation]({figure.name})\n")
    Console().print(Markdown(text))
