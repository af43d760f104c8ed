"""The study's numbers: per cell, headline metrics with 95% cluster-bootstrap intervals, paired differences against
the baselines (zero_shot, x_x_mono, x_y), the same-language share of the top 10, the drop under dialectal query
noise, and the extra benchmarks. Everything the report says is computed here from the cells' results.json files.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from polyret.data.dialects import NAME as DIALECTS
from polyret.data.dialects import variety_differences, variety_scores
from polyret.errors import PolyretError
from polyret.provenance import code_version
from polyret.report.stats import bootstrap_ci, bootstrap_macro_ci, clusters_from_ids, compare, two_level_ci, two_level_difference
from polyret.report.stats import per_query_array as _array
from polyret.report.schema import STUDY_VERSION, read_evaluation
from polyret.sampling import SAMPLER_INFO
from polyret.strategy import Strategy
from polyret.study.grid import Cell
from polyret.study.profiles import Profile
from polyret.train.config import read_saved_config

HEADLINE = ("mo_map", "cr_map", "mul_map", "r_at_1", "r_at_10", "rank_distance")
PER_QUERY_MEASURES = {"mo_map": "mo_ap", "cr_map": "cr_ap", "mul_map": "mul_ap", "rank_distance": "rank_distance"}
# every cell is compared with each of these that the grid has (same model; same seed for trained ones)
BASELINES = ("zero_shot", "zero_shot+center", "x_x_mono", "x_y", "hybrid")


def intervals(per_query: dict[str, Any]) -> dict[str, list[float]]:
    clusters = clusters_from_ids(per_query["query_ids"])
    out = {}
    for metric, key in PER_QUERY_MEASURES.items():
        values = _array(per_query, key) if key in per_query else None
        if values is not None and not np.all(np.isnan(values)):  # e.g. no Cr AP on a one-language benchmark
            ci = bootstrap_ci(values, clusters)
            out[metric] = [ci.low, ci.high]
    if per_query.get("pair_ap"):  # Mo and Cr are macro means over language-pair cells: resample those
        pair_ap = np.array([[np.nan if v is None else v for v in row] for row in per_query["pair_ap"]], dtype=float)
        query_lang = np.asarray(per_query["query_language"], dtype=np.int64)
        diagonal = np.eye(pair_ap.shape[1], dtype=bool)
        for metric, cells in (("mo_map", diagonal), ("cr_map", ~diagonal)):
            if metric in out:
                ci = bootstrap_macro_ci(pair_ap, query_lang, clusters, cells)
                out[metric] = [ci.low, ci.high]
    return out


def paired(cell: dict[str, Any], baseline: dict[str, Any]) -> dict[str, dict[str, Any]]:
    if cell["query_ids"] != baseline["query_ids"]:
        raise PolyretError("paired test: the two cells were evaluated on different queries")
    clusters = clusters_from_ids(cell["query_ids"])
    out = {}
    for metric, key in PER_QUERY_MEASURES.items():
        if key in cell and key in baseline:
            a, b = _array(cell, key), _array(baseline, key)
            if np.isfinite(a - b).any():  # no Cr on a one-language benchmark: nothing to compare
                out[metric] = compare(a, b, clusters)
    return out


def same_language_share(metrics: dict[str, Any]) -> float | None:
    """Share of same-language candidates in the top 10, averaged over all queries (languages weighted by size)."""
    rows = [(v["n_queries"], v["same_language_at_10"]) for v in metrics["per_query_language"].values()
            if v["same_language_at_10"] is not None and v["n_queries"]]
    total = sum(n for n, _ in rows)
    return sum(n * v for n, v in rows) / total if total else None


def _read(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    return read_evaluation(path) if path.name == "results.json" else json.loads(path.read_text())


def _training(out: Path) -> dict[str, Any] | None:
    log = out / "log.jsonl"
    if not log.exists():
        return None
    records = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    if not records:
        return None
    batch = read_saved_config(out).batch_size
    seconds = sum(batch / r["pairs_per_second"] for r in records if r.get("pairs_per_second"))
    kinds = [r["kind"] for r in records]
    noised = [r["noise"] for r in records if "noise" in r]
    return {"directory": str(out), "steps": len(records), "batch_size": batch,
            "step_seconds": round(seconds, 1), "final_loss": records[-1]["loss"],
            "mono_batches": kinds.count("mono"), "cross_batches": kinds.count("cross"),
            "noised_texts": sum(n["changed"] for n in noised) if noised else None,
            **composition(records, _read(out / SAMPLER_INFO))}


def composition(records: list[dict[str, Any]], sampler: dict[str, Any] | None) -> dict[str, Any]:
    """What a run actually drew, from its log.jsonl (rank 0's share of each batch): examples per language pair
    and per source, and the group set its sampler drew from (sampler.json)."""
    pairs: Counter[str] = Counter()
    sources: Counter[str] = Counter()
    for record in records:
        pairs.update(record.get("language_pairs", {}))
        sources.update(record.get("sources", {}))
    out: dict[str, Any] = {"language_pairs": dict(pairs.most_common()), "sources": dict(sources.most_common())}
    if sampler is not None:
        out["sampler"] = {key: sampler.get(key) for key in ("design", "groups", "group_sources", "groups_sha256",
                                                            "languages", "excluded")}
    return out


def seen_unseen(per_query: dict[str, Any], held_out: list[str]) -> dict[str, dict[str, float | int]]:
    """Mo, Cr, Mul mAP and rank distance over the queries of the languages training saw and of the held-out ones
    (query means; XQuAD-R has the same questions in every language, so they equal the per-language macro means)."""
    held = set(held_out)
    langs = np.array([qid.split("/", 1)[0] for qid in per_query["query_ids"]])
    unseen = np.isin(langs, list(held))
    out: dict[str, dict[str, float | int]] = {}
    for name, mask in (("seen", ~unseen), ("unseen", unseen)):
        if mask.any():
            out[name] = {"n_queries": int(mask.sum()), "languages": sorted(set(langs[mask].tolist())),  # type: ignore[dict-item]
                         **{metric: float(np.nanmean(_array(per_query, key)[mask]))
                            for metric, key in PER_QUERY_MEASURES.items() if key in per_query}}
    return out


def dev_curve_summary(out: Path) -> dict[str, Any] | None:
    """The training run's development curve (evaluate.dev_curve), reduced to what the report shows."""
    from polyret.evaluate.dev_curve import CURVE, FIGURE

    saved = _read(out / CURVE)
    if saved is None or not saved.get("points"):
        return None
    measure = saved["measure"]
    keep = ("step", measure, "same_language_top1", "pair_accuracy")
    return {"measure": measure, "every": saved["every"], "keep_best": saved["keep_best"], "best": saved["best"],
            "points": [{k: p[k] for k in keep} for p in saved["points"]], "dev_set": saved["dev_set"],
            "figure": str(out / FIGURE)}


@dataclass
class _PerQuery:
    """Every finished cell's per-query arrays, by benchmark: what the paired tests resample."""

    clean: dict[str, dict[str, Any]] = field(default_factory=dict)
    noised: dict[str, dict[str, Any]] = field(default_factory=dict)
    dialect: dict[str, dict[str, Any]] = field(default_factory=dict)
    extra: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # benchmark -> cell -> arrays


def collect(output: Path, cells: list[Cell], status: dict[str, dict[str, Any]], profile: Profile,
            models: list[str], extras: dict[str, Path], leakage: dict[str, Any] | None) -> dict[str, Any]:
    """The study summary (OUT/results.json): one row per cell, then the paired comparisons between cells."""
    pq = _PerQuery()
    rows = [_cell_row(cell, status.get(cell.slug, {"status": "missing"}), output, profile, extras, pq)
            for cell in cells]
    _compare(rows, cells, pq)
    out = {"polyret_study_version": STUDY_VERSION, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
           "profile": profile.model_dump(mode="json"), "models": models, "cells": rows,
           "extra_benchmarks": {name: str(path) for name, path in extras.items()}, "leakage": leakage,
           "code_version": code_version(), "output": str(output)}
    pooled = across_seeds(rows, pq.clean)
    if pooled:  # only with several seeds: a single-seed summary stays as it was
        out["across_seeds"] = pooled
    return out


def _cell_row(cell: Cell, info: dict[str, Any], output: Path, profile: Profile, extras: dict[str, Path],
              pq: _PerQuery) -> dict[str, Any]:
    """A cell's measures, intervals, training record and extra benchmarks; its per-query arrays go into `pq`."""
    cell_dir = output / "cells" / cell.slug
    row: dict[str, Any] = {"cell": cell.slug, "model": cell.model, "strategy": cell.strategy.name,
                           "base": cell.base.name,
                           "transform": cell.transform, "seed": cell.seed, "design": cell.design,
                           "status": info["status"]}
    result = _read(cell_dir / "results.json") if info["status"] == "done" else None
    if result is None:
        row["error"] = info.get("error", "no results")
        row["status"] = "failed"
        return row
    metrics = result["metrics"]
    row["metrics"] = {k: metrics[k] for k in HEADLINE}
    row["same_language_at_10"] = same_language_share(metrics)
    row["per_language_mul_map"] = {k: v["mul_map"] for k, v in metrics["per_query_language"].items()}
    row["benchmark"] = result["benchmark"]
    row["model_fingerprint"] = result["model"].get("fingerprint")
    row["heatmap"] = f"cells/{cell.slug}/pair_map.png"
    row["transform_info"] = result.get("transform")
    pq.clean[cell.slug] = metrics["per_query"]
    row["intervals"] = intervals(metrics["per_query"])
    if profile.train.holdout_languages:
        row["seen_unseen"] = seen_unseen(metrics["per_query"], profile.train.holdout_languages)
    row["seconds"] = info.get("seconds")
    row["failed_parts"] = info.get("failed_parts", {})
    if cell.trains:
        row["training"] = _training(output / "train" / cell.training_slug)
        curve = dev_curve_summary(output / "train" / cell.training_slug)
        if curve is not None:  # only runs that scored the development set have one
            row["dev_curve"] = curve
    noised = _read(cell_dir / "noised" / "results.json")
    if noised is not None:
        pq.noised[cell.slug] = noised["metrics"]["per_query"]
        clusters = clusters_from_ids(pq.noised[cell.slug]["query_ids"])
        drop = compare(_array(pq.noised[cell.slug], "mul_ap"), _array(pq.clean[cell.slug], "mul_ap"), clusters)
        row["noised"] = {"mul_map": noised["metrics"]["mul_map"], "mo_map": noised["metrics"]["mo_map"],
                         "cr_map": noised["metrics"]["cr_map"], "query_noise": noised["query_noise"],
                         "change": drop}
    row["extra"] = {}
    for name in extras:
        extra = _read(cell_dir / "extra" / name / "results.json")
        if extra is not None:
            em = extra["metrics"]
            row["extra"][name] = {"metrics": {k: em[k] for k in HEADLINE},
                                  "intervals": intervals(em["per_query"]),
                                  "per_language_mul_map": {k: v["mul_map"]
                                                           for k, v in em["per_query_language"].items()},
                                  "files_sha256": extra["benchmark"]["files_sha256"]}
            pq.extra.setdefault(name, {})[cell.slug] = em["per_query"]
            if name == DIALECTS:
                row["extra"][name]["varieties"] = variety_scores(em["per_query"])
                pq.dialect[row["cell"]] = em["per_query"]
    return row


def _compare(rows: list[dict[str, Any]], cells: list[Cell], pq: _PerQuery) -> None:
    """Each finished row's paired tests against the baselines (same model; same seed and design for trained ones),
    on every benchmark and under noise; noise against the same batches without it; a transform against its base."""
    by_key = {(c.model, c.strategy.name, c.seed, c.design): c.slug for c in cells}  # baselines: same design
    strategy_of = {c.slug: c.strategy for c in cells}
    for row in rows:
        if row["status"] != "done":
            continue
        row["versus"], row["noise_change_versus"] = {}, {}
        for baseline in BASELINES:
            zero = baseline.startswith("zero_shot")
            key = (row["model"], baseline, None if zero else row["seed"], None if zero else row["design"])
            other = by_key.get(key)
            if other is None or other == row["cell"] or other not in pq.clean:
                continue
            if row["strategy"] in BASELINES and BASELINES.index(row["strategy"]) < BASELINES.index(baseline):
                continue  # each pair of baselines once, the later one minus the earlier one
            row["versus"][baseline] = paired(pq.clean[row["cell"]], pq.clean[other])
            for name, per_cell in pq.extra.items():  # the same paired test on every extra benchmark (MLQA-R)
                if name != DIALECTS and row["cell"] in per_cell and other in per_cell:
                    row["extra"][name].setdefault("versus", {})[baseline] = paired(per_cell[row["cell"]],
                                                                                    per_cell[other])
            if row["cell"] in pq.noised and other in pq.noised:
                mine = _array(pq.noised[row["cell"]], "mul_ap") - _array(pq.clean[row["cell"]], "mul_ap")
                theirs = _array(pq.noised[other], "mul_ap") - _array(pq.clean[other], "mul_ap")
                row["noise_change_versus"][baseline] = compare(
                    mine, theirs, clusters_from_ids(pq.clean[row["cell"]]["query_ids"]))
        strategy = strategy_of[row["cell"]]
        noiseless = by_key.get((row["model"], strategy.batches, row["seed"], row["design"]))
        if strategy == Strategy("hybrid", noise=True) and row["cell"] in pq.dialect and noiseless in pq.dialect:
            # does training noise help real dialect queries? per variety, paired by sentence
            row["extra"][DIALECTS]["noise_versus_hybrid"] = variety_differences(pq.dialect[row["cell"]],
                                                                               pq.dialect[noiseless])
        untransformed = by_key.get((row["model"], row["base"], row["seed"], row["design"]))
        if row["transform"] and untransformed in pq.clean and row["base"] not in row["versus"]:
            # "do they add up?": the transform on top of the same model
            row["versus"][row["base"]] = paired(pq.clean[row["cell"]], pq.clean[untransformed])


def _stack(slugs: list[str], per_query: dict[str, dict[str, Any]], key: str) -> np.ndarray:
    return np.stack([_array(per_query[slug], key) for slug in slugs])


def across_seeds(rows: list[dict[str, Any]], clean_pq: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (model, design, strategy) with two or more finished seeds: seed-mean metrics with two-level intervals,
    and two-level comparisons with every baseline of the same design (zero-shot ones have one 'seed' and no
    design). A comparison `holds_across_seeds` when its two-level interval excludes 0 and every same-seed paired
    difference has the same sign. Designs are never pooled: a controlled and a practical cell are different data.
    """
    groups: dict[tuple[str, str | None, str], list[dict[str, Any]]] = {}
    for row in rows:
        if row["status"] == "done" and row["cell"] in clean_pq:
            groups.setdefault((row["model"], row.get("design"), row["strategy"]), []).append(row)
    out = []
    for (model, design, strategy), mine in groups.items():
        seeds = [r["seed"] for r in mine]
        if len(mine) < 2 or None in seeds:
            continue
        slugs = [r["cell"] for r in mine]
        ids = clean_pq[slugs[0]]["query_ids"]
        if any(clean_pq[s]["query_ids"] != ids for s in slugs):
            raise PolyretError(f"across seeds: the seeds of {strategy} were evaluated on different queries")
        clusters = clusters_from_ids(ids)
        entry: dict[str, Any] = {"model": model, "design": design, "strategy": strategy, "seeds": seeds, "cells": slugs,
                                 "metrics": {}, "intervals": {}, "versus": {}}
        for metric, key in PER_QUERY_MEASURES.items():
            values = _stack(slugs, clean_pq, key)
            if np.all(np.isnan(values)):
                continue
            ci = two_level_ci(values, clusters)
            entry["metrics"][metric], entry["intervals"][metric] = ci.mean, [ci.low, ci.high]
        for baseline in BASELINES:
            theirs = groups.get((model, design, baseline)) or groups.get((model, None, baseline), [])
            if baseline == strategy or not theirs:
                continue
            if strategy in BASELINES and BASELINES.index(strategy) < BASELINES.index(baseline):
                continue  # the same pairs as the per-seed comparisons
            other = [r["cell"] for r in theirs]
            if any(clean_pq[s]["query_ids"] != ids for s in other):
                raise PolyretError(f"across seeds: {strategy} and {baseline} were evaluated on different queries")
            comparisons = {}
            for metric, key in PER_QUERY_MEASURES.items():
                a, b = _stack(slugs, clean_pq, key), _stack(other, clean_pq, key)
                if np.all(np.isnan(a)) or np.all(np.isnan(b)):
                    continue
                c = two_level_difference(a, b, clusters)
                per_seed = [r["versus"].get(baseline, {}).get(metric, {}).get("difference") for r in mine]
                excludes_zero = c.low > 0 or c.high < 0
                same_sign = all(d is not None and np.sign(d) == np.sign(c.difference) for d in per_seed)
                comparisons[metric] = {"difference": c.difference, "ci": [c.low, c.high], "p_value": c.p_value,
                                       "per_seed": per_seed, "holds_across_seeds": bool(excludes_zero and same_sign)}
            entry["versus"][baseline] = comparisons
        out.append(entry)
    return out
