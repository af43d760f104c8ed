"""Mixed precision for training: which mode a run gets, its autocast context."""

from __future__ import annotations

from typing import Any, Literal

import torch

from polyret.errors import PolyretError

Mode = Literal["no", "bf16", "fp16"]


def resolve_mode(requested: str, device: torch.device) -> Mode:
    """`auto` is bf16 on a GPU that supports it, else full precision; bf16/fp16 need a GPU."""
    if requested == "auto":
        return "bf16" if device.type == "cuda" and torch.cuda.is_bf16_supported() else "no"
    if requested not in ("no", "bf16", "fp16"):
        raise PolyretError(f"--mixed-precision {requested}: use auto, no, bf16 or fp16")
    if requested != "no" and device.type != "cuda":
        raise PolyretError(f"--mixed-precision {requested}: only on a GPU (this run uses {device})")
    return requested  # type: ignore[return-value]


class Precision:
    """The autocast context of one mode on one device."""

    def __init__(self, mode: Mode, device: torch.device) -> None:
        self.mode, self.device = mode, device

    def autocast(self) -> Any:
        if self.mode == "no":
            return torch.autocast(device_type=self.device.type, enabled=False)
        dtype = torch.bfloat16 if self.mode == "bf16" else torch.float16
        return torch.autocast(device_type=self.device.type, dtype=dtype)
