"""Partial optimal transport by CMNet's balanced reformulation (CMNet, Eq. 2-4)."""
from typing import Optional, Union

import torch
from torch import Tensor

from .kernel_sinkhorn import DOMAINS, kernel_sinkhorn_plan, use_kernel_domain
from .log_sinkhorn import log_sinkhorn_plan
from .precision import full_precision
from .validation import prepare_problem, total_masses, value_checks

__all__ = ['partial_ot', 'augmented_problem', 'use_kernel_domain', 'DOMAINS']


def augmented_marginals(a: Tensor, b: Tensor, mass: Tensor):
    """CMNet's extended masses (Eq. 3): ``[a, sum(b) - mass]`` and ``[b, sum(a) - mass]``."""
    a_ext = torch.cat([a, (b.sum(1) - mass).clamp_min(0).unsqueeze(1)], dim=1)
    b_ext = torch.cat([b, (a.sum(1) - mass).clamp_min(0).unsqueeze(1)], dim=1)
    return a_ext, b_ext


def augmented_problem(cost: Tensor, a: Tensor, b: Tensor, mass: Tensor, eps: float):
    """CMNet's balanced problem (Eq. 3) in log-kernel form.

    Args:
        cost (Tensor): [B, N, M] real costs.
        a (Tensor): [B, N] supplier masses. b (Tensor): [B, M] demander masses.
        mass (Tensor): [B] transported masses.
        eps (float): Entropic regularisation.

    Returns:
        tuple: ``K`` [B, N+1, M+1] (``-C/eps`` for real pairs, 0 to and from the dummies,
        ``-inf`` for the forbidden dummy-dummy pair), ``a_ext`` = [a, sum(b) - mass] and
        ``b_ext`` = [b, sum(a) - mass].
    """
    bsz, n, m = cost.shape
    a_ext, b_ext = augmented_marginals(a, b, mass)
    K = cost.new_zeros((bsz, n + 1, m + 1))
    K[:, :n, :m] = cost / -eps
    K[:, n, m] = float('-inf')
    return K, a_ext, b_ext


def partial_ot(cost: Tensor,
               a: Optional[Tensor],
               b: Optional[Tensor],
               mass: Union[float, Tensor],
               eps: float = 0.1,
               num_iters: int = 10,
               compile: Union[bool, str] = 'auto',
               domain: str = 'auto',
               check: bool = True) -> Tensor:
    """Entropic partial OT: move exactly ``mass`` between ``a`` and ``b``.

    CMNet (III.A, Eq. 3) turns the partial problem into a balanced one: a dummy supplier
    with mass ``sum(b) - mass`` and a dummy demander with mass ``sum(a) - mass`` are added,
    transport to and from the dummies costs 0, and dummy supplier -> dummy demander is
    forbidden (cost +inf, i.e. -inf in the log-domain kernel, not a large finite number).
    Both sides then total ``sum(a) + sum(b) - mass`` and balanced Sinkhorn solves it:
    :func:`~mmfss.ot.sinkhorn`'s iteration in the log domain or, for bounded costs, the
    same iterates in the kernel domain (``domain``), both with a memory-lean exact
    backward. The real
    block of the plan has total ``mass`` (up to the iterations' convergence), row sums
    ``<= a`` and column sums ``<= b``; for ``mass = 0`` it is exactly zero.

    Computed in float32 under any autocast (float64 costs in float64; the plan has that
    dtype); gradients flow to ``cost``; ``a``, ``b`` and
    ``mass`` are constants (in CMNet they come from masks).

    Args:
        cost (Tensor): [B, N, M] costs between real suppliers (rows) and demanders (columns).
        a (Tensor, optional): [B, N] supplier masses; uniform 1/N when None.
        b (Tensor, optional): [B, M] demander masses; uniform 1/M when None.
        mass (float | Tensor): Scalar or [B] masses with ``0 <= mass <= min(sum a, sum b)``.
        eps (float): Entropic regularisation (> 0).
        num_iters (int): Number of Sinkhorn iterations (>= 1).
        compile (bool | str): Fused ``torch.compile`` steps of the log domain: True, False
            or 'auto' (see :mod:`mmfss.ot.log_sinkhorn`).
        domain (str): ``'log'`` (log-domain Sinkhorn), ``'kernel'`` (the same iterates on
            ``exp(-C/eps)``, :func:`~mmfss.ot.kernel_sinkhorn_plan`: each update one
            matrix-vector product instead of a log-sum-exp pass, several times faster on
            CPU; the forbidden pair is an exact 0) or ``'auto'`` (default): kernel when
            ``max|C| / eps <= 80`` (float32; 700 in float64), i.e. when every kernel entry
            is a normal float, else log. 'auto' reads ``max|C|`` once (one host sync).
        check (bool): Check the values of ``a``, ``b`` and ``mass`` (host syncs); the
            necks pass False (see :mod:`mmfss.ot.validation`).

    Returns:
        Tensor: [B, N, M] plan between the real nodes (float32, float64 for float64 costs).
    """
    with full_precision(cost.device):
        cost, a, b = prepare_problem(cost, a, b, eps, num_iters, check)
        bsz, n, m = cost.shape
        sa, sb = total_masses(a, b, check_equal=False, check=check)
        mass = torch.as_tensor(mass, dtype=cost.dtype, device=cost.device).detach()
        if mass.dim() == 0:
            mass = mass.expand(bsz)
        if tuple(mass.shape) != (bsz, ):
            raise ValueError(f'mass must be a scalar or have shape [B] = [{bsz}], got '
                             f'{tuple(mass.shape)}')
        limit = torch.minimum(sa, sb)
        tol = 1e-6 * torch.maximum(sa, sb)
        if value_checks(check) and (bool((mass < 0).any())
                                    or bool((mass > limit + tol).any())):
            raise ValueError(f'mass must satisfy 0 <= mass <= min(sum a, sum b); got mass '
                             f'{mass.tolist()} with min(sum a, sum b) = {limit.tolist()}')
        mass = torch.minimum(mass, limit)
        keep = (mass > 0).to(cost.dtype)
        if use_kernel_domain(domain, cost, eps):
            a_ext, b_ext = augmented_marginals(a, b, mass)
            return kernel_sinkhorn_plan(cost, -1.0 / eps, a_ext, b_ext, num_iters,
                                        augment=True, keep=keep)
        K, a_ext, b_ext = augmented_problem(cost, a, b, mass, eps)
        plan = log_sinkhorn_plan(K, 1.0, a_ext, b_ext, num_iters, compile)[:, :n, :m]
        # mass = 0 admits only the zero plan, which Sinkhorn approaches only sublinearly (the
        # solution sits on the boundary): return it exactly (a mask, no host sync).
        return plan * keep[:, None, None]
