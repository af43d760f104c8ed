"""What every command module shares: the stderr console, one-line errors, the default data root."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any, Callable

import typer
from rich.console import Console

from polyret.errors import PolyretError

console = Console(stderr=True)


def default_data_dir() -> Path:
    """$POLYRET_DATA, else ../shared/data beside the checkout, else ./data."""
    if os.environ.get("POLYRET_DATA"):
        return Path(os.environ["POLYRET_DATA"])
    beside = Path(__file__).resolve().parents[4] / "shared" / "data"
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
