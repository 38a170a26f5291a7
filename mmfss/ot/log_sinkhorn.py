"""Batched, differentiable log-domain Sinkhorn with O(N x M) backward memory.

The iteration is POT's ``sinkhorn_log`` (Cuturi 2013 in the log domain), batched::

    K = -C / eps,  u_0 = 0,  v_0 = 0
    for k in 1..L:  v_k = log b - logsumexp_i(K_ij + u_{k-1,i})
                    u_k = log a - logsumexp_j(K_ij + v_{k,j})
    T = exp(K + u_L 1^T + 1 v_L^T)

with a fixed number of iterations L and no host synchronisation inside the loop.

Backward is the exact gradient of these L unrolled iterations (what autograd would give),
but computed by :class:`_LogSinkhorn` from saved vectors only (each iteration's two
log-sum-exps, L x (N + M) numbers): each iteration's row/column softmax is recomputed from
the cost when it is needed, and the gradient is accumulated in place, so peak memory holds a
few N x M tensors (the cost, the plan, its gradient), not one or more per iteration, and no
separate copy of the kernel is kept.

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

from .kernel_sinkhorn import kernel_sinkhorn_plan, use_kernel_domain
from .precision import full_precision
from .validation import prepare_problem, total_masses

__all__ = ['sinkhorn', 'log_sinkhorn_plan', 'COMPILE_MIN_ELEMENTS']

COMPILE_MIN_ELEMENTS = 1 << 20
CompileFlag = Union[bool, str]


# --------------------------------------------------------------------------- steps
# The kernel is ``K = C * scale`` (scale = -1/eps), formed inside each step so that no
# separate N x M copy of it is kept. ``lu``/``lv`` are the log-sum-exps of the u/v updates
# (always finite, unlike potentials of zero-mass nodes): u = log a - lu, v = log b - lv, so
# the softmax an update differentiates to is exp(K + v - lu) (rows) or exp(K + u - lv)
# (columns), with no reduction to recompute.
def _lse_v(C: Tensor, scale: Tensor, u: Tensor) -> Tensor:
    """lv = logsumexp_i(K + u): [B, M]."""
    return torch.logsumexp(C * scale + u.unsqueeze(2), dim=1)


def _lse_u(C: Tensor, scale: Tensor, v: Tensor) -> Tensor:
    """lu = logsumexp_j(K + v): [B, N]."""
    return torch.logsumexp(C * scale + v.unsqueeze(1), dim=2)


def _plan(C: Tensor, scale: Tensor, u: Tensor, v: Tensor) -> Tensor:
    return torch.exp(C * scale + u.unsqueeze(2) + v.unsqueeze(1))


def _grad_output(C: Tensor, scale: Tensor, u: Tensor, v: Tensor, grad_plan: Tensor):
    """T = exp(K + u + v): dK = G * T, du = rowsum(G * T), dv = colsum(G * T)."""
    grad_K = grad_plan * torch.exp(C * scale + u.unsqueeze(2) + v.unsqueeze(1))
    return grad_K, grad_K.sum(2), grad_K.sum(1)


def _grad_u_update(C: Tensor, scale: Tensor, v: Tensor, lu: Tensor, du: Tensor,
                   grad_K: Tensor) -> None:
    """Back through u = log a - LSE_j(K + v), K part: dK -= du_i Q_ij (in place)."""
    grad_K.sub_(torch.exp(C * scale + v.unsqueeze(1) - lu.unsqueeze(2)) * du.unsqueeze(2))


def _grad_u_dv(C: Tensor, scale: Tensor, v: Tensor, lu: Tensor, du: Tensor) -> Tensor:
    """Back through u = log a - LSE_j(K + v), v part: dv = -sum_i du_i Q_ij."""
    return -(torch.exp(C * scale + v.unsqueeze(1) - lu.unsqueeze(2)) * du.unsqueeze(2)).sum(1)


def _grad_v_step(C: Tensor, scale: Tensor, u: Tensor, lv: Tensor, dv: Tensor,
                 grad_K: Tensor) -> Tensor:
    """Back through v = log b - LSE_i(K + u): dK -= R dv (in place), return du = -R dv."""
    r = torch.exp(C * scale + u.unsqueeze(2) - lv.unsqueeze(1)) * dv.unsqueeze(1)
    grad_K.sub_(r)
    return -r.sum(2)


_EAGER: Dict[str, Callable] = dict(lv=_lse_v, lu=_lse_u, plan=_plan, out=_grad_output,
                                   gu=_grad_u_update, gu_dv=_grad_u_dv, gv=_grad_v_step)
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
def _iterate(C: Tensor, scale: Tensor, loga: Tensor, logb: Tensor, num_iters: int,
             use_compile: bool) -> Tuple[Tensor, Tensor]:
    """Run the iterations; return every iteration's log-sum-exps, [L, B, N] / [L, B, M]."""
    b, n, m = C.shape
    lus = C.new_empty((num_iters, b, n))
    lvs = C.new_empty((num_iters, b, m))
    u = C.new_zeros((b, n))
    for k in range(num_iters):
        lvs[k] = _call('lv', use_compile, C, scale, u)
        lus[k] = _call('lu', use_compile, C, scale, logb - lvs[k])
        u = loga - lus[k]
    return lus, lvs


