"""Mixed precision for training: which mode a run gets, its autocast context and its gradient scaler.

bf16 keeps float32's exponent range, so it needs no loss scaling; fp16 does, or small gradients underflow to 0:
under fp16 the loss is multiplied by a running scale before backward, and the gradients are divided by it (and the
step skipped on overflow) before clipping and the optimiser step. The loss itself is always computed in float32
(train/loss.py), whatever the autocast.
"""

from __future__ import annotations

from typing import Any, Literal

import torch

from polyret.errors import PolyretError

Mode = Literal["no", "bf16", "fp16"]


def resolve_mode(requested: str, device: torch.device) -> Mode:
    """`auto` is bf16 on a GPU that supports it, else full precision. fp16 needs a GPU; bf16 runs on a GPU or on a
    CPU that multiplies bfloat16 in hardware (AMX / AVX512-BF16: model/quantize.native_bfloat16), where an
    emulated bfloat16 would be slower than float32. On the CPU bf16 is opt-in (`auto` stays float32 there, so
    earlier CPU runs reproduce); `fast` opts in wherever bf16 is native and falls back to float32 elsewhere, so a
    profile can ask for it on any machine (the mode a run got is in its log)."""
    if requested == "auto":
        return "bf16" if device.type == "cuda" and torch.cuda.is_bf16_supported() else "no"
    if requested == "fast":  # bf16 wherever it is faster (a GPU that has it, a CPU that has it natively), else no
        if device.type == "cuda":
            return "bf16" if torch.cuda.is_bf16_supported() else "no"
        from polyret.model.quantize import native_bfloat16

        return "bf16" if device.type == "cpu" and native_bfloat16() else "no"
    if requested not in ("no", "bf16", "fp16"):
        raise PolyretError(f"--mixed-precision {requested}: use auto, fast, no, bf16 or fp16")
    if requested == "bf16" and device.type == "cpu":
        from polyret.model.quantize import native_bfloat16

        if not native_bfloat16():
            raise PolyretError("--mixed-precision bf16: this CPU has no native bfloat16 (AMX or AVX512-BF16), where "
                               "it is slower than float32; use no")
        return "bf16"
    if requested != "no" and device.type != "cuda":
        raise PolyretError(f"--mixed-precision {requested}: only on a GPU (this run uses {device})")
    return requested  # type: ignore[return-value]


class Precision:
    """The autocast context and gradient scaler of one mode on one device.

    The scaler is enabled for fp16 only; disabled, its scale/unscale_/step/update are plain pass-throughs, so the
    step calls them unconditionally. `init_scale` is torch's default; tests on the CPU pass a smaller one.
    """

    def __init__(self, mode: Mode, device: torch.device, init_scale: float = 2.0**16) -> None:
        self.mode, self.device = mode, device
        self.scaler = torch.amp.GradScaler(device.type, init_scale=init_scale, enabled=mode == "fp16")

    def autocast(self) -> Any:
        if self.mode == "no":
            return torch.autocast(device_type=self.device.type, enabled=False)
        dtype = torch.bfloat16 if self.mode == "bf16" else torch.float16
        return torch.autocast(device_type=self.device.type, dtype=dtype)
