"""Full-precision islands under mixed precision.

Under ``torch.autocast`` (``tools/train.py --amp``) matrix products run in float16 or
bfloat16. A few computations cannot take that: sums of thousands of squares overflow
float16 (BAM's Gram matrix), Sinkhorn's kernels and plans and CLIP's sharp softmax
gradients fall below its smallest normal number. They run inside :func:`full_precision`
on inputs cast by :func:`island_dtype`.
"""
from contextlib import nullcontext
from typing import ContextManager

import torch

__all__ = ['full_precision', 'island_dtype']


def full_precision(device: torch.device) -> ContextManager:
    """A context in which autocast is off on ``device`` (any device: where autocast does
    not exist, such as PyTorch's ``meta`` device, nothing to turn off)."""
    device_type = torch.device(device).type
    if torch.amp.is_autocast_available(device_type):
        return torch.autocast(device_type, enabled=False)
    return nullcontext()


def island_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype of a full-precision island for inputs of ``dtype``: float64 stays float64
    (tests, gradcheck); everything else computes in float32."""
    return torch.float64 if dtype == torch.float64 else torch.float32
