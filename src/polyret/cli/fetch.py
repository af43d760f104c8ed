"""`polyret data fetch`: rebuild the data root from the files' public homes (registered in polyret.cli.data)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from polyret.cli.common import console, default_data_dir, friendly
from polyret.data.fetch import fetch_data
from polyret.data.sources import GITHUB_RAW
from polyret.options import option_list


@friendly
def fetch(
    to: Optional[Path] = typer.Option(None, help="data root to fill (default $POLYRET_DATA or ../shared/data)"),
    mirror: str = typer.Option(GITHUB_RAW, help="base address serving <repo>/<commit>/<path> like GitHub's raw host"),
    only: Optional[str] = typer.Option(None, help="comma-separated path prefixes or training source names, "
                                       "e.g. xquad-r,train/mkqa,ntrex"),
    force: bool = typer.Option(False, help="download again files whose checksum already matches"),
) -> None:
    """Download every data file from its public home, check its sha256 and lay it out as shared/data."""
    from polyret.data.sources.catalog import BY_NAME

    prefixes = [BY_NAME[p].directory if p in BY_NAME else p for p in option_list("--only", only) or []] or None
    report = fetch_data(to or default_data_dir(), base_url=mirror, only=prefixes, force=force)
    console.print(report.summary(), highlight=False, soft_wrap=True)
