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
from typing import Optional, Tuple

import torch
from torch import Tensor

__all__ = ['kernel_sinkhorn_scalings', 'kernel_sinkhorn_plan', 'KERNEL_MIN_EPS_PER_COST']

# elements of the temporary low-rank block of backward (4 MB in float32: reused by malloc)
_BLOCK_ELEMENTS = 1 << 20
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


# --------------------------------------------------------------------------- plan + backward
def _kv(kernel: Tensor, x: Tensor) -> Tensor:
    """``K x`` [B, N] for K [B, N, M], x [B, M] (matrix-vector products per batch element:
    BLAS gemv streams K once, several times faster than a batched matrix product here)."""
    return torch.stack([torch.mv(k, v) for k, v in zip(kernel, x)])


def _ktx(kernel: Tensor, x: Tensor) -> Tensor:
    """``K^T x`` [B, M] for x [B, N], as the row-vector product ``x^T K`` (streams K once)."""
    return torch.bmm(x[:, None, :], kernel)[:, 0]


class _KernelSinkhorn(torch.autograd.Function):
    """Plan of the unrolled kernel-domain Sinkhorn on ``K = exp(scale * C)``; gradient
    w.r.t. C.

    With ``augment``, K gets CMNet's dummy row and column (K = 1 to and from the dummies,
    K = 0 for the forbidden dummy-dummy pair) and the plan returned is the real block. Every
    [B, N, M] tensor is allocated once (K, the plan; in backward G * T, which becomes the gradient) and
    the other passes work in place (backward adds the low-rank term by row blocks): on CPU,
    allocating and first touching a large tensor costs several elementwise passes.

    Backward is the exact gradient of the L unrolled iterations from saved vectors: each
    iteration contributes two rank-one terms to dK (``ds_k v_k^T`` and ``u_{k-1} dr_k^T``),
    gathered into one low-rank product at the end, so the N x M work of backward is two
    matrix-vector products per iteration plus a few elementwise passes, and its memory a
    few N x M tensors whatever the number of iterations.
    """

    @staticmethod
    def forward(ctx, cost: Tensor, scale: float, a: Tensor, b: Tensor, num_iters: int,
                augment: bool, keep: Tensor) -> Tensor:
        bsz, n, m = cost.shape
        if augment:
            kernel = cost.new_empty((bsz, n + 1, m + 1))
            torch.mul(cost, scale, out=kernel[:, :n, :m]).exp_()
            kernel[:, n, :] = 1.0
            kernel[:, :, m] = 1.0
            kernel[:, n, m] = 0.0  # forbidden: exp(-inf)
        else:
            kernel = torch.mul(cost, scale).exp_()
        us, vs, rs, ss = [torch.ones_like(a)], [], [], []
        for _ in range(num_iters):
            rs.append(_ktx(kernel, us[-1]))
            vs.append(b / rs[-1])
            ss.append(_kv(kernel, vs[-1]))
            us.append(a / ss[-1])
        u_out = us[-1][:, :n] * keep[:, None]
        plan = torch.mul(kernel[:, :n, :m], u_out[:, :, None]).mul_(vs[-1][:, None, :m])
        ctx.save_for_backward(kernel, plan, torch.stack(us), torch.stack(vs),
                              torch.stack(rs), torch.stack(ss))
        ctx.scale = scale
        return plan

    @staticmethod
    def backward(ctx, grad_plan: Tensor):
        kernel, plan, us, vs, rs, ss = ctx.saved_tensors
        n, m = plan.shape[1:]
        num_iters = vs.shape[0]
        gt = grad_plan.to(plan.dtype) * plan  # dlogK of the direct term: G * T
        u_last, v_last = us[-1][:, :n], vs[-1][:, :m]
        du, dv = torch.zeros_like(us[-1]), torch.zeros_like(vs[-1])
        # dT/du_i = sum_j G_ij K_ij v_j = (G * T)_i. / u_i (0 where u_i = 0: a_i = 0 there,
        # so the u update passes no gradient on; likewise for v)
        du[:, :n] = torch.where(u_last > 0, gt.sum(2) / torch.where(u_last > 0, u_last, 1), 0)
        dv[:, :m] = torch.where(v_last > 0, gt.sum(1) / torch.where(v_last > 0, v_last, 1), 0)
        left, right = [], []
        for k in range(num_iters - 1, -1, -1):
            ds = -du * us[k + 1] / ss[k]  # u_k = a / s_k, s_k = K v_k
            dv = dv + _ktx(kernel, ds)
            left.append(ds)
            right.append(vs[k])
            dr = -dv * vs[k] / rs[k]  # v_k = b / r_k, r_k = K^T u_{k-1}
            du = _kv(kernel, dr)
            left.append(us[k])
            right.append(dr)
            dv = torch.zeros_like(dv)  # v_{k-1} only feeds u_{k-1}
        # dC = scale * (G * T + K * sum of the rank-one dK terms), real block only (the
        # dummies do not depend on C), accumulated into gt by row blocks so that the
        # low-rank product never needs a second [B, N, M] buffer
        left, right = torch.stack(left, 2)[:, :n], torch.stack(right, 1)[:, :, :m]
        rows = max(1, _BLOCK_ELEMENTS // max(1, gt.shape[0] * m))
        for start in range(0, n, rows):
            block = slice(start, min(start + rows, n))
            gt[:, block].addcmul_(torch.bmm(left[:, block], right), kernel[:, block, :m])
        return gt.mul_(ctx.scale), None, None, None, None, None, None


def kernel_sinkhorn_plan(cost: Tensor, scale: float, a: Tensor, b: Tensor, num_iters: int,
                         augment: bool = False, keep: Optional[Tensor] = None) -> Tensor:
    """Plan of the kernel-domain Sinkhorn for costs [B, N, M] and ``K = exp(scale * C)``.

    The iterates are those of :func:`mmfss.ot.log_sinkhorn_plan` (v then u, ``num_iters``
    times). Valid while every ``exp(scale * C)`` is a normal float (``|scale * C| <= 80``
    in float32), which the caller checks. The gradient (exact, unrolled) is w.r.t. ``cost``;
    a and b are constants.

    Args:
        cost (Tensor): [B, N, M] costs.
        scale (float): ``-1 / eps``.
        a (Tensor), b (Tensor): [B, N] and [B, M] marginals; with ``augment``, [B, N + 1]
            and [B, M + 1] (the dummies' masses last).
        num_iters (int): Iterations.
        augment (bool): Add CMNet's dummy supplier and demander (cost 0 to and from them,
            the dummy-dummy pair forbidden: K = 0 exactly) and return the real block.
        keep (Tensor, optional): [B] factors of each plan (e.g. 0 where nothing is moved).

    Returns:
        Tensor: [B, N, M] plans.
    """
    if keep is None:
        keep = cost.new_ones(cost.shape[0])
    return _KernelSinkhorn.apply(cost, scale, a, b, num_iters, augment, keep.to(cost.dtype))
