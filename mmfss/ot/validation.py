"""Argument checks of the OT solvers.

Shape, type and dtype checks are free and always run. Checks of values (non-negative
masses, positive or equal totals, the transported mass in range) must read tensors on the
host: on a GPU each one waits for the stream. They run where ``check`` is True (the
default of the public solvers, for direct calls) and are skipped where a caller builds its
masses itself (the necks pass ``check=False``); ``MMFSS_DEBUG_CHECKS=1`` in the
environment turns them on everywhere (:func:`value_checks`).
"""
import os
from typing import Optional, Tuple

import torch
from torch import Tensor

__all__ = ['check_cost', 'marginal', 'total_masses', 'prepare_problem', 'value_checks',
           'DEBUG_CHECKS_ENV']

DEBUG_CHECKS_ENV = 'MMFSS_DEBUG_CHECKS'


def value_checks(check: bool) -> bool:
    """Whether to run the host-synchronising value checks: ``check``, or always when the
    environment variable ``MMFSS_DEBUG_CHECKS`` is set to 1."""
    return bool(check) or os.environ.get(DEBUG_CHECKS_ENV, '') == '1'


def check_cost(cost: Tensor) -> Tensor:
    """Validate a batched cost [B, N, M]; return it in the solvers' dtype.

    float64 stays float64 (tests, gradcheck); every other floating dtype (fp16, bf16, fp32)
    is computed in float32.
    """
    if not isinstance(cost, Tensor):
        raise TypeError(f'cost must be a torch.Tensor, got {type(cost).__name__}')
    if cost.dim() != 3:
        raise ValueError(f'cost must have shape [B, N, M], got {tuple(cost.shape)}')
    if cost.shape[1] == 0 or cost.shape[2] == 0:
        raise ValueError(f'cost needs at least one row and one column, got {tuple(cost.shape)}')
    if not cost.is_floating_point():
        raise TypeError(f'cost must be a floating-point tensor, got {cost.dtype}')
    return cost if cost.dtype == torch.float64 else cost.float()


def marginal(x: Optional[Tensor], batch: int, size: int, name: str,
             like: Tensor, check: bool = True) -> Tensor:
    """A marginal [B, size] in ``like``'s dtype: uniform 1/size when ``x`` is None.

    Raises for a wrong shape or (with ``check``) negative entries (names the argument).
    """
    if x is None:
        return like.new_full((batch, size), 1.0 / size)
    if not isinstance(x, Tensor):
        raise TypeError(f'{name} must be a torch.Tensor or None, got {type(x).__name__}')
    if x.dim() == 1 and x.shape[0] == size:
        x = x.unsqueeze(0).expand(batch, size)
    if tuple(x.shape) != (batch, size):
        raise ValueError(f'{name} must have shape [B, {size}] = [{batch}, {size}] to match '
                         f'cost, got {tuple(x.shape)}')
    x = x.detach().to(device=like.device, dtype=like.dtype)
    if value_checks(check) and bool((x < 0).any()):
        raise ValueError(f'{name} has negative entries (min {x.min().item():.3g}); masses '
                         'must be >= 0')
    return x


def total_masses(a: Tensor, b: Tensor, check_equal: bool,
                 check: bool = True) -> Tuple[Tensor, Tensor]:
    """Totals [B] of both marginals; with ``check``, each must be positive (and equal
    when balanced)."""
    sa, sb = a.sum(1), b.sum(1)
    if not value_checks(check):
        return sa, sb
    if bool((sa <= 0).any()) or bool((sb <= 0).any()):
        raise ValueError('each marginal needs a positive total mass (a.sum(1) and b.sum(1) > 0)')
    if check_equal and not torch.allclose(sa, sb, rtol=1e-4, atol=1e-6):
        raise ValueError(f'balanced Sinkhorn needs a.sum(1) == b.sum(1); got {sa.tolist()} vs '
                         f'{sb.tolist()} (use partial_ot for unequal masses)')
    return sa, sb


def prepare_problem(cost: Tensor, a: Optional[Tensor], b: Optional[Tensor], eps: float,
                    num_iters: int, check: bool = True) -> Tuple[Tensor, Tensor, Tensor]:
    """Check the solver arguments shared by :func:`sinkhorn` and :func:`partial_ot`.

    Returns:
        tuple: cost [B, N, M] and marginals [B, N], [B, M] in the solver dtype.
    """
    if not (isinstance(eps, (int, float)) and eps > 0):
        raise ValueError(f'eps must be a positive number, got {eps!r}')
    if not (isinstance(num_iters, int) and num_iters >= 1):
        raise ValueError(f'num_iters must be an int >= 1, got {num_iters!r}')
    cost = check_cost(cost)
    bsz, n, m = cost.shape
    return (cost, marginal(a, bsz, n, 'a', cost, check),
            marginal(b, bsz, m, 'b', cost, check))
