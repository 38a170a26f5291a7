from typing import Callable, Tuple

import torch
from torch import Tensor

__all__ = ['shared_forward']


def shared_forward(module: Callable[[Tensor], Tensor], query: Tensor,
                   support: Tensor) -> Tuple[Tensor, Tensor]:
    """Apply one module to the query [B, ...] and the flattened supports [B*K, ...] together.

    When their shapes allow, both go through ``module`` as one batch, so batch norm sees one
    set of statistics in training and its running statistics (used in evaluation) describe
    that same mixture. Two separate calls would normalise the query with query-only batch
    statistics in training but with query+support running statistics in evaluation, which
    breaks models whose query and support features differ in distribution (e.g. after a
    neck that refines them differently).

    Returns:
        tuple[Tensor, Tensor]: ``module(query)``, ``module(support)``.
    """
    if query.shape[1:] == support.shape[1:]:
        out = module(torch.cat([query, support]))
        return out[:query.shape[0]], out[query.shape[0]:]
    return module(query), module(support)
