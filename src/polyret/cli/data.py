"""`polyret data`: what the training sources hold, and the zero-shot leakage guard."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Optional

import typer
from rich.console import Console
from rich.table import Table

from polyret.cli.common import console, default_data_dir, friendly
from polyret.data.leakage import (
    MEASURE,
    MIN_NGRAMS,
    NGRAM,
    THRESHOLD,
    LeakageReport,
    check_leakage,
    evaluation_texts,
    snippet,
    training_texts,
)
from polyret.data.training import TrainingData, load_training_groups, stats_json
from polyret.options import option_list

data_app = typer.Typer(
    no_args_is_help=True, add_completion=False,
    help="Training data as groups: statistics, and the check that nothing of XQuAD-R is in it.",
)
_DATA_DIR_HELP = "data root laid out as shared/data (default $POLYRET_DATA or ../shared/data)"



@data_app.command()
@friendly
def stats(
    data_dir: Path = typer.Option(None, help=_DATA_DIR_HELP),
    sources: Optional[str] = typer.Option(None, help="comma-separated sources (default: all)"),
    languages: Optional[str] = typer.Option(None, help="comma-separated languages (default: the 11 of XQuAD-R)"),
    distinct_passages: bool = typer.Option(False, help="drop groups whose answer sentence another group has"),
    as_json: bool = typer.Option(False, "--json", help="print the statistics as JSON"),
) -> None:
    """Groups, (query, positive) language pairs and texts per source and language, with what was dropped."""
    data = load_training_groups(
        data_dir or default_data_dir(), option_list("--sources", sources), option_list("--languages", languages),
        distinct_passages=distinct_passages,
    )
    if as_json:
        typer.echo(json.dumps(stats_json(data), indent=1, ensure_ascii=False))
        return
    out = Console()
    for table in (_source_table(data), _pair_table(data), _text_table(data)):
        out.print(table)


@data_app.command("check-leakage")
@friendly
def check_leakage_command(
    data_dir: Path = typer.Option(None, help=_DATA_DIR_HELP),
    threshold: float = typer.Option(THRESHOLD, help="n-gram overlap at which a training text counts as a copy"),
    measure: str = typer.Option(MEASURE, help="jaccard, or containment (share of the XQuAD-R text found)"),
    ngram: int = typer.Option(NGRAM, help="character n-gram length"),
    min_ngrams: int = typer.Option(MIN_NGRAMS, help="shorter texts are compared for equality only"),
    show: int = typer.Option(50, min=0, help="hits listed at most"),
) -> None:
    """Compare every training text (all sources, shared passages included) with XQuAD-R; exit 2 on leakage."""
    root = data_dir or default_data_dir()
    training = training_texts(load_training_groups(root, distinct_passages=False).groups)
    report = check_leakage(training, evaluation_texts(root), ngram, threshold, measure, min_ngrams)  # type: ignore[arg-type]
    out = Console()
    if report.hits:
        out.print(_hit_table(report, show))
    console.print(f"{report.summary()} [{report.seconds:.1f} s]", highlight=False, soft_wrap=True)
    if report.hits:
        raise typer.Exit(2)


def _source_table(data: TrainingData) -> Table:
    table = Table(title="training sources", title_justify="left")
    for column in ("source", "groups", "pairs", "languages", "dropped"):
        table.add_column(column, justify="left" if column in ("source", "languages", "dropped") else "right")
    for name, s in data.stats.items():
        dropped = ", ".join(f"{reason} {n}" for reason, n in sorted(s.dropped.items()) if n)
        table.add_row(name, str(s.groups), str(sum(s.pairs.values())), ",".join(sorted(s.texts)), dropped or "-")
    table.add_row("all", str(len(data.groups)), str(sum(sum(s.pairs.values()) for s in data.stats.values())), "", "")
    return table


def _per_source_table(data: TrainingData, title: str, first: str, counts_of: Callable[[Any], dict[Any, int]],
                      label: Callable[[Any], str]) -> Table:
    """One row per key, one column per source plus "all": a count from each source's stats."""
    table = Table(title=title, title_justify="left")
    table.add_column(first)
    names = list(data.stats)
    for name in [*names, "all"]:
        table.add_column(name, justify="right")
    for key in sorted({key for s in data.stats.values() for key in counts_of(s)}):
        counts = [counts_of(data.stats[name]).get(key, 0) for name in names]
        table.add_row(label(key), *(str(n or "") for n in counts), str(sum(counts)))
    return table


def _pair_table(data: TrainingData) -> Table:
    """Groups per (query language, positive language), per source: what a batch sampler can draw from."""
    return _per_source_table(data, "groups per (query, positive) language pair", "pair", lambda s: s.pairs,
                             lambda pair: f"{pair[0]}-{pair[1]}")


def _text_table(data: TrainingData) -> Table:
    return _per_source_table(data, "texts (queries + passages) per language", "lang", lambda s: s.texts, str)


def _hit_table(report: LeakageReport, show: int) -> Table:
    table = Table(title=f"training texts found in XQuAD-R (first {min(show, len(report.hits))} of {len(report.hits)})",
                  title_justify="left")
    for column in ("training id", "role", "lang", "training text", "XQuAD-R id", "XQuAD-R text", "sim."):
        table.add_column(column, justify="right" if column == "sim." else "left")
    for hit in report.hits[:show]:
        table.add_row(
            hit.training.id, hit.training.role, hit.training.lang, snippet(hit.training.text, 60), hit.evaluation.id,
            snippet(hit.evaluation.text, 60), "exact" if hit.exact else f"{hit.similarity:.2f}",
        )
    return table
