"""`polyret run`: evaluate every cell of the study grid, skipping finished cells, and write one report.

A cell is (model, strategy). Each cell writes its own results directory, so an interrupted grid resumes where it
stopped and a failed cell is reported without losing the others.
"""

from __future__ import annotations

import hashlib
import re
import traceback
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from polyret.errors import PolyretError
from polyret.evaluate.runner import EvaluationOptions, evaluate, load_benchmark, prepare_output
from polyret.model.encoder import Encoder, EncoderOptions
from polyret.provenance import code_version
from polyret.report.io import write_json_atomic, write_text_atomic
from polyret.report.stats import bootstrap_ci, clusters_from_ids, paired_test
from polyret.study.profiles import IMPLEMENTED_STRATEGIES, PLANNED_STRATEGIES, Profile


@dataclass(frozen=True)
class Cell:
    model: str
    strategy: str

    @property
    def slug(self) -> str:
        """A readable directory name: the model's short name (plus a hash of a path spec) and the strategy."""
        if self.model.startswith("embedded:"):
            name = self.model.split(":", 1)[1]
        else:
            name = f"{Path(self.model).name}-{hashlib.sha1(self.model.encode()).hexdigest()[:6]}"
        return re.sub(r"[^A-Za-z0-9_.+-]+", "_", f"{name}__{self.strategy}")


def check_strategies(strategies: list[str]) -> None:
    for strategy in strategies:
        if strategy in IMPLEMENTED_STRATEGIES:
            continue
        if strategy in PLANNED_STRATEGIES:
            raise PolyretError(f"--strategies: {strategy!r} needs the trainer, which is not implemented yet; "
                               f"available now: {', '.join(IMPLEMENTED_STRATEGIES)}")
        raise PolyretError(f"--strategies: unknown strategy {strategy!r}; known: "
                           f"{', '.join(IMPLEMENTED_STRATEGIES + PLANNED_STRATEGIES)}")


def run_study(models: list[str], profile: Profile, data_dir: Path, output: Path, overwrite: bool,
              console: Console, encoder_batch_size: int = 32, device: str = "auto") -> dict[str, Any]:
    """Run (or resume) the grid and write OUT/results.json and OUT/report.md."""
    check_strategies(profile.strategies)
    base = EvaluationOptions(benchmark="xquad-r", data_dir=data_dir, languages=profile.languages,
                             articles=profile.articles)
    bench = load_benchmark(base)
    if (output / "report.md").exists() and not overwrite:
        finished = all((output / "cells" / Cell(m, s).slug / "results.json").exists()
                       for m in models for s in profile.strategies)
        if finished:
            raise PolyretError(f"{output}: already holds a finished study; pass --overwrite to redo it")
    cells: dict[str, Any] = {}
    for model in models:
        encoder: Encoder | None = None  # loaded once per model, on its first unfinished cell
        for strategy in profile.strategies:
            cell = Cell(model, strategy)
            cell_dir = output / "cells" / cell.slug
            if (cell_dir / "results.json").exists() and not overwrite:
                console.print(f"[dim]cell {cell.slug}: finished earlier, kept[/]")
                cells[cell.slug] = {"status": "done", "results": str(cell_dir / "results.json")}
                continue
            console.print(f"[bold]cell {cell.slug}[/]")
            try:
                prepare_output(cell_dir, overwrite=True)
                if encoder is None:
                    encoder = Encoder(EncoderOptions(model=model, batch_size=encoder_batch_size, device=device))
                evaluate(bench, encoder, cell_options(base, strategy, profile, len(bench.languages)), cell_dir,
                         console)
                cells[cell.slug] = {"status": "done", "results": str(cell_dir / "results.json")}
            except Exception as err:  # a failed cell must not lose the others
                console.print(f"[red]cell {cell.slug} failed:[/] {err}")
                write_text_atomic(cell_dir / "error.txt", traceback.format_exc())
                cells[cell.slug] = {"status": "failed", "error": str(err)}
    summary = collect(output, cells, profile, models)
    write_json_atomic(output / "results.json", summary)
    write_text_atomic(output / "report.md", render_report(summary))
    return summary


def cell_options(base: EvaluationOptions, strategy: str, profile: Profile, n_langs: int) -> EvaluationOptions:
    """Evaluation options of one cell: the training-free baselines add a post-hoc transform."""
    if strategy == "zero_shot":
        return base
    k = profile.subspace_k or n_langs - 1
    transform = "center" if strategy == "zero_shot+center" else f"subspace:{k}"
    return replace(base, transform=transform, transform_source=profile.transform_source,
                   transform_max_per_language=profile.transform_max_per_language)


