"""Compact console tables for a result."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}" if abs(value) < 100 else f"{value:.0f}"
    return str(value)


def print_summary(result: dict[str, Any], console: Console) -> None:
    """Headline metrics, then one row per query language."""
    m = result["metrics"]
    head = Table(title=f"{result['benchmark']['name']} · {result['model']['spec']}", title_justify="left")
    for name in ("Mo mAP", "Cr mAP", "Mul mAP", "R@1", "R@10", "rank dist."):
        head.add_column(name, justify="right")
    head.add_row(*(_fmt(m[k]) for k in ("mo_map", "cr_map", "mul_map", "r_at_1", "r_at_10", "rank_distance")))
    console.print(head)
    per = m.get("per_query_language") or {}
    if per:
        table = Table(title="per query language", title_justify="left")
        table.add_column("lang")
        columns = [k for k in next(iter(per.values())).keys() if not isinstance(next(iter(per.values()))[k], (list, dict))]
        for col in columns:
            table.add_column(col, justify="right")
        for lang, row in per.items():
            table.add_row(lang, *(_fmt(row[c]) for c in columns))
        console.print(table)
