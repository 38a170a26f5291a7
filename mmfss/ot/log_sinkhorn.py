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

Each step is a small function over the whole [B, N, M] kernel. Eager PyTorch runs a
log-sum-exp as several passes that write N x M temporaries; ``torch.compile`` (inductor)
fuses each step into reductions that only read ``K``, which is several times faster on CPU
and GPU. ``compile='auto'`` (the default) uses the compiled steps for problems with at least
:data:`COMPILE_MIN_ELEMENTS` kernel entries, where the one-off compilation (seconds, cached
on disk by inductor) pays for itself, and falls back to eager with a warning if compilation
fails (e.g. no C++ compiler).
"""
import warnings
from typing import Callable, Dict, Optional, Tuple, Union

import torch
from torch import Tensor

from .validation import check_cost, marginal, total_masses

__all__ = ['sinkhorn', 'log_sinkhorn_plan', 'COMPILE_MIN_ELEMENTS']

COMPILE_MIN_ELEMENTS = 1 << 20
CompileFlag = Union[bool, str]


# --------------------------------------------------------------------------- steps
def _v_step(K: Tensor, u: Tensor, logb: Tensor) -> Tensor:
    """v = log b - logsumexp_i(K + u): [B, M]."""
    return logb - torch.logsumexp(K + u.unsqueeze(2), dim=1)


def _u_step(K: Tensor, v: Tensor, loga: Tensor) -> Tensor:
    """u = log a - logsumexp_j(K + v): [B, N]."""
    return loga - torch.logsumexp(K + v.unsqueeze(1), dim=2)


def _plan(K: Tensor, u: Tensor, v: Tensor) -> Tensor:
    return torch.exp(K + u.unsqueeze(2) + v.unsqueeze(1))


def _grad_output(K: Tensor, u: Tensor, v: Tensor, grad_plan: Tensor):
    """T = exp(K + u + v): dK = G * T, du = rowsum(G * T), dv = colsum(G * T)."""
    grad_K = grad_plan * torch.exp(K + u.unsqueeze(2) + v.unsqueeze(1))
    return grad_K, grad_K.sum(2), grad_K.sum(1)


def _grad_u_step(K: Tensor, v: Tensor, du: Tensor, grad_K: Tensor):
    """Back through u = log a - LSE_j(K + v): Q = softmax_j, dK -= du Q, dv = -Q^T du."""
    q = torch.softmax(K + v.unsqueeze(1), dim=2) * du.unsqueeze(2)
    return grad_K - q, -q.sum(1)


def _grad_v_step(K: Tensor, u: Tensor, dv: Tensor, grad_K: Tensor):
    """Back through v = log b - LSE_i(K + u): R = softmax_i, dK -= R dv, du = -R dv."""
    r = torch.softmax(K + u.unsqueeze(2), dim=1) * dv.unsqueeze(1)
    return grad_K - r, -r.sum(2)


_EAGER: Dict[str, Callable] = dict(v=_v_step, u=_u_step, plan=_plan, out=_grad_output,
                                   gu=_grad_u_step, gv=_grad_v_step)
_COMPILED: Dict[str, Callable] = {}
_COMPILE_BROKEN = []


def _steps(use_compile: bool) -> Dict[str, Callable]:
    if not use_compile or _COMPILE_BROKEN:
        return _EAGER
    if not _COMPILED:
        _COMPILED.update({k: torch.compile(f, dynamic=True) for k, f in _EAGER.items()})
    return _COMPILED


def _call(name: str, use_compile: bool, *args):
    """Run a step, compiled when asked; fall back to eager (once, with a warning)."""
    steps = _steps(use_compile)
    if steps is _EAGER:
        return steps[name](*args)
    try:
        return steps[name](*args)
    except Exception as err:  # compilation needs a C++ toolchain / a supported backend
        _COMPILE_BROKEN.append(err)
        warnings.warn(f'mmfss.ot: torch.compile failed ({type(err).__name__}: {err}); using '
                      'eager Sinkhorn steps from now on', RuntimeWarning)
        return _EAGER[name](*args)


def resolve_compile(flag: CompileFlag, K: Tensor) -> bool:
    """Whether to use the compiled steps for this kernel (see the module docstring)."""
    if flag == 'auto':
        return K.numel() >= COMPILE_MIN_ELEMENTS and not _COMPILE_BROKEN
    if isinstance(flag, bool):
        return flag
    raise ValueError(f"compile must be True, False or 'auto', got {flag!r}")


# --------------------------------------------------------------------------- autograd
def _potentials(K: Tensor, loga: Tensor, logb: Tensor, num_iters: int,
                use_compile: bool) -> Tuple[Tensor, Tensor]:
    """Run the iterations; return the potentials of every iteration, [L, B, N] / [L, B, M]."""
    b, n, m = K.shape
    us = K.new_empty((num_iters, b, n))
    vs = K.new_empty((num_iters, b, m))
    u = K.new_zeros((b, n))
    for k in range(num_iters):
        v = _call('v', use_compile, K, u, logb)
        u = _call('u', use_compile, K, v, loga)
        us[k], vs[k] = u, v
    return us, vs


class _LogSinkhorn(torch.autograd.Function):
    """Plan of the unrolled log-domain Sinkhorn; gradient w.r.t. ``K`` only."""

    @staticmethod
    def forward(ctx, K: Tensor, loga: Tensor, logb: Tensor, num_iters: int,
                use_compile: bool) -> Tensor:
        us, vs = _potentials(K, loga, logb, num_iters, use_compile)
        ctx.save_for_backward(K, us, vs)
        ctx.use_compile = use_compile
        return _call('plan', use_compile, K, us[-1], vs[-1])

    @staticmethod
    def backward(ctx, grad_plan: Tensor):
        K, us, vs = ctx.saved_tensors
        c = ctx.use_compile
        grad_K, du, dv = _call('out', c, K, us[-1], vs[-1], grad_plan.to(K.dtype))
        for k in range(us.shape[0] - 1, -1, -1):
            # u_k depends on v_k; v_k on u_{k-1} (u_0 = 0). v_L also feeds the output (dv).
            grad_K, dv_u = _call('gu', c, K, vs[k], du, grad_K)
            dv = dv + dv_u
            u_prev = us[k - 1] if k > 0 else torch.zeros_like(us[0])
            grad_K, du = _call('gv', c, K, u_prev, dv, grad_K)
            dv = torch.zeros_like(dv)  # v_{k-1} only feeds u_{k-1}
        return grad_K, None, None, None, None


def log_sinkhorn_plan(K: Tensor, a: Tensor, b: Tensor, num_iters: int,
                      compile: CompileFlag = 'auto') -> Tensor:
    """Plan from a log-kernel ``K = -C / eps`` [B, N, M] (may hold -inf) and marginals.

    Internal entry point shared by :func:`sinkhorn` and :func:`~mmfss.ot.partial_ot`; no
    validation. Zero masses give -inf potentials and exactly zero rows/columns.
    """
    use_compile = resolve_compile(compile, K)
    return _LogSinkhorn.apply(K, torch.log(a), torch.log(b), num_iters, use_compile)


def sinkhorn(cost: Tensor,
             a: Optional[Tensor] = None,
             b: Optional[Tensor] = None,
             eps: float = 0.1,
             num_iters: int = 10,
             compile: CompileFlag = 'auto') -> Tensor:
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
        compile (bool | str): Fused ``torch.compile`` steps: True, False or 'auto' (large
            problems only; see the module docstring).

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
        return log_sinkhorn_plan(cost / -eps, a, b, num_iters, compile)
