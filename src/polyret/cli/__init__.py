"""The `polyret` command tree: one module per command group, assembled here."""

from __future__ import annotations

import sys

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)


def _register_commands() -> None:
    from polyret.cli.data import data_app
    from polyret.cli.evaluate import evaluate
    from polyret.cli.fetch import fetch
    from polyret.cli.noise import noise_app
    from polyret.cli.study import ablation, run
    from polyret.cli.train import interpolate, train

    app.command()(evaluate)
    app.command()(train)
    app.command()(interpolate)
    app.command()(run)
    app.command()(ablation)
    data_app.command("fetch")(fetch)
    app.add_typer(data_app, name="data")
    app.add_typer(noise_app, name="noise")


_register_commands()


def main() -> None:  # pragma: no cover - console entry for `python -m polyret`
    sys.exit(app())
