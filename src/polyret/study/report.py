"""report.md and the study figure, generated from the summary's numbers (never written by hand).

The plain-language answer at the top is assembled from the same numbers as the tables: which cell won, by how much
against each baseline (with the 95% interval of the paired difference), and how surely (paired randomisation p).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from polyret.data.dialects import NAME as DIALECTS
from polyret.data.dialects import VARIETIES
from polyret.report.figures import pyplot, save_figure

ALPHA = 0.05
FIGURE = "study_mul_map.png"
DEV_FIGURE = "study_dev_curves.png"


def _code(version: dict[str, Any]) -> str:
    commit = (version.get("git_commit") or "unknown")[:10]
    dirty = " with uncommitted changes" if version.get("git_dirty") else ""
    return f"polyret {version.get('polyret')}, commit {commit}{dirty}"


def _fmt_ci(value: float, ci: list[float] | None, fmt: str = ".3f") -> str:
    return f"{value:{fmt}} [{ci[0]:{fmt}}, {ci[1]:{fmt}}]" if ci else f"{value:{fmt}}"


def _p(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _extra_section(name: str, path: str, done: list[dict[str, Any]], prof: dict[str, Any]) -> list[str]:
    """One extra benchmark (MLQA-R, or a user's): headline measures with intervals, per-language Mul mAP, and the
    paired Mul mAP differences against the baselines the clean table uses."""
    with_extra = [r for r in done if name in r.get("extra", {})]
    langs = sorted({lang for r in with_extra for lang in r["extra"][name]["per_language_mul_map"]})
    bases = [b for b in ("zero_shot", "x_y", "hybrid") if any(b in r["extra"][name].get("versus", {})
                                                               for r in with_extra)]
    if name == "mlqa-r":
        subset = prof.get("mlqa_r_articles")
        what = (f"MLQA-R (LAReQA), {'the questions of the first ' + str(subset) + ' English articles' if subset else 'the whole pool'}"
                "; a question has 2-4 relevant sentences, one per language where it exists")
    else:
        what = f"`{path}` (generic format)"
    lines = ["", f"## Extra benchmark: {name}", "", f"{what}. Mul mAP per query language; paired differences "
             "in Mul mAP (question-clustered, 95% interval, permutation p).", "",
             "| cell | Mo mAP | Cr mAP | Mul mAP | rank distance | " + " | ".join(langs) + "".join(
                 f" | Mul vs {b}" for b in bases) + " |",
             "|---|---|---|---|---|" + "---|" * (len(langs) + len(bases))]
    for row in with_extra:
        e = row["extra"][name]
        m, ci = e["metrics"], e["intervals"]
        per = " | ".join("-" if e["per_language_mul_map"].get(lang) is None
                         else f"{e['per_language_mul_map'][lang]:.3f}" for lang in langs)
        mo = "-" if m["mo_map"] is None else _fmt_ci(m["mo_map"], ci.get("mo_map"))
        cr = "-" if m["cr_map"] is None else _fmt_ci(m["cr_map"], ci.get("cr_map"))
        vs = "".join(f" | {_diff(e.get('versus', {}).get(b, {}).get('mul_map'))}" for b in bases)
        lines.append(f"| {_label(row)} | {mo} | {cr} | {_fmt_ci(m['mul_map'], ci.get('mul_map'))} | "
                     f"{m['rank_distance']:.1f} | {per}{vs} |")
    return lines


def _diff(comparison: dict[str, Any] | None, fmt: str = "+.3f") -> str:
    if not comparison:
        return "-"
    low, high = comparison["ci"]
    return f"{comparison['difference']:{fmt}} [{low:{fmt}}, {high:{fmt}}], {_p(comparison['p_value'])}"


def _verdict(comparison: dict[str, Any], higher_is_better: bool = True) -> str:
    d, p = comparison["difference"], comparison["p_value"]
    if p >= ALPHA:
        return "not distinguishable at this size"
    better = (d > 0) == higher_is_better
    return "reliably better" if better else "reliably worse"


def _label(row: dict[str, Any]) -> str:
    design = " [controlled]" if row.get("design") == "controlled" else ""
    return row["strategy"] + design + ("" if row["seed"] is None else f" (seed {row['seed']})")


def answer(summary: dict[str, Any]) -> list[str]:
    """The plain-language answer, one paragraph per model, from the numbers alone."""
    prof = summary["profile"]
    rows = [r for r in summary["cells"] if r["status"] == "done"]
    if not rows:
        return ["No cell finished, so there is no answer yet; see the failures below."]
    out = []
    pooled_all = summary.get("across_seeds", [])
    for model in summary["models"]:
        mine = [r for r in rows if r["model"] == model]
        if not mine:
            continue
        pooled = [e for e in pooled_all if e["model"] == model]
        if pooled:  # several seeds: the verdict must hold across them, so the answer rests on the pooled numbers
            for design in sorted({e.get("design") for e in pooled}, key=lambda d: (d != "controlled", str(d))):
                ours = [e for e in pooled if e.get("design") == design]
                rows_d = [r for r in mine if r.get("design") in (design, None)]
                out.append(" ".join(_pooled_answer(model, rows_d, ours, prof)))
            continue
        n_q = mine[0]["benchmark"]["n_queries"]
        langs = mine[0]["benchmark"]["languages"]
        seeds = sorted({r["seed"] for r in mine if r["seed"] is not None})
        best = max(mine, key=lambda r: r["metrics"]["mul_map"])
        text = [f"**{model}** on {n_q} XQuAD-R queries ({len(langs)} languages, "
                f"{prof['articles'] or 48} article(s)), {len(seeds) or 'no'} training seed(s), "
                f"{prof['train']['steps']} steps of {prof['train']['batch_size']} pairs per trained cell."]
        text.append(f"Highest Mul mAP: **{_label(best)}**, {_fmt_ci(best['metrics']['mul_map'], best['intervals'].get('mul_map'))}.")
        focus = [r for r in mine if r["strategy"] == "hybrid+noise"] or [r for r in mine if r["strategy"] == "hybrid"]
        for row in focus:
            vs = row.get("versus", {})
            parts = []
            for baseline, name in (("x_x_mono", "x_x_mono (monolingual batches)"),
                                   ("x_y", "x_y (cross-lingual batches)"), ("zero_shot", "the model without fine-tuning"),
                                   ("zero_shot+center", "training-free language-mean centring"),
                                   ("hybrid", "hybrid batching without noise")):
                if baseline in vs and baseline != row["strategy"]:
                    c = vs[baseline]["mul_map"]
                    parts.append(f"against {name}: Mul mAP {_diff(c)} ({_verdict(c)})")
            if parts:
                text.append(f"{_label(row)} reaches Mul mAP {row['metrics']['mul_map']:.3f}; " + "; ".join(parts) + ".")
            mo = vs.get("x_x_mono", {}).get("mo_map")
            if mo:
                text.append(f"Its monolingual Mo mAP changes by {_diff(mo)} against x_x_mono, and its rank distance "
                            f"(language bias, lower is better) by {_diff(vs['x_x_mono']['rank_distance'], '+.1f')}.")
            noise = row.get("noised")
            if noise:
                spec = ", ".join(sorted(set(noise["query_noise"]["targets"].values())))
                rate = next(iter(noise["query_noise"]["rates"].values()), None)
                line = (f"With dialectal noise on the queries (rate {rate}; {spec}), its Mul mAP changes by "
                        f"{_diff(noise['change'])}")
                ref = row.get("noise_change_versus", {}).get("hybrid") or row.get("noise_change_versus", {}).get(
                    "x_x_mono")
                if ref:
                    which = "hybrid" if "hybrid" in row.get("noise_change_versus", {}) else "x_x_mono"
                    line += f"; compared with {which}'s change, the difference is {_diff(ref)} ({_verdict(ref)})"
                text.append(line + ".")
        for row in mine:
            if row["transform"] and row["base"] != "zero_shot" and row["base"] in row.get("versus", {}):
                c = row["versus"][row["base"]]["mul_map"]
                text.append(f"Adding {row['transform']} to the {_label(row).replace(row['strategy'], row['base'])} "
                            f"model: Mul mAP {row['metrics']['mul_map']:.3f}, "
                            f"{_diff(c)} against {row['base']} alone ({_verdict(c)}).")
        if len(seeds) > 1:
            text += _across_seeds(mine, seeds)
        if len(seeds) <= 1 and any(r["seed"] is not None for r in mine):
            text.append("One training seed: the intervals cover question sampling, not training randomness.")
        out.append(" ".join(text))
    return out


def _seed_verdict(comparison: dict[str, Any], higher_is_better: bool = True, fmt: str = "+.3f") -> str:
    """'reliably' only when the two-level interval excludes 0 and every seed's difference has the same sign."""
    if comparison["holds_across_seeds"]:
        better = (comparison["difference"] > 0) == higher_is_better
        return "reliably better, in every seed" if better else "reliably worse, in every seed"
    seeds = ", ".join("-" if d is None else f"{d:{fmt}}" for d in comparison["per_seed"])
    return f"not established across seeds: per seed {seeds}"


def _pooled_answer(model: str, rows: list[dict[str, Any]], pooled: list[dict[str, Any]],
                   prof: dict[str, Any]) -> list[str]:
    """The answer when trained strategies have several seeds: seed means, two-level intervals and tests."""
    n_q = rows[0]["benchmark"]["n_queries"]
    langs = rows[0]["benchmark"]["languages"]
    seeds = sorted({s for e in pooled for s in e["seeds"]})
    text = [f"**{model}** on {n_q} XQuAD-R queries ({len(langs)} languages, {prof['articles'] or 48} article(s)), "
            f"{len(seeds)} training seeds ({', '.join(map(str, seeds))}), {prof['train']['steps']} steps of "
            f"{prof['train']['batch_size']} pairs per trained cell, {prof['name']} profile. Trained strategies are "
            f"the mean over their seeds; intervals and tests resample seeds and questions together (two-level "
            f"bootstrap), and a difference is called reliable only if it also has the same sign in every seed."]
    design = pooled[0].get("design")
    if design:
        text.append(f"Design: **{design}**" + (" (every strategy draws from one identical set of groups: the "
                                              "research question)." if design == "controlled" else
                                              " (every source; strategies differ in data too)."))
    candidates = [(_pooled_label(e) + " (seed mean)", e["metrics"]["mul_map"], e["intervals"].get("mul_map"))
                  for e in pooled if "mul_map" in e["metrics"]]
    candidates += [(_label(r), r["metrics"]["mul_map"], r["intervals"].get("mul_map")) for r in rows
                   if r["seed"] is None]
    if candidates:
        name, value, ci = max(candidates, key=lambda c: c[1])
        text.append(f"Highest Mul mAP: **{name}**, {_fmt_ci(value, ci)}.")
    by_strategy = {e["strategy"]: e for e in pooled}
    focus = by_strategy.get("hybrid+noise") or by_strategy.get("hybrid")
    if focus:
        vs = focus["versus"]
        parts = []
        for baseline, name in (("x_x_mono", "x_x_mono (monolingual batches)"),
                               ("x_y", "x_y (cross-lingual batches)"), ("zero_shot", "the model without fine-tuning"),
                               ("zero_shot+center", "training-free language-mean centring"),
                               ("hybrid", "hybrid batching without noise")):
            if baseline in vs and "mul_map" in vs[baseline]:
                c = vs[baseline]["mul_map"]
                parts.append(f"against {name}: Mul mAP {_diff(c)} ({_seed_verdict(c)})")
        if parts:
            text.append(f"{_pooled_label(focus)} reaches Mul mAP {focus['metrics']['mul_map']:.3f} over its seeds; "
                        + "; ".join(parts) + ".")
        mono = vs.get("x_x_mono", {})
        if "mo_map" in mono and "rank_distance" in mono:
            text.append(f"Its Mo mAP changes by {_diff(mono['mo_map'])} against x_x_mono "
                        f"({_seed_verdict(mono['mo_map'])}), and its rank distance (lower is better) by "
                        f"{_diff(mono['rank_distance'], '+.1f')} "
                        f"({_seed_verdict(mono['rank_distance'], False, '+.1f')}).")
    for strategy in ("x_y", "hybrid"):
        entry = by_strategy.get(strategy)
        if entry is None or entry is focus:
            continue
        c = entry["versus"].get("x_x_mono", {}).get("mul_map")
        if c:
            text.append(f"{_pooled_label(entry)} against x_x_mono: Mul mAP {_diff(c)} ({_seed_verdict(c)}).")
    text.append("Seed-by-seed comparisons and the robustness to dialectal query noise are in the sections below.")
    return text


def _pooled_label(entry: dict[str, Any]) -> str:
    return entry["strategy"] + (" [controlled]" if entry.get("design") == "controlled" else "")


def _across_seeds(rows: list[dict[str, Any]], seeds: list[int]) -> list[str]:
    """Does a comparison hold seed after seed? One line per (design, strategy, baseline) of the answer's focus."""
    out = []
    designs = sorted({r.get("design") for r in rows if r.get("design")}, key=lambda d: (d != "controlled", d))
    for design in designs or [None]:
        suffix = " [controlled]" if design == "controlled" else ""
        for strategy in ("hybrid+noise", "hybrid"):
            for baseline in ("x_x_mono", "x_y", "hybrid"):
                if baseline == strategy:
                    continue
                found = [r["versus"][baseline]["mul_map"] for r in rows
                         if r["strategy"] == strategy and r.get("design") == design and baseline in r.get("versus", {})]
                if len(found) < 2:
                    continue
                wins = sum(c["difference"] > 0 and c["p_value"] < ALPHA for c in found)
                losses = sum(c["difference"] < 0 and c["p_value"] < ALPHA for c in found)
                diffs = ", ".join(f"{c['difference']:+.3f}" for c in found)
                out.append(f"Across {len(found)} seeds, {strategy}{suffix} minus {baseline} in Mul mAP is {diffs}: "
                           f"reliably higher in {wins}, reliably lower in {losses}, not distinguishable in "
                           f"{len(found) - wins - losses}.")
    return out


def study_figure(summary: dict[str, Any], path: Path) -> bool:
    """Mul mAP per cell with its 95% interval; the value under dialectal query noise as a hollow marker."""
    rows = [r for r in summary["cells"] if r["status"] == "done"]
    if not rows:
        return False
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(max(5.0, 0.9 * len(rows) + 1.5), 4.2), dpi=120)
    xs = range(len(rows))
    values = [r["metrics"]["mul_map"] for r in rows]
    lows = [r["metrics"]["mul_map"] - r["intervals"].get("mul_map", [r["metrics"]["mul_map"]] * 2)[0] for r in rows]
    highs = [r["intervals"].get("mul_map", [0, r["metrics"]["mul_map"]])[1] - r["metrics"]["mul_map"] for r in rows]
    colors = ["#888888" if r["base"] == "zero_shot" else "#3b75af" if "noise" not in r["base"] else "#c44e52"
              for r in rows]
    ax.bar(xs, values, color=colors, yerr=[lows, highs], capsize=3, label="clean queries")
    noised = [(i, r["noised"]["mul_map"]) for i, r in enumerate(rows) if r.get("noised")]
    if noised:
        ax.scatter([i for i, _ in noised], [v for _, v in noised], facecolors="white", edgecolors="black", zorder=3,
                   label="dialect-noised queries")
    ax.set_xticks(list(xs), labels=[_label(r) + (f"\n{r['model'].split(':')[-1][-16:]}"
                                                 if len(summary["models"]) > 1 else "") for r in rows],
                  rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("Mul mAP (95% interval)")
    ax.set_title(f"polyret study, {summary['profile']['name']} profile", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    save_figure(fig, path)
    return True


def _across_seeds_section(summary: dict[str, Any]) -> list[str]:
    pooled = summary.get("across_seeds", [])
    if not pooled:
        return []
    lines = ["", "## Across seeds", "",
             "Trained strategies as the mean over their seeds. Intervals: 95% two-level bootstrap (2,000 replicates; "
             "each draws the seeds with replacement, then the questions with replacement, all languages of a "
             "question together). Differences: seed-mean minus the baseline's seed-mean (zero-shot baselines have "
             "no seed), two-level interval and bootstrap p; 'holds' = the interval excludes 0 and every seed's "
             "paired difference has the same sign.", "",
             "| strategy | seeds | Mo mAP | Cr mAP | Mul mAP | rank distance | Mul vs x_x_mono | Mul vs x_y |",
             "|---|---|---|---|---|---|---|---|"]

    def versus(entry: dict[str, Any], baseline: str) -> str:
        c = entry["versus"].get(baseline, {}).get("mul_map")
        return "-" if not c else _diff(c) + (", holds" if c["holds_across_seeds"] else ", does not hold")

    for e in pooled:
        m, ci = e["metrics"], e["intervals"]
        cell = {k: (_fmt_ci(m[k], ci.get(k), ".1f" if k == "rank_distance" else ".3f") if k in m else "-")
                for k in ("mo_map", "cr_map", "mul_map", "rank_distance")}
        lines.append(f"| {_pooled_label(e)} | {', '.join(map(str, e['seeds']))} | {cell['mo_map']} | {cell['cr_map']} | "
                     f"{cell['mul_map']} | {cell['rank_distance']} | {versus(e, 'x_x_mono')} | {versus(e, 'x_y')} |")
    done = [r for r in summary["cells"] if r["status"] == "done"]
    tallies = []
    for model in summary["models"]:
        mine = [r for r in done if r["model"] == model]
        tallies += _across_seeds(mine, sorted({r["seed"] for r in mine if r["seed"] is not None}))
    if tallies:
        lines += ["", "Seed by seed (each seed's own paired test, questions only):", ""] + [f"- {t}" for t in tallies]
    return lines


def _dev_section(summary: dict[str, Any], output: Path | None) -> list[str]:
    """Model selection without XQuAD-R: each trained cell's dev/tatoeba curve (first, best and last point)."""
    from polyret.evaluate.dev_curve import curve_figure

    rows = [r for r in summary["cells"] if r["status"] == "done" and r.get("dev_curve") and not r["transform"]]
    if not rows:
        return []
    first = rows[0]["dev_curve"]
    measure = first["measure"]
    chosen = " and its weights are the model" if first["keep_best"] else " (reported only; the model is the last step)"
    lines = ["", "## Development set (model selection, never XQuAD-R)", "",
             f"dev/tatoeba translation retrieval in one mixed pool ({first['dev_set']['pairs']} sentence pairs, "
             f"10 languages with English), scored every {first['every']} steps; `{measure}` picks the best step"
             f"{chosen}"
             ". Same-language top-1: share of texts whose nearest neighbour is in their own language.", "",
             f"| cell | {measure} at step 0 | best (step) | last (step) | same-language top-1 first / last |",
             "|---|---|---|---|---|"]
    for row in rows:
        c = row["dev_curve"]
        p0, pl = c["points"][0], c["points"][-1]
        lines.append(f"| {_label(row)} | {p0[measure]:.3f} | {c['best'][measure]:.3f} ({c['best']['step']}) | "
                     f"{pl[measure]:.3f} ({pl['step']}) | {p0['same_language_top1']:.3f} / "
                     f"{pl['same_language_top1']:.3f} |")
    if output is not None:
        curve_figure([(_label(r), r["dev_curve"]["points"]) for r in rows], output / DEV_FIGURE, measure)
        lines += ["", f"![development curves]({DEV_FIGURE})"]
    return lines


def render_report(summary: dict[str, Any], output: Path | None = None) -> str:
    """report.md: the answer first, then one section per question a reader asks, each its own function."""
    prof = summary["profile"]
    rows = summary["cells"]
    done = [r for r in rows if r["status"] == "done"]
    trained = [r for r in done if r.get("training")]
    lines = [f"# polyret study ({prof['name']} profile)", "",
             f"XQuAD-R, languages: {', '.join(prof['languages'] or ['all 11'])}; articles: "
             f"{prof['articles'] or 'all 48'}; seeds: {', '.join(map(str, prof['seeds']))}. "
             f"Code: {_code(summary['code_version'])}.", "", "## Answer", ""]
    lines += answer(summary)
    lines += _main_table(rows)
    lines += _across_seeds_section(summary)
    if output is not None and study_figure(summary, output / FIGURE):
        lines += ["", f"![Mul mAP per cell]({FIGURE})"]
    lines += _paired_section(done)
    lines += _noised_section(done)
    lines += _seen_unseen_section(done, prof)
    lines += _dialect_section(done)
    for name, path in summary.get("extra_benchmarks", {}).items():
        if name == DIALECTS:
            continue  # its own section: per variety, with the gap to the parent
        lines += _extra_section(name, path, done, prof)
    lines += _training_section(trained)
    lines += _dev_section(summary, output)
    lines += _composition_section(trained)
    lines += _provenance_section(summary, rows, done)
    return "\n".join(lines) + "\n"


def _main_table(rows: list[dict[str, Any]]) -> list[str]:
    lines = ["", "## Main table", "",
             "Each metric with its 95% bootstrap interval (2,000 resamples of questions, all languages of a question "
             "together). Differences: mean paired difference over queries of Mul average precision, its 95% "
             "bootstrap interval, and the two-sided paired randomisation p-value (10,000 sign flips per question).",
             "",
             "| cell | Mo mAP | Cr mAP | Mul mAP | R@1 | R@10 | rank distance | same-lang top-10 | Mul vs x_x_mono "
             "| Mul vs x_y |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        if row["status"] != "done":
            lines.append(f"| {_label(row)} | failed: {row.get('error')} ||||||||| ")
            continue
        m, ci, vs = row["metrics"], row["intervals"], row.get("versus", {})
        share = row.get("same_language_at_10")
        lines.append(
            f"| {_label(row)} | {_fmt_ci(m['mo_map'], ci.get('mo_map'))} | {_fmt_ci(m['cr_map'], ci.get('cr_map'))} | "
            f"{_fmt_ci(m['mul_map'], ci.get('mul_map'))} | {m['r_at_1']:.3f} | {m['r_at_10']:.3f} | "
            f"{_fmt_ci(m['rank_distance'], ci.get('rank_distance'), '.1f')} | "
            f"{'-' if share is None else f'{share:.3f}'} | {_diff(vs.get('x_x_mono', {}).get('mul_map'))} | "
            f"{_diff(vs.get('x_y', {}).get('mul_map'))} |")
    return lines


def _paired_section(done: list[dict[str, Any]]) -> list[str]:
    lines = ["", "## Every paired comparison", "",
             "Cell minus baseline, same queries (and the same seed for trained baselines).", "",
             "| cell | baseline | Mul mAP | Mo mAP | Cr mAP | rank distance |", "|---|---|---|---|---|---|"]
    for row in done:
        for baseline, comparison in row.get("versus", {}).items():
            lines.append(f"| {_label(row)} | {baseline} | {_diff(comparison.get('mul_map'))} | "
                         f"{_diff(comparison.get('mo_map'))} | {_diff(comparison.get('cr_map'))} | "
                         f"{_diff(comparison.get('rank_distance'), '+.1f')} |")
    return lines


def _noised_section(done: list[dict[str, Any]]) -> list[str]:
    noised = [r for r in done if r.get("noised")]
    if not noised:
        return []
    q = noised[0]["noised"]["query_noise"]
    lines = ["", "## Robustness to dialectal query noise", "",
             f"Queries noised toward {', '.join(sorted(set(q['targets'].values())))} at rate "
             f"{next(iter(q['rates'].values()))} (seed {q['seed']}); candidates unchanged. Change = noised minus "
             "clean, per query.", "",
             "| cell | Mul mAP clean | Mul mAP noised | change | change vs hybrid's change |", "|---|---|---|---|---|"]
    for row in noised:
        ref = row.get("noise_change_versus", {}).get("hybrid")
        lines.append(f"| {_label(row)} | {row['metrics']['mul_map']:.3f} | {row['noised']['mul_map']:.3f} | "
                     f"{_diff(row['noised']['change'])} | {_diff(ref)} |")
    return lines


def _training_section(trained: list[dict[str, Any]]) -> list[str]:
    if not trained:
        return []
    lines = ["", "## Training", "", "| cell | steps x pairs | mono / cross batches | noised texts | final loss | "
             "time in steps (s) |", "|---|---|---|---|---|---|"]
    for row in trained:
        t = row["training"]
        lines.append(f"| {_label(row)} | {t['steps']} x {t['batch_size']} | {t['mono_batches']} / "
                     f"{t['cross_batches']} | {'-' if t['noised_texts'] is None else t['noised_texts']} | "
                     f"{t['final_loss']:.3f} | {t['step_seconds']} |")
    return lines


def _provenance_section(summary: dict[str, Any], rows: list[dict[str, Any]], done: list[dict[str, Any]]) -> list[str]:
    """The zero-shot check, data checksums, heatmaps, failed cells and what the baselines' names mean."""
    prof = summary["profile"]
    lines: list[str] = []
    if summary.get("leakage"):
        leak = summary["leakage"]
        sets = " and ".join(leak.get("evaluation_sets") or ["xquad-r"])
        lines += ["", f"Zero-shot check: {leak['training_texts']:,} training texts against {leak['evaluation_texts']:,}"
                      f" evaluation texts ({sets}), {leak['overlapping_texts']} overlapping (after removing the "
                      "reviewed overlaps of data/evaluation_overlap.json)."]
    if done:
        lines += ["", "Data checksums (sha256):", ""]
        lines += [f"- `{path}`: `{digest}`" for path, digest in done[0]["benchmark"]["files_sha256"].items()]
        lines += ["", "Per-pair mAP heatmaps: " + ", ".join(f"[{_label(r)}]({r['heatmap']})" for r in done)]
    failed = [r for r in rows if r["status"] != "done"]
    if failed:
        lines += ["", "## Failed cells", ""] + [f"- {r['cell']}: {r.get('error')}" for r in failed]
    noise = prof["train"]["noise"]
    lines += ["", f"zero_shot+center / +subspace: training-free baselines, language means estimated from "
              f"{prof['transform_source']} (never the evaluation set). hybrid+noise: hybrid batching with dialectal "
              f"noise on {noise['apply_to']} text (rate {noise['rate']}, share {noise['share']}, dialects "
              f"{', '.join(noise['dialects'])})."]
    return lines


def _design_label(row: dict[str, Any]) -> str:
    return row.get("design") or "-"


def _composition_section(trained: list[dict[str, Any]]) -> list[str]:
    """Per trained cell, measured from its log.jsonl: batch kinds, language pairs and sources actually drawn."""
    rows = [r for r in trained if r["training"].get("sources") is not None]
    if not rows:
        return []
    lines = ["", "## Data composition", "",
             "Per trained cell, counted from its `log.jsonl` (each logged batch: rank 0's examples): share of "
             "monolingual / cross-lingual batches, the most drawn (query-positive) language pairs and the sources "
             "of the examples; groups: the set its sampler drew from (`sampler.json`; same hash = same groups).",
             "", "| cell | design | groups | mono / cross | language pairs (share of examples) | sources |",
             "|---|---|---|---|---|---|"]
    for row in rows:
        t = row["training"]
        batches = t["mono_batches"] + t["cross_batches"]
        examples = sum(t["sources"].values()) or 1
        pairs = ", ".join(f"{p} {n / examples:.0%}" for p, n in list(t["language_pairs"].items())[:6])
        more = len(t["language_pairs"]) - 6
        pairs += f" (+{more} more)" if more > 0 else ""
        sources = ", ".join(f"{name} {n / examples:.0%}" for name, n in t["sources"].items())
        sampler = t.get("sampler") or {}
        groups = f"{sampler.get('groups')} ({str(sampler.get('groups_sha256'))[:8]})" if sampler else "-"
        lines.append(f"| {_label(row)} | {_design_label(row)} | {groups} | {t['mono_batches'] / batches:.2f} / "
                     f"{t['cross_batches'] / batches:.2f} | {pairs} | {sources} |")
    return lines


def _seen_unseen_section(done: list[dict[str, Any]], prof: dict[str, Any]) -> list[str]:
    rows = [r for r in done if r.get("seen_unseen")]
    if not rows:
        return []
    held = ", ".join(prof["train"]["holdout_languages"])
    lines = ["", "## Seen and unseen query languages", "",
             f"Languages held out of training: {held}. Means over the queries of each group of languages.", "",
             "| cell | seen Mo | seen Cr | seen Mul | seen rank dist. | unseen Mo | unseen Cr | unseen Mul | "
             "unseen rank dist. |", "|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        cells = []
        for part in ("seen", "unseen"):
            m = row["seen_unseen"].get(part, {})
            cells += [f"{m[k]:.3f}" if k in m else "-" for k in ("mo_map", "cr_map", "mul_map")]
            cells.append(f"{m['rank_distance']:.1f}" if "rank_distance" in m else "-")
        lines.append(f"| {_label(row)} | " + " | ".join(cells) + " |")
    return lines


def _dialect_section(done: list[dict[str, Any]]) -> list[str]:
    rows = [r for r in done if r.get("extra", {}).get(DIALECTS, {}).get("varieties")]
    if not rows:
        return []
    varieties = [v for v in VARIETIES if any(v in r["extra"][DIALECTS]["varieties"] for r in rows)]
    n = rows[0]["extra"][DIALECTS]["varieties"][varieties[0]]["n_queries"]
    lines = ["", "## Dialect benchmark (NTREX varieties)", "",
             f"{n} held-out NTREX sentences (documents never in training) per variety as queries against the same "
             "sentences in the 11 standard languages. Each entry: the variety's Cr mAP (mean over the ten languages "
             "other than its parent), then the gap to the parent's own queries on the same sentences and its 95% "
             "interval. Mo (finding the parent-language sentence) after the slash.", "",
             "| cell | " + " | ".join(f"{v} (vs {VARIETIES[v][1]})" for v in varieties) + " |",
             "|---|" + "---|" * len(varieties)]
    for row in rows:
        got = row["extra"][DIALECTS]["varieties"]
        parts = []
        for v in varieties:
            if v not in got:
                parts.append("-")
                continue
            g = got[v]["cr_gap"]
            parts.append(f"{got[v]['cr_map']:.3f} ({g['difference']:+.3f} [{g['ci'][0]:+.3f}, {g['ci'][1]:+.3f}]) "
                         f"/ {got[v]['mo_map']:.3f}")
        lines.append(f"| {_label(row)} | " + " | ".join(parts) + " |")
    noise = [r for r in rows if r["extra"][DIALECTS].get("noise_versus_hybrid")]
    if noise:
        lines += ["", "Does dialectal noise in training help real dialect queries? hybrid+noise minus hybrid (same "
                  "seed and design), Cr mAP of each variety's queries, paired by sentence: difference, 95% bootstrap "
                  "interval, paired randomisation p.", "",
                  "| cell | " + " | ".join(varieties) + " |", "|---|" + "---|" * len(varieties)]
        for row in noise:
            got = row["extra"][DIALECTS]["noise_versus_hybrid"]
            lines.append(f"| {_label(row)} | " + " | ".join(_diff(got[v]) if v in got else "-" for v in varieties)
                         + " |")
    return lines
