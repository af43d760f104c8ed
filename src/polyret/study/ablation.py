"""The noise ablation: which kind of training noise, if any, moves retrieval, read from finished study directories.

Each arm is one study directory holding a hybrid and a hybrid+noise cell of the same model, seed and design; the
arms differ only in the noise hybrid+noise trained with (a family subset, the romanised targets, everything). The
table sets, per arm, how much of the training queries the noise actually changed beside hybrid+noise minus hybrid:
on clean XQuAD-R (Mul mAP), under synthetic query noise (the change in Mul mAP that the noise causes) and on the
real dialect queries of each variety (Cr mAP, paired by sentence). Nothing is recomputed here: the paired
differences, intervals and p-values are the ones each study's results.json already holds, so the ablation cannot
drift from the studies it summarises.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from polyret.data.dialects import NAME as DIALECTS
from polyret.data.dialects import VARIETIES
from polyret.errors import PolyretError
from polyret.report.schema import read_study
from polyret.strategy import Strategy
from polyret.study.report import _code, _diff

RESULTS = "results.json"


def ablation_rows(arms: dict[str, Path], design: str = "controlled") -> list[dict[str, Any]]:
    """Per arm: its noise options, the share of training queries changed and the paired differences."""
    rows: list[dict[str, Any]] = []
    for arm, directory in arms.items():
        path = Path(directory) / RESULTS
        if not path.is_file():
            raise PolyretError(f"ablation arm {arm!r}: no {path}; run the study first")
        summary = read_study(path)
        cells = [c for c in summary["cells"] if Strategy.parse(c["strategy"]) == Strategy("hybrid", noise=True)
                 and c.get("design", "practical") == design and c.get("status") == "done"]
        if not cells:
            raise PolyretError(f"{path}: no finished hybrid+noise cell of the {design} design")
        noise = summary["profile"]["train"]["noise"]
        for cell in cells:
            if "hybrid" not in cell.get("versus", {}):
                raise PolyretError(f"{path}: cell {cell['cell']} has no hybrid cell to be compared with")
            rows.append({
                "arm": arm, "cell": cell["cell"], "seed": cell.get("seed"), "directory": str(directory),
                "families": noise.get("families"), "dialects": noise.get("dialects"),
                "changed_share": _changed_share(Path(directory), cell),
                "clean": cell["versus"]["hybrid"]["mul_map"],
                "noised_change": cell.get("noise_change_versus", {}).get("hybrid"),
                "varieties": cell.get("extra", {}).get(DIALECTS, {}).get("noise_versus_hybrid", {}),
                "code": summary.get("code_version", {}),
            })
    return rows


def _changed_share(directory: Path, cell: dict[str, Any]) -> float | None:
    """Share of training texts the noise changed, summed over the run's log.jsonl (None if it has no log)."""
    log = directory / "train" / cell["cell"] / "log.jsonl"
    if not log.is_file():
        return None
    texts = changed = 0
    for line in log.read_text(encoding="utf-8").splitlines():
        record = json.loads(line) if line.strip() else {}
        tally = record.get("noise") or {}
        texts += tally.get("texts", 0)
        changed += tally.get("changed", 0)
    return changed / texts if texts else None


def _label(row: dict[str, Any]) -> str:
    return row["arm"] + ("" if row["seed"] is None else f" (seed {row['seed']})")


def _what(row: dict[str, Any]) -> str:
    families = ",".join(row["families"]) if row["families"] else "all families"
    dialects = ",".join(row["dialects"])
    return f"{families}; {dialects}"


def render_ablation(rows: list[dict[str, Any]]) -> str:
    """The ablation as markdown: one row per arm and seed, real-variety columns in VARIETIES order."""
    varieties = [v for v in VARIETIES if any(v in r["varieties"] for r in rows)]
    lines = ["# Noise ablation: hybrid+noise minus hybrid, by the noise it trained with", "",
             "Every arm is hybrid+noise against hybrid of the same model, seed and design (the hybrid cell is the "
             "same run in every arm); only the noise differs. Differences are paired: clean XQuAD-R Mul mAP, the "
             "change synthetic query noise causes in Mul mAP (positive: more robust than hybrid), and per real "
             "dialect variety the Cr mAP of its queries (paired by sentence). Each: difference, 95% bootstrap "
             "interval, paired randomisation p. *changed* is the share of training queries the noise altered.", "",
             "| arm | noise | changed | clean Mul | under query noise | " + " | ".join(varieties) + " |",
             "|---|---|---|---|---|" + "---|" * len(varieties)]
    for row in rows:
        changed = "-" if row["changed_share"] is None else f"{row['changed_share']:.1%}"
        label = _label(row)
        lines.append(f"| {label} | {_what(row)} | {changed} | {_diff(row['clean'])} | "
                     f"{_diff(row['noised_change'])} | "
                     + " | ".join(_diff(row["varieties"].get(v)) for v in varieties) + " |")
    codes = sorted({_code(r["code"]) for r in rows})
    lines += ["", "Made by " + "; ".join(codes) + ". Study directories: "
              + ", ".join(f"{r['arm']}: `{r['directory']}`" for r in rows) + "."]
    return "\n".join(lines) + "\n"


def ablation_figure(rows: list[dict[str, Any]], path: Path) -> Path:
    """Forest plot: per measure (clean Mul, under query noise, each real variety) one marker and 95% interval per
    arm, so which arm moves which variety reads at a glance."""
    from polyret.report.figures import pyplot, save_figure

    plt = pyplot()
    varieties = [v for v in VARIETIES if any(v in r["varieties"] for r in rows)]
    measures = [("clean Mul", lambda r: r["clean"]), ("query noise", lambda r: r["noised_change"])] + [
        (f"{v} Cr", lambda r, v=v: r["varieties"].get(v)) for v in varieties]
    fig, ax = plt.subplots(figsize=(9.0, 0.9 + 0.45 * len(measures) * max(1, len(rows)) / 3), dpi=120)
    cmap = plt.get_cmap("tab10")
    height = 0.8 / max(1, len(rows))
    for j, row in enumerate(rows):
        for i, (_, get) in enumerate(measures):
            got = get(row)
            if not got:
                continue
            y = i + (j - (len(rows) - 1) / 2) * height
            low, high = got["ci"]
            ax.errorbar(got["difference"], y, xerr=[[got["difference"] - low], [high - got["difference"]]],
                        fmt="o", ms=4, capsize=2, color=cmap(j % 10), label=_label(row) if i == 0 else None)
    ax.axvline(0.0, color="grey", lw=0.8)
    ax.set_yticks(range(len(measures)), [name for name, _ in measures])
    ax.invert_yaxis()
    ax.set_xlabel("hybrid+noise minus hybrid (95% interval)")
    ax.set_title("Noise ablation: which noise moves which measure")
    ax.legend(loc="best", fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)
