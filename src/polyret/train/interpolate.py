"""Weight interpolation between a base model and its fine-tuned version (WiSE-FT, Wortsman et al., arXiv 2109.01903).

theta(a) = (1 - a) * theta_base + a * theta_finetuned, tensor by tensor. Fine-tuning on a narrow set of groups buys
cross-lingual alignment and costs some of what the base model knew (Mo mAP drops); a point between the two often
keeps most of both. `a` is chosen on a development set, never on an evaluation set. At a = 0 and a = 1 the
endpoints' tensors are copied, not computed, so those two points are the endpoints bit for bit (0 * x + y is not
always y: it turns -0.0 into 0.0).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import torch

from polyret.errors import PolyretError
from polyret.ownership import claim
from polyret.report.io import write_json_atomic
from polyret.train.saving import COMPLETE, STAGING, TOKENIZER_FILES, publish_staged

MODULE_DIRS = ("1_Pooling", "2_Normalize")
MODEL_FILES = ("modules.json", "sentence_bert_config.json", "config_sentence_transformers.json")



def interpolate_state(base: dict[str, torch.Tensor], tuned: dict[str, torch.Tensor],
                      alpha: float) -> dict[str, torch.Tensor]:
    """(1 - alpha) * base + alpha * tuned for every tensor; the endpoints are copied exactly."""
    if not 0.0 <= alpha <= 1.0:
        raise PolyretError(f"--alpha: must be in [0, 1], got {alpha}")
    if base.keys() != tuned.keys():
        missing = sorted(base.keys() ^ tuned.keys())
        raise PolyretError(f"the two models do not have the same tensors (first difference: {missing[0]!r})")
    out = {}
    for name, value in tuned.items():
        start = base[name]
        if start.shape != value.shape:
            raise PolyretError(f"tensor {name!r}: shape {tuple(start.shape)} in the base model, "
                               f"{tuple(value.shape)} in the fine-tuned one")
        if alpha == 0.0 or not value.is_floating_point():
            out[name] = start.clone()
        elif alpha == 1.0:
            out[name] = value.clone()
        else:
            out[name] = torch.lerp(start.float(), value.float(), alpha).to(value.dtype)
    return out


def interpolate_models(finetuned: Path, alphas: list[float], output: Path, base: str | None = None,
                       dev: Any = None, measure: str = "mixed_mrr") -> dict[str, Any]:
    """Write the interpolated model as a directory polyret, transformers and sentence-transformers load.

    `finetuned` is a finished polyret model directory; `base` defaults to the model it was trained from. With one
    alpha, that point is written. With several, each is scored on the development set `dev` (evaluate/dev.py:
    Tatoeba pairs, never an evaluation set) and the best by `measure` is written; the sweep is recorded in
    polyret_model.json. The directory is staged and polyret_model.json written last, as for a trained model.
    Returns the interpolation record.
    """
    from polyret.model.encoder import Encoder, EncoderOptions

    meta_path = Path(finetuned) / COMPLETE
    if not meta_path.is_file():
        raise PolyretError(f"{finetuned}: not a finished polyret model directory (no {COMPLETE})")
    meta: dict[str, Any] = json.loads(meta_path.read_text(encoding="utf-8"))
    base = base or (meta.get("base_model") or {}).get("spec")
    if not base:
        raise PolyretError(f"{meta_path}: names no base model; pass --base")
    if output.exists() and any(output.iterdir()):
        raise PolyretError(f"{output}: already exists and is not empty; choose another --output")
    tuned_encoder = Encoder(EncoderOptions(model=str(finetuned), device="cpu"))
    base_encoder = Encoder(EncoderOptions(model=base, device="cpu"))
    base_state = base_encoder.model.state_dict()
    tuned_state = {k: v.clone() for k, v in tuned_encoder.model.state_dict().items()}
    sweep: list[dict[str, Any]] = []
    if len(alphas) > 1:
        if dev is None:
            raise PolyretError("several --alpha values need a development set to choose among them")
        from polyret.evaluate.dev import score_encoder

        for a in alphas:
            tuned_encoder.model.load_state_dict(interpolate_state(base_state, tuned_state, a))
            scores = score_encoder(tuned_encoder, dev)
            sweep.append({"alpha": a, measure: float(scores[measure])})  # type: ignore[arg-type]
    alpha = max(sweep, key=lambda point: point[measure])["alpha"] if sweep else alphas[0]
    tuned_encoder.model.load_state_dict(interpolate_state(base_state, tuned_state, alpha))

    claim(output, "interpolated model")
    staging = output / STAGING
    staging.mkdir()
    tuned_encoder.model.save_pretrained(staging, safe_serialization=True)
    for item in Path(finetuned).iterdir():  # tokenizer and sentence-transformers files, as the fine-tuned model has
        if item.is_dir() and item.name in MODULE_DIRS:
            shutil.copytree(item, staging / item.name)
        elif item.is_file() and item.name in (*TOKENIZER_FILES, *MODEL_FILES):
            shutil.copyfile(item, staging / item.name)
    record = {"alpha": alpha, "base": base_encoder.identity.get("spec"), "base_fingerprint": base_encoder.fingerprint,
              "finetuned": str(finetuned), "finetuned_fingerprint": tuned_encoder.fingerprint,
              "formula": "(1 - alpha) * base + alpha * finetuned",
              "chosen_on": None if not sweep else {"dev_set": dev.describe(), "measure": measure, "sweep": sweep}}
    write_json_atomic(staging / COMPLETE, {**{k: v for k, v in meta.items() if k != "training"},
                                           "interpolation": record, "finetuned_training": meta.get("training")})
    publish_staged(staging, output)
    return record
