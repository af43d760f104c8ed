"""Summarise the recipe probes' development scores (held-out NTREX dev documents) into ntrex-dev.json.

Reads each `polyret evaluate --benchmark ntrex-dev` results.json named on the command line as NAME=PATH, keeps the
scalar measures and the provenance (model fingerprint, data checksums, code version), and adds each model's paired
Mul-AP difference against the first one named (polyret.report.stats.paired_difference: the same 4,048 queries,
clusters = the sentence, all languages of a sentence together). The per-query arrays (1.1 MB per model) are not kept.

    python results/levers-probe/dev_scores.py OUT.json NAME=runs/.../results.json ...
"""

from __future__ import annotations

import sys
from pathlib import Path

from polyret.report.io import write_json_atomic
from polyret.report.schema import read_evaluation
from polyret.report.stats import paired_difference

SCALARS = ("mo_map", "cr_map", "mul_map", "r_at_1", "r_at_10", "rank_distance", "n_queries")


def main(out: str, specs: list[str]) -> None:
    rows, reference = {}, None
    for spec in specs:
        name, path = spec.split("=", 1)
        data = read_evaluation(Path(path))
        metrics = data["metrics"]
        per_query = metrics["per_query"]
        row = {key: metrics[key] for key in SCALARS}
        row.update(model=data["model"]["spec"], fingerprint=data["model"]["fingerprint"],
                   code_version=data["code_version"], dtype=data["model"]["dtype"])
        if reference is None:
            reference = (name, per_query, data["benchmark"])
        else:
            try:
                row[f"mul_ap_minus_{reference[0]}"] = paired_difference(per_query, reference[1], "mul_ap")
            except ValueError as error:
                raise SystemExit(f"{path} against {reference[0]}'s: {error}") from None
        rows[name] = row
    benchmark = {k: reference[2][k] for k in ("name", "split", "documents", "sentences", "n_queries",
                                              "n_candidates", "languages", "files_sha256")}
    write_json_atomic(Path(out), {"benchmark": benchmark, "models": rows})

if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
