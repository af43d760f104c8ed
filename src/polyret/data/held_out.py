"""Development sets built from training sources refuse the models that trained on them.

Why: a development set chooses models and recipes; a model that trained on its texts would be chosen for having
seen them. qa-dev is built from ARCD, TQuAD, CMRC 2018 and iApp, which the practical design trains on, so a
benchmark names its sources (`RetrievalBenchmark.built_from`) and every scoring path (the CLI before anything is
written, `polyret.evaluate.runner.evaluate` for library callers) checks the model against them here.
"""

from __future__ import annotations

from pathlib import Path

from polyret.data.benchmark import RetrievalBenchmark
from polyret.data.jsonio import read_json
from polyret.errors import PolyretError
from polyret.sampling import SAMPLER_INFO


def check_held_out(bench: RetrievalBenchmark, model: Path | str, where: str) -> None:
    """Refuse to score `model` on `bench` when groups of a source the benchmark is built from reached the model's
    training; a model polyret did not train (the embedded or a hub model) has no record of ours and passes."""
    if not bench.built_from:
        return
    shared = sorted(trained_sources(model) & bench.built_from)
    if shared:
        raise PolyretError(f"{where}: this model trained on {shared[0]}, which {bench.name} is built from; a "
                           "development set the model trained on cannot choose anything (it scores models whose "
                           f"training drew from none of {', '.join(sorted(bench.built_from))})")


def trained_sources(model: Path | str, depth: int = 0) -> set[str]:
    """The training sources whose groups reached a polyret model's weights.

    A training run's sampler record (sampler.json beside the model) names the sources its batches drew from; the
    controlled design reads every source but draws from XNLI and NTREX only. Without that record, every source
    whose files the training read counts. Followed up the chain: an interpolated model's fine-tuned model, and a
    model trained from a local polyret model."""
    from polyret.model.loading import metadata_settings

    if not isinstance(model, Path) or not (model / "polyret_model.json").is_file() or depth > 8:
        return set()
    meta = metadata_settings(model)
    sources: set[str] = set()
    training = meta.get("training")
    if training:
        sampler = model / SAMPLER_INFO
        if sampler.is_file():
            sources.update(read_json(sampler).get("group_sources") or {})
        else:
            sources.update(path.split("/")[1] for path in training.get("data_files_sha256") or {}
                           if path.startswith("train/"))
    interpolated = (meta.get("interpolation") or {}).get("finetuned")
    base_model = meta.get("base_model") or {}
    for parent in (interpolated, base_model.get("spec") if base_model.get("kind") == "local" else None):
        if parent:
            sources |= trained_sources(Path(parent), depth + 1)
    return sources
