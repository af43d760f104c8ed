"""The `polyret` command tree."""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import Any, Callable, Optional

import typer
from rich.console import Console

from polyret.errors import PolyretError

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
console = Console(stderr=True)


def default_data_dir() -> Path:
    """$POLYRET_DATA, else ../shared/data beside the checkout, else ./data."""
    if os.environ.get("POLYRET_DATA"):
        return Path(os.environ["POLYRET_DATA"])
    beside = Path(__file__).resolve().parents[3] / "shared" / "data"
    return beside if beside.is_dir() else Path("data")


def friendly(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a PolyretError into one line on stderr and exit status 2."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except PolyretError as err:
            console.print(f"[bold red]error:[/] {err}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper


def _languages(value: Optional[str]) -> Optional[list[str]]:
    if value is None:
        return None
    langs = [part.strip() for part in value.split(",") if part.strip()]
    if not langs:
        raise PolyretError("--languages: empty list")
    return langs


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
) -> None:
    """Zero-shot retrieval evaluation with language-bias measures (LAReQA protocol on XQuAD-R)."""
    from polyret.evaluate.runner import EvaluationOptions, evaluate as run_eval, load_benchmark, prepare_output
    from polyret.model.encoder import Encoder, EncoderOptions
    from polyret.report.tables import print_summary

    if dtype not in ("float32", "float16", "bfloat16"):
        raise PolyretError(f"--dtype: unknown dtype {dtype!r} (float32, float16 or bfloat16)")
    if pooling is not None and pooling not in ("mean", "cls"):
        raise PolyretError(f"--pooling: unknown pooling {pooling!r} (mean or cls)")
    options = EvaluationOptions(
        benchmark=benchmark, data_dir=data_dir or default_data_dir(), languages=_languages(languages),
        articles=articles, candidate_context=candidate_context, top_k=top_k, trec_run=trec_run,
    )
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


def main() -> None:  # pragma: no cover - console entry for `python -m polyret`
    sys.exit(app())
