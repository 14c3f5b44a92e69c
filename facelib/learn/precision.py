"""Numeric precision of training: bf16 autocast or float32.

The network runs under bf16 autocast on CUDA (and on a CPU when asked); the loss is
always computed in float32. On a CPU, bf16 pays only with native support (AVX512-BF16
or AMX: about twice the float32 speed on such a CPU) and is emulated, slowly,
elsewhere.
"""

from __future__ import annotations

import torch

__all__ = ["PRECISIONS", "uses_bf16"]

#: ``"auto"``: bf16 autocast on CUDA only; ``"bf16"``: always; ``"fp32"``: never
PRECISIONS = ("auto", "bf16", "fp32")


def uses_bf16(precision: str, device: str | torch.device) -> bool:
    """Whether the network runs under bf16 autocast on ``device`` with ``precision``
    (one of :data:`PRECISIONS`)."""
    if precision not in PRECISIONS:
        raise ValueError(
            f"precision must be one of {PRECISIONS}, got {precision!r}; pick one of "
            "them (see facelib.learn.precision)"
        )
    return precision == "bf16" or (
        precision == "auto" and torch.device(device).type == "cuda"
    )