def collect(output: Path, cells: dict[str, Any], profile: Profile, models: list[str]) -> dict[str, Any]:
    """Summary of every cell: headline metrics, 95% bootstrap intervals, and paired tests against zero_shot."""
    import json

    rows, per_query = [], {}
    for slug, info in cells.items():
        row: dict[str, Any] = {"cell": slug, "status": info["status"]}
        if info["status"] == "done":
            res = json.loads(Path(info["results"]).read_text())
            row.update(model=res["model"]["spec"], metrics={k: res["metrics"][k] for k in (
                "mo_map", "cr_map", "mul_map", "r_at_1", "r_at_10", "rank_distance")},
                benchmark=res["benchmark"], heatmap=f"cells/{slug}/pair_map.png")
            per_query[slug] = res["metrics"]["per_query"]
            row["intervals"] = _intervals(per_query[slug])
        else:
            row["error"] = info.get("error")
        rows.append(row)
    for row in rows:
        baseline = Cell(row.get("model", ""), "zero_shot").slug
        if row["status"] == "done" and baseline in per_query and baseline != row["cell"]:
            row["versus_zero_shot"] = _paired(per_query[row["cell"]], per_query[baseline])
    return {"created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "profile": profile.model_dump(),
            "models": models, "cells": rows, "code_version": code_version(), "output": str(output)}


PER_QUERY_MEASURES = {"mo_map": "mo_ap", "cr_map": "cr_ap", "mul_map": "mul_ap", "rank_distance": "rank_distance"}


def _array(per_query: dict[str, Any], key: str) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in per_query[key]], dtype=np.float64)


def _intervals(per_query: dict[str, Any]) -> dict[str, list[float]]:
    clusters = clusters_from_ids(per_query["query_ids"])
    out = {}
    for metric, key in PER_QUERY_MEASURES.items():
        if key not in per_query:  # a cell written by an older polyret
            continue
        ci = bootstrap_ci(_array(per_query, key), clusters)
        out[metric] = [ci.low, ci.high]
    return out


def _paired(cell: dict[str, Any], baseline: dict[str, Any]) -> dict[str, dict[str, float]]:
    if cell["query_ids"] != baseline["query_ids"]:
        raise PolyretError("paired test: the two cells were evaluated on different queries")
    clusters = clusters_from_ids(cell["query_ids"])
    out = {}
    for metric, key in PER_QUERY_MEASURES.items():
        if key not in cell or key not in baseline:
            continue
        diff, p = paired_test(_array(cell, key), _array(baseline, key), clusters)
        out[metric] = {"difference": diff, "p_value": p}
    return out


def _code(version: dict[str, Any]) -> str:
    commit = (version.get("git_commit") or "unknown")[:10]
    dirty = " with uncommitted changes" if version.get("git_dirty") else ""
    return f"polyret {version.get('polyret')}, commit {commit}{dirty}"


def render_report(summary: dict[str, Any]) -> str:
    """Markdown report generated from the numbers (never written by hand)."""
    prof = summary["profile"]
    lines = [f"# polyret study ({prof['name']} profile)", "",
             f"XQuAD-R, languages: {', '.join(prof['languages'] or ['all 11'])}; articles: "
             f"{prof['articles'] or 'all 48'}. Code: {_code(summary['code_version'])}.", "",
             "Each metric with its 95% bootstrap interval (2,000 resamples of questions, all languages of a question "
             "together). Against zero_shot: mean difference over queries, two-sided paired randomisation p-value.", "",
             "| cell | Mo mAP | Cr mAP | Mul mAP | R@1 | R@10 | rank distance | Mul vs zero_shot |",
             "|---|---|---|---|---|---|---|---|"]
    for row in summary["cells"]:
        if row["status"] != "done":
            lines.append(f"| {row['cell']} | failed: {row.get('error')} ||||||| ")
            continue
        m, ci = row["metrics"], row["intervals"]

        def cell(key: str, fmt: str) -> str:
            return f"{m[key]:{fmt}} [{ci[key][0]:{fmt}}, {ci[key][1]:{fmt}}]" if key in ci else f"{m[key]:{fmt}}"

        versus = row.get("versus_zero_shot", {}).get("mul_map")
        vs = f"{versus['difference']:+.3f} (p {versus['p_value']:.4f})" if versus else "-"
        lines.append(f"| {row['cell']} | {cell('mo_map', '.3f')} | {cell('cr_map', '.3f')} | "
                     f"{cell('mul_map', '.3f')} | {m['r_at_1']:.3f} | {m['r_at_10']:.3f} | "
                     f"{cell('rank_distance', '.1f')} | {vs} |")
    done = [r for r in summary["cells"] if r["status"] == "done"]
    if done:
        lines += ["", "Data checksums (sha256):", ""]
        lines += [f"- `{path}`: `{digest}`" for path, digest in done[0]["benchmark"]["files_sha256"].items()]
        lines += ["", "Per-pair mAP heatmaps: " + ", ".join(f"[{r['cell']}]({r['heatmap']})" for r in done)]
    lines += ["", f"zero_shot+center / zero_shot+subspace: training-free baselines, language means estimated from "
              f"{prof['transform_source']} (never the evaluation set). Trained strategies (x_x_mono, x_y, hybrid, "
              "hybrid+noise) are not cells of this grid yet: train them with `polyret train` and evaluate with "
              "`polyret evaluate --model OUT`."]
    return "\n".join(lines) + "\n"
