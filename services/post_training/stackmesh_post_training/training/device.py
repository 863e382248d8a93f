"""Where a run trains and in which precision."""

from __future__ import annotations

import torch

from stackmesh_post_training.training.errors import TrainingError

_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}


def _cuda_bf16() -> bool:
    # Emulated bf16 (pre-Ampere GPUs) is slower than fp16 with loss scaling.
    return torch.cuda.is_bf16_supported(including_emulation=False)


def pick_device(dtype: str | None) -> tuple[torch.device, torch.dtype]:
    """The GPU when there is one, else the CPU; `dtype` ("bf16", "fp16", "fp32") overrides the
    device's default (bf16, else fp16, on a GPU; fp32 on a CPU) where the device supports it."""
    if torch.cuda.is_available():
        device = torch.device("cuda")
        default = torch.bfloat16 if _cuda_bf16() else torch.float16
    else:
        device, default = torch.device("cpu"), torch.float32
    if dtype is None:
        return device, default
    if dtype not in _DTYPES:
        raise TrainingError(f"unknown dtype {dtype!r}; use one of {', '.join(_DTYPES)}")
    chosen = _DTYPES[dtype]
    if device.type == "cuda" and chosen == torch.bfloat16 and not _cuda_bf16():
        raise TrainingError("this GPU does not support bf16; use fp16 or fp32")
    if device.type == "cpu" and chosen == torch.float16:
        raise TrainingError("fp16 training needs a GPU; on a CPU use bf16 or fp32")
    return device, chosen