class _LogSinkhorn(torch.autograd.Function):
    """Plan of the unrolled log-domain Sinkhorn on ``K = C * scale``; gradient w.r.t. C."""

    @staticmethod
    def forward(ctx, C: Tensor, scale: Tensor, loga: Tensor, logb: Tensor, num_iters: int,
                use_compile: bool) -> Tensor:
        lus, lvs = _iterate(C, scale, loga, logb, num_iters, use_compile)
        ctx.save_for_backward(C, loga, logb, lus, lvs)
        ctx.scale, ctx.use_compile = scale, use_compile
        return _call('plan', use_compile, C, scale, loga - lus[-1], logb - lvs[-1])

    @staticmethod
    def backward(ctx, grad_plan: Tensor):
        C, loga, logb, lus, lvs = ctx.saved_tensors
        s, c = ctx.scale, ctx.use_compile
        grad_K, du, dv = _call('out', c, C, s, loga - lus[-1], logb - lvs[-1],
                               grad_plan.to(C.dtype))
        for k in range(lus.shape[0] - 1, -1, -1):
            # u_k depends on v_k; v_k on u_{k-1} (u_0 = 0); v_L also feeds the output (dv).
            v = logb - lvs[k]
            _call('gu', c, C, s, v, lus[k], du, grad_K)
            dv = dv + _call('gu_dv', c, C, s, v, lus[k], du)
            u_prev = loga - lus[k - 1] if k > 0 else torch.zeros_like(loga)
            du = _call('gv', c, C, s, u_prev, lvs[k], dv, grad_K)
            dv = torch.zeros_like(dv)  # v_{k-1} only feeds u_{k-1}
        return grad_K.mul_(s), None, None, None, None, None


def log_sinkhorn_plan(C: Tensor, scale: float, a: Tensor, b: Tensor, num_iters: int,
                      compile: CompileFlag = 'auto') -> Tensor:
    """Plan for the log-kernel ``K = C * scale`` [B, N, M] (may hold -inf) and marginals.

    Internal entry point shared by :func:`sinkhorn` (``scale = -1/eps``) and
    :func:`~mmfss.ot.partial_ot` (an augmented kernel, ``scale = 1``); no validation. Zero
    masses give exactly zero rows/columns. The gradient is w.r.t. ``C``.
    """
    use_compile = resolve_compile(compile, C)
    # a 0-d tensor, so that compiled steps are not specialised (recompiled) per eps value
    scale = torch.tensor(float(scale), dtype=C.dtype, device=C.device)
    return _LogSinkhorn.apply(C, scale, torch.log(a), torch.log(b), num_iters, use_compile)


def sinkhorn(cost: Tensor,
             a: Optional[Tensor] = None,
             b: Optional[Tensor] = None,
             eps: float = 0.1,
             num_iters: int = 10,
             compile: CompileFlag = 'auto',
             domain: str = 'auto',
             check: bool = True) -> Tensor:
    """Entropic optimal transport plan by batched Sinkhorn (log or kernel domain).

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
        compile (bool | str): Fused ``torch.compile`` steps of the log domain: True, False
            or 'auto' (large problems only; see the module docstring).
        domain (str): ``'log'`` (the log-sum-exp iteration above), ``'kernel'`` (the same
            iterates on ``K = exp(-C/eps)``, :func:`~mmfss.ot.kernel_sinkhorn_plan`: each
            update is one pass over K, several times faster on CPU) or ``'auto'``
            (default): kernel when every ``exp(-C/eps)`` is a normal float
            (``max|C| / eps <= 80`` in float32, 700 in float64), else log. The two agree
            to rounding. 'auto' reads ``max|C|`` (one host sync); a caller that knows its
            costs' range passes the domain.
        check (bool): Check the masses' values (non-negative, equal positive totals);
            each check reads the device (a host sync). The necks build their masses and
            pass False; ``MMFSS_DEBUG_CHECKS=1`` forces the checks
            (:func:`mmfss.ot.validation.value_checks`).

    Returns:
        Tensor: [B, N, M] transport plans (float32, or float64 for float64 costs).
    """
    with full_precision(cost.device):
        cost, a, b = prepare_problem(cost, a, b, eps, num_iters, check)
        total_masses(a, b, check_equal=True, check=check)
        if use_kernel_domain(domain, cost, eps):
            return kernel_sinkhorn_plan(cost, -1.0 / eps, a, b, num_iters)
        return log_sinkhorn_plan(cost, -1.0 / eps, a, b, num_iters, compile)
