"""Sinkhorn-Knopp scalings in the kernel domain, for several problems sharing one kernel.

When the costs are bounded (e.g. squared distances of unit vectors, ``C`` in [0, 4]) and
``eps`` is not tiny, ``K = exp(-C / eps)`` is representable in float32 (``exp(-4 / 0.05)``
is 1.8e-35, above float32's smallest normal number 1.2e-38) and the classic
multiplicative iteration is exact::

    u_0 = 1;  for k in 1..L:  v_k = b / (K^T u_{k-1}),  u_k = a / (K v_k)
    T = diag(u_L) K diag(v_L)

It is the same iteration as :func:`mmfss.ot.sinkhorn` (POT's update order, v then u; the
log-domain potentials are ``eps * log u`` and ``eps * log v``), but each update is one
matrix-vector product over K instead of a log-sum-exp pass, problems that share K (e.g.
one query against the same support nodes with different support masses) are solved
together by one matrix product per update, and the plan never has to be formed: a
transported quantity ``T X = u * (K (v * X))`` is one product with K. Gradients are plain
autograd (K is kept once; the iterations keep vectors only).

Use the log-domain :func:`mmfss.ot.sinkhorn` for unbounded costs or small ``eps``.
"""
from typing import Tuple

import torch
from torch import Tensor

__all__ = ['kernel_sinkhorn_scalings', 'KERNEL_MIN_EPS_PER_COST']

# smallest eps / max cost for which exp(-C / eps) stays a normal float32 (exp(-80) ~ 1.8e-35)
KERNEL_MIN_EPS_PER_COST = 1.0 / 80.0


def kernel_sinkhorn_scalings(kernel: Tensor, a: Tensor, b: Tensor,
                             num_iters: int) -> Tuple[Tensor, Tensor]:
    """Sinkhorn scalings of P balanced problems that share one Gibbs kernel.

    Args:
        kernel (Tensor): [B, N, M] positive kernel ``exp(-C / eps)``.
        a (Tensor): [B, N, P] source masses of each problem (columns sum like ``b``'s).
        b (Tensor): [B, M, P] target masses (zero entries allowed).
        num_iters (int): Iterations L (>= 1), each a v update then a u update.

    Returns:
        tuple[Tensor, Tensor]: ``u`` [B, N, P] and ``v`` [B, M, P]; the plan of problem p is
        ``u[..., p, None] * kernel * v[..., None, p]``; its rows sum exactly to ``a``.
    """
    if kernel.dim() != 3:
        raise ValueError(f'kernel must be [B, N, M], got {tuple(kernel.shape)}')
    bsz, n, m = kernel.shape
    if a.shape[:2] != (bsz, n) or b.shape[:2] != (bsz, m) or a.shape[2] != b.shape[2]:
        raise ValueError(f'a {tuple(a.shape)} and b {tuple(b.shape)} must be [B, N, P] and '
                         f'[B, M, P] for a kernel {tuple(kernel.shape)}')
    if not (isinstance(num_iters, int) and num_iters >= 1):
        raise ValueError(f'num_iters must be an int >= 1, got {num_iters!r}')
    u = torch.ones_like(a)
    kernel_t = kernel.transpose(1, 2)
    for _ in range(num_iters):
        v = b / torch.bmm(kernel_t, u)
        u = a / torch.bmm(kernel, v)
    return u, v
