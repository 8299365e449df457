"""How the encoders predict fast (issue 19, goal 4).

- In reduced precision where the hardware computes it natively: bfloat16 on a GPU and on CPUs
  whose oneDNN kernels do bfloat16 (AVX512-BF16, AMX), float32 elsewhere. A reduced copy of
  the network predicts; the float32 weights stay what training writes and ``save`` keeps.
- In batches of similar lengths, filled up to a budget of padded tokens (many short sentences
  per batch, few long ones), so no batch pays for another's padding.
- With the inputs copied from pinned memory without waiting and the outputs left on the
  device until the last batch is queued: the CPU builds batch k+1 while the GPU runs batch k.
"""

from __future__ import annotations

import copy
from typing import Sequence

import torch
from torch import nn

from leanlife_transformer.config import AUTO_PRECISION

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
# Padded tokens per batch when the config leaves it to the device. On 2 CPU cores in bfloat16,
# 8,192 ran fastest (1,024: 360 sentences/s, 8,192: 430, 16,384: 360); in float32, batches
# past about 64 sentences (2,048 tokens) ran slower. A GPU wants many more rows.
CPU_BATCH_TOKENS = {torch.bfloat16: 8192, torch.float32: 2048, torch.float16: 2048}
GPU_BATCH_TOKENS = 65536


def native_cpu_bfloat16() -> bool:
    """Whether this CPU computes bfloat16 matrix products natively (else they are emulated,
    several times slower than float32)."""
    check = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    try:
        return bool(check()) if check is not None else False
    except RuntimeError:
        return False


def inference_dtype(precision: str, device: torch.device) -> torch.dtype:
    """The dtype to predict in: the configured one, or for ``auto`` the fastest that the
    device computes natively."""
    if precision != AUTO_PRECISION:
        return DTYPES[precision]
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if native_cpu_bfloat16() else torch.float32


def batch_token_budget(configured: int | None, device: torch.device, dtype: torch.dtype) -> int:
    if configured is not None:
        return configured
    return GPU_BATCH_TOKENS if device.type == "cuda" else CPU_BATCH_TOKENS[dtype]


def predicting_copy(network: nn.Module, dtype: torch.dtype) -> nn.Module:
    """``network`` itself in float32; otherwise a copy cast to ``dtype``, in eval mode."""
    if dtype == torch.float32:
        return network.eval()
    return copy.deepcopy(network).to(dtype).eval()


def length_batches(lengths: Sequence[int], max_tokens: int, max_sequences: int) -> list[list[int]]:
    """The indices of ``lengths``, shortest first, cut into batches whose padded size (rows
    times the longest row) stays within ``max_tokens`` and whose rows stay within
    ``max_sequences``; a row longer than the budget makes a batch of its own."""
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    batches: list[list[int]] = []
    current: list[int] = []
    for index in order:
        # Sorted, so this row is the batch's longest: the padded size is rows x this length.
        if current and ((len(current) + 1) * lengths[index] > max_tokens or len(current) >= max_sequences):
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches


def padded_inputs(sequences: Sequence[Sequence[int]], pad: int, device: torch.device) -> dict[str, torch.Tensor]:
    """``input_ids`` and ``attention_mask`` of one batch, padded on the right, on ``device``
    (from pinned memory and without waiting, when that is a GPU)."""
    width = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), width), pad, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, sequence in enumerate(sequences):
        ids[row, :len(sequence)] = torch.as_tensor(sequence, dtype=torch.long)
        mask[row, :len(sequence)] = 1
    return {"input_ids": to_device(ids, device), "attention_mask": to_device(mask, device)}


def to_device(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    if device.type != "cuda":
        return tensor
    return tensor.pin_memory().to(device, non_blocking=True)
