"""int8 CPU inference: dynamic quantisation of a model's Linear layers (torch.ao), weights per output channel.

Weights are stored as int8 with one scale per output row; activations are quantised on the fly per tensor
(fbgemm/oneDNN kernels). Embeddings, LayerNorms and the attention products stay float32. Why per channel:
on mE5-small, per-tensor weights moved the embeddings further from float32 (mean cosine 0.976 against 0.986
on 192 XQuAD-R sentences). It is fast but NOT accurate enough for headline numbers: on the whole XQuAD-R it
moved Mul mAP by -0.059 and rank distance by +44% (README, Evaluate), because one activation scale per tensor
cannot follow BERT's outlier features. So it is opt-in only; the study uses bfloat16 where the CPU has it
(native_bfloat16), which kept every metric within 0.001. Inference only, never for training.
"""

from __future__ import annotations

import warnings
from functools import lru_cache
from pathlib import Path

import torch


def quantize_int8(model: torch.nn.Module) -> torch.nn.Module:
    """A copy-free int8 version of `model` for CPU inference (Linear layers only)."""
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    names = {name: per_channel_dynamic_qconfig for name, module in model.named_modules()
             if isinstance(module, torch.nn.Linear)}
    with warnings.catch_warnings():  # torch.ao.quantization announces its move to torchao; the kernels stay
        warnings.simplefilter("ignore")
        return quantize_dynamic(model.eval(), names, dtype=torch.qint8, inplace=True)


@lru_cache(maxsize=1)
def native_bfloat16() -> bool:
    """Whether this CPU multiplies bfloat16 in hardware (AMX or AVX512-BF16): there bfloat16 inference is
    several times faster than float32; elsewhere it is emulated and slower."""
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").split()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags
