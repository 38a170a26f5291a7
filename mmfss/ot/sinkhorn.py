"""Batched, differentiable log-domain Sinkhorn with O(N x M) backward memory.

The iteration is POT's ``sinkhorn_log`` (Cuturi 2013 in the log domain), batched::

    K = -C / eps,  u_0 = 0,  v_0 = 0
    for k in 1..L:  v_k = log b - logsumexp_i(K_ij + u_{k-1,i})
                    u_k = log a - logsumexp_j(K_ij + v_{k,j})
    T = exp(K + u_L 1^T + 1 v_L^T)

with a fixed number of iterations L and no host synchronisation inside the loop.

Backward is the exact gradient of these L unrolled iterations (what autograd would give),
but computed by :class:`_LogSinkhorn` from the saved potential vectors (L x (N + M) numbers):
each iteration's row/column softmax is recomputed from ``K`` and the potentials when it is
needed, so peak memory holds a few N x M tensors, not one or more per iteration.
"""
from typing import Optional

import torch
from torch import Tensor

from .validation import check_cost, marginal, total_masses

__all__ = ['sinkhorn', 'log_sinkhorn_plan']


def _potentials(K: Tensor, loga: Tensor, logb: Tensor, num_iters: int):
    """Run the iterations; return the potentials of every iteration, [L, B, N] / [L, B, M]."""
    b, n, m = K.shape
    us = K.new_empty((num_iters, b, n))
    vs = K.new_empty((num_iters, b, m))
    u = K.new_zeros((b, n))
    for k in range(num_iters):
        v = logb - torch.logsumexp(K + u.unsqueeze(2), dim=1)
        u = loga - torch.logsumexp(K + v.unsqueeze(1), dim=2)
        us[k], vs[k] = u, v
    return us, vs


class _LogSinkhorn(torch.autograd.Function):
    """Plan of the unrolled log-domain Sinkhorn; gradient w.r.t. ``K`` only."""

    @staticmethod
    def forward(ctx, K: Tensor, loga: Tensor, logb: Tensor, num_iters: int) -> Tensor:
        us, vs = _potentials(K, loga, logb, num_iters)
        ctx.save_for_backward(K, us, vs)
        return torch.exp(K + us[-1].unsqueeze(2) + vs[-1].unsqueeze(1))

    @staticmethod
    def backward(ctx, grad_plan: Tensor):
        K, us, vs = ctx.saved_tensors
        num_iters = us.shape[0]
        # T = exp(K + u_L + v_L): dK = G * T, du_L = rowsum(G * T), dv_L = colsum(G * T)
        grad_K = grad_plan.to(K.dtype) * torch.exp(K + us[-1].unsqueeze(2) + vs[-1].unsqueeze(1))
        du = grad_K.sum(2)
        dv = grad_K.sum(1)
        for k in range(num_iters - 1, -1, -1):
            # u_k = log a - LSE_j(K + v_k): d/dK = -Q, d/dv_k = -Q^T du, Q = softmax_j
            q = torch.softmax(K + vs[k].unsqueeze(1), dim=2).mul_(du.unsqueeze(2))
            grad_K.sub_(q)
            dv = dv - q.sum(1)
            del q
            # v_k = log b - LSE_i(K + u_{k-1}): d/dK = -R, d/du_{k-1} = -R dv, R = softmax_i
            u_prev = us[k - 1] if k > 0 else torch.zeros_like(us[0])
            r = torch.softmax(K + u_prev.unsqueeze(2), dim=1).mul_(dv.unsqueeze(1))
            grad_K.sub_(r)
            du = -r.sum(2)
            del r
            dv = torch.zeros_like(dv)  # v_{k-1} only feeds u_{k-1}: its gradient starts at 0
        return grad_K, None, None, None


def log_sinkhorn_plan(K: Tensor, a: Tensor, b: Tensor, num_iters: int) -> Tensor:
    """Plan from a log-kernel ``K = -C / eps`` [B, N, M] (may hold -inf) and marginals.

    Internal entry point shared by :func:`sinkhorn` and :func:`~mmfss.ot.partial_ot`; no
    validation. Zero masses give -inf potentials and exactly zero rows/columns.
    """
    return _LogSinkhorn.apply(K, torch.log(a), torch.log(b), num_iters)


def sinkhorn(cost: Tensor,
             a: Optional[Tensor] = None,
             b: Optional[Tensor] = None,
             eps: float = 0.1,
             num_iters: int = 10) -> Tensor:
    """Entropic optimal transport plan by batched log-domain Sinkhorn.

    Solves ``min_T <T, C> - eps H(T)`` s.t. ``T 1 = a``, ``T^T 1 = b`` with exactly
    ``num_iters`` iterations of POT's ``sinkhorn_log`` update order (v then u), so that the
    result equals ``ot.sinkhorn(a, b, C, eps, method='sinkhorn_log', numItermax=num_iters,
    stopThr=0)`` for every batch element.

    Computed in float32 whatever the input dtype and autocast state (fp16/bf16/fp32 inputs;
    the plan is float32), except that float64 costs are computed and returned in float64.
    Gradients flow to ``cost`` through all iterations (exact unrolled gradient, O(N x M)
    memory); ``a`` and ``b`` are treated as constants.

    Args:
        cost (Tensor): [B, N, M] cost matrices.
        a (Tensor, optional): [B, N] (or [N]) source masses; uniform 1/N when None.
        b (Tensor, optional): [B, M] (or [M]) target masses; uniform 1/M when None. Must have
            the same total as ``a`` per batch element.
        eps (float): Entropic regularisation (> 0).
        num_iters (int): Number of Sinkhorn iterations (>= 1).

    Returns:
        Tensor: [B, N, M] transport plans (float32, or float64 for float64 costs).
    """
    if not (isinstance(eps, (int, float)) and eps > 0):
        raise ValueError(f'eps must be a positive number, got {eps!r}')
    if not (isinstance(num_iters, int) and num_iters >= 1):
        raise ValueError(f'num_iters must be an int >= 1, got {num_iters!r}')
    with torch.autocast(cost.device.type, enabled=False):
        cost = check_cost(cost)
        bsz, n, m = cost.shape
        a = marginal(a, bsz, n, 'a', cost)
        b = marginal(b, bsz, m, 'b', cost)
        total_masses(a, b, check_equal=True)
        return log_sinkhorn_plan(cost / -eps, a, b, num_iters)
