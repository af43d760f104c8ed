"""Choose the controlled design's distillation weight on development data only, by the rule written down in
docs/training.md ("Choosing the distillation weight on qa-dev") before any qa-dev score was seen.

Each NAME=NTREX_RESULTS,QA_RESULTS pair is one model's `polyret evaluate --benchmark ntrex-dev` and
`--benchmark qa-dev` results.json; the first model named is the reference (the recipe, weight 1). Per model:
ntrex-dev Mul mAP and qa-dev Mo mAP, their paired differences from the reference
(polyret.report.stats.paired_difference; ntrex-dev clusters = the sentence, all languages together; qa-dev
clusters = the question), and the development score, the mean of the two. The rule: among the models whose paired
difference from the reference is not significantly negative on either set (difference < 0 with p < 0.05), the
highest development score wins; a model within 0.0005 of a lighter one does not replace it. Writes OUT.json; the
per-query arrays are not kept.

    python results/qa-dev-choice/choose.py OUT.json dw1=NTREX.json,QA.json dw5=...,... dw20=...,...
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from polyret.report.io import write_json_atomic
from polyret.report.schema import read_evaluation
from polyret.report.stats import paired_difference

SETS = (("ntrex-dev", "mul"), ("qa-dev", "mo"))  # (benchmark, the measure that scores it)
TIE = 0.0005
RULE = ("development score = mean of ntrex-dev Mul mAP and qa-dev Mo mAP; eligible = no paired difference from "
        "the reference that is negative with p < 0.05 on either set; the eligible model with the highest score "
        f"wins, and one within {TIE} of a lighter weight does not replace it")


def _read(path: str, benchmark: str) -> dict[str, Any]:
    data = read_evaluation(Path(path))
    if data["benchmark"]["name"] != benchmark:
        raise SystemExit(f"{path}: a {data['benchmark']['name']} result where {benchmark} was expected")
    return data


def main(out: str, specs: list[str]) -> None:
    models: dict[str, dict[str, Any]] = {}
    reference: dict[str, Any] = {}
    benchmarks: dict[str, Any] = {}
    for spec in specs:
        name, paths = spec.split("=", 1)
        row: dict[str, Any] = {}
        for (benchmark, measure), path in zip(SETS, paths.split(",")):
            data = _read(path, benchmark)
            per_query = data["metrics"]["per_query"]
            fingerprint = data["model"]["fingerprint"]
            if row.setdefault("fingerprint", fingerprint) != fingerprint:
                raise SystemExit(f"{path}: another model than {name}'s ntrex-dev result")
            row[benchmark] = {f"{measure}_map": data["metrics"][f"{measure}_map"],
                              "n_queries": data["metrics"]["n_queries"], "code_version": data["code_version"]}
            if benchmark not in reference:
                reference[benchmark] = (name, per_query)
                benchmarks[benchmark] = {k: v for k, v in data["benchmark"].items() if k != "documents"}
            else:
                try:
                    row[benchmark]["minus_reference"] = paired_difference(per_query, reference[benchmark][1],
                                                                          f"{measure}_ap")
                except ValueError as error:
                    raise SystemExit(f"{path} against {reference[benchmark][0]}'s: {error}") from None
        row["model"] = data["model"]["spec"]
        row["dev_score"] = sum(row[b][f"{m}_map"] for b, m in SETS) / len(SETS)
        row["eligible"] = not any((d := row[b].get("minus_reference")) and d["difference"] < 0
                                  and d["p_value"] < 0.05 for b, _ in SETS)
        models[name] = row
    chosen = None
    for name, row in models.items():  # named lightest first: a tie keeps the lighter weight
        if row["eligible"] and (chosen is None or row["dev_score"] > models[chosen]["dev_score"] + TIE):
            chosen = name
    write_json_atomic(Path(out), {"rule": RULE, "benchmarks": benchmarks,
                                  "reference": next(iter(models)), "models": models, "chosen": chosen})
    for name, row in models.items():
        print(f"{name:10s} ntrex-dev Mul {row['ntrex-dev']['mul_map']:.4f}  qa-dev Mo {row['qa-dev']['mo_map']:.4f}"
              f"  dev score {row['dev_score']:.4f}  eligible {row['eligible']}")
    print(f"chosen: {chosen}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
