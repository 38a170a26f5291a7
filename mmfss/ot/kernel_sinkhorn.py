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

from . import kernel_passes as passes

__all__ = [
    'kernel_sinkhorn_scalings', 'kernel_sinkhorn_plan', 'KERNEL_MIN_EPS_PER_COST', 'DOMAINS',
    'use_kernel_domain'
]

# smallest eps / max cost for which exp(-C / eps) stays a normal float32 (exp(-80) ~ 1.8e-35)
KERNEL_MIN_EPS_PER_COST = 1.0 / 80.0
# the same bound in float64 (exp(-700) ~ 1e-304, above float64's smallest normal 2.2e-308)
KERNEL_MAX_SCALED_COST_FLOAT64 = 700.0

DOMAINS = ('auto', 'log', 'kernel')


def use_kernel_domain(domain: str, cost: Tensor, eps: float) -> bool:
    """Whether ``domain`` selects the kernel domain for ``cost`` and ``eps``.

    ``'log'`` and ``'kernel'`` are taken as given; ``'auto'`` selects the kernel domain when
    every ``exp(-C / eps)`` is a normal float: ``max|C| / eps <= 80`` in float32 (700 in
    float64). Reads ``max|C|`` once (one host sync, no N x M temporary).

    Raises:
        ValueError: ``domain`` is not one of :data:`DOMAINS`.
    """
    if domain not in DOMAINS:
        raise ValueError(f'domain must be one of {DOMAINS}, got {domain!r}')
    if domain != 'auto':
        return domain == 'kernel'
    if cost.numel() == 0:
        return False
    limit = (KERNEL_MAX_SCALED_COST_FLOAT64
             if cost.dtype == torch.float64 else 1.0 / KERNEL_MIN_EPS_PER_COST)
    low, high = torch.aminmax(cost.detach())
    return max(-float(low), float(high)) / eps <= limit


def _iterate(kernel: Tensor, a: Tensor, b: Tensor, num_iters: int):
    """The iterates: ``u_0 = 1``, then per iteration ``s = K^T u``, ``v = b / s``,
    ``r = K v``, ``u = a / r``. Returns the lists (u_0..u_L, v_1..v_L, r, s)."""
    us, vs, row_sums, col_sums = [torch.ones_like(a)], [], [], []
    kernel_t = kernel.transpose(1, 2)
    for _ in range(num_iters):
        col_sums.append(torch.bmm(kernel_t, us[-1]))
        vs.append(b / col_sums[-1])
        row_sums.append(torch.bmm(kernel, vs[-1]))
        us.append(a / row_sums[-1])
    return us, vs, row_sums, col_sums


class _Scalings(torch.autograd.Function):
    """The Sinkhorn scalings with one product for the kernel's gradient.

    Differentiated through its unrolled products, each ``K v`` and ``K^T u`` of the L
    iterations writes (and accumulates) its own [B, N, M] outer product into ``dK``: 2L
    full-kernel writes. Here the backward walks the iterations back on vectors only and
    forms ``dK = sum_l (g_l v_l^T + u_{l-1} h_l^T)`` as one product of the stacked factors
    ([B, N, 2LP] x [B, 2LP, M]). The forward runs the same products as the unrolled loop.
    """

    @staticmethod
    def forward(ctx, kernel: Tensor, a: Tensor, b: Tensor, num_iters: int):
        us, vs, row_sums, col_sums = _iterate(kernel, a, b, num_iters)
        ctx.num_iters = num_iters
        ctx.save_for_backward(kernel, a, b, *us, *vs, *row_sums, *col_sums)
        return us[-1], vs[-1]

    @staticmethod
    def backward(ctx, grad_u: Optional[Tensor], grad_v: Optional[Tensor]):
        n = ctx.num_iters
        kernel, a, b, *rest = ctx.saved_tensors
        us, vs = rest[:n + 1], rest[n + 1:2 * n + 1]
        row_sums, col_sums = rest[2 * n + 1:3 * n + 1], rest[3 * n + 1:]
        g_u = torch.zeros_like(a) if grad_u is None else grad_u
        g_v = grad_v
        grad_a, grad_b = torch.zeros_like(a), torch.zeros_like(b)
        left, right = [], []  # dK = sum of left_i right_i^T
        for i in reversed(range(n)):
            # u_{i+1} = a / r_i,  r_i = K v_i
            grad_a = grad_a + g_u / row_sums[i]
            g_r = -g_u * us[i + 1] / row_sums[i]
            left.append(g_r)
            right.append(vs[i])
            from_r = torch.bmm(kernel.transpose(1, 2), g_r)
            g_v = from_r if g_v is None else g_v + from_r
            # v_i = b / s_i,  s_i = K^T u_i
            grad_b = grad_b + g_v / col_sums[i]
            g_s = -g_v * vs[i] / col_sums[i]
            left.append(us[i])
            right.append(g_s)
            if i:  # u_0 = 1 is no input; v_i is read by r_i only
                g_u = torch.bmm(kernel, g_s)
                g_v = None
        grad_kernel = None
        if ctx.needs_input_grad[0]:
            grad_kernel = torch.bmm(torch.cat(left, dim=2),
                                    torch.cat(right, dim=2).transpose(1, 2))
        return (grad_kernel, grad_a if ctx.needs_input_grad[1] else None,
                grad_b if ctx.needs_input_grad[2] else None, None)


def kernel_sinkhorn_scalings(kernel: Tensor, a: Tensor, b: Tensor,
                             num_iters: int) -> Tuple[Tensor, Tensor]:
    """Sinkhorn scalings of P balanced problems that share one Gibbs kernel.

    Differentiable in ``kernel``, ``a`` and ``b``; the backward forms the kernel's gradient
    in one product (:class:`_Scalings`), equal to differentiating the unrolled iterations
    to float rounding, the forward identical to them.

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
    if torch.is_grad_enabled() and any(t.requires_grad for t in (kernel, a, b)):
        return _Scalings.apply(kernel, a, b, num_iters)
    us, vs, _, _ = _iterate(kernel, a, b, num_iters)
    return us[-1], vs[-1]


class _Dummies:
    """CMNet's dummy supplier (last row) and demander (last column) of the augmented
    kernel, kept implicit: K = 1 to and from them and 0 for the dummy-dummy pair, so
    ``K_aug [x; x_d] = [K x + x_d; sum(x)]`` and likewise for ``K_aug^T``. Without
    ``augment`` the vectors are the real ones and nothing is added."""

    def __init__(self, augment: bool, n: int, m: int):
        self.augment, self.n, self.m = augment, n, m

    def rows(self, x: Tensor) -> Tensor:
        return x[:, :self.n]

    def cols(self, x: Tensor) -> Tensor:
        return x[:, :self.m]

    def finish(self, real_part: Tensor, x_real: Tensor, x_dummy: Optional[Tensor]) -> Tensor:
        """``[real_part + x_dummy, sum(x_real)]`` (or ``real_part`` without dummies)."""
        if not self.augment:
            return real_part
        return torch.cat([real_part + x_dummy[:, None], x_real.sum(1, keepdim=True)], 1)


class _KernelSinkhorn(torch.autograd.Function):
    """Plan of the unrolled kernel-domain Sinkhorn on ``K = exp(scale * C)``; gradient
    w.r.t. C.

    With ``augment``, CMNet's dummy row and column are added implicitly (see
    :class:`_Dummies`) and the plan is the real block. Memory traffic is what costs on
    CPU, so each iteration is one pass over K (:mod:`mmfss.ot.kernel_passes`: the row
    update ``s = K v, u = a / s`` and the next column product ``K^T u`` of a row, or row
    block, while it is in cache), the exponential and the first column sums are one pass,
    and the plan is written in the last iteration's pass. Only two [B, N, M] tensors are
    allocated (K and the plan; first touching fresh memory costs several passes on CPU):
    backward writes the gradient into K's buffer once it has no further use for K (a
    second backward through the same graph, e.g. ``retain_graph=True``, rebuilds K from
    the saved cost with the forward's exponential: the same K bit for bit, hence the same
    gradient).

    Backward is the exact gradient of the L unrolled iterations from saved vectors: each
    iteration contributes two rank-one terms to dK (``ds_k v_k^T`` and ``u_{k-1} dr_k^T``),
    gathered into one low-rank product at the end, and its passes are fused in the same
    way (``K dr`` of a row, then ``K^T ds``), so its N x M work is one pass per
    iteration plus two over the incoming gradient, and its memory that of the incoming
    gradient whatever the number of iterations.
    """

    @staticmethod
    def forward(ctx, cost: Tensor, scale: float, a: Tensor, b: Tensor, num_iters: int,
                augment: bool, keep: Tensor) -> Tensor:
        bsz, n, m = cost.shape
        dummies = _Dummies(augment, n, m)
        kernel = torch.empty_like(cost, memory_format=torch.contiguous_format)
        plan = torch.empty_like(kernel)
        col_sums = passes.exp_col_sums(cost, scale, kernel)  # r_1 = K^T 1 with K's pass
        us, vs, rs, ss = [torch.ones_like(a)], [], [], []
        rs.append(dummies.finish(col_sums, dummies.rows(us[0]), us[0][:, n:].sum(1)))
        a_real = dummies.rows(a)
        for k in range(num_iters):
            vs.append(b / rs[-1])
            v_real = dummies.cols(vs[-1])
            v_dummy = vs[-1][:, m] if augment else v_real.new_zeros(bsz)
            if k == num_iters - 1:  # plan = u K v, written in the last iteration's pass
                s_real, u_real = passes.plan_pass(kernel, v_real, v_dummy, a_real, keep, plan)
            else:  # u = a / (K v) and the next column product K^T u, one pass
                s_real, u_real, col_sums = passes.row_pass(kernel, v_real, v_dummy, a_real,
                                                           None, forward=True)
            if augment:
                s_dummy = v_real.sum(1)
                ss.append(torch.cat([s_real, s_dummy[:, None]], 1))
                us.append(torch.cat([u_real, (a[:, n] / s_dummy)[:, None]], 1))
            else:
                ss.append(s_real)
                us.append(u_real)
            if k < num_iters - 1:
                rs.append(dummies.finish(col_sums, u_real, us[-1][:, n:].sum(1)))
        # K is kept on ctx (not saved) because backward turns its buffer into the gradient;
        # the cost is saved to rebuild K should the graph be backpropagated through again
        ctx.save_for_backward(cost, keep, torch.stack(us), torch.stack(vs), torch.stack(rs),
                              torch.stack(ss))
        ctx.kernel, ctx.scale, ctx.augment = kernel, scale, augment
        return plan

    @staticmethod
    def backward(ctx, grad_plan: Tensor):
        cost, keep, us, vs, rs, ss = ctx.saved_tensors
        kernel, ctx.kernel = ctx.kernel, None
        if kernel is None:  # a second backward (retain_graph=True): rebuild K by the
            # forward's own exponential, so that it is bitwise the K the forward used
            kernel = torch.empty_like(cost, memory_format=torch.contiguous_format)
            passes.exp_col_sums(cost, ctx.scale, kernel)
        bsz, n, m = kernel.shape
        augment = ctx.augment
        dummies = _Dummies(augment, n, m)
        num_iters = vs.shape[0]
        u_fin = dummies.rows(us[-1]) * keep[:, None]  # the plan's row factors
        v_fin = dummies.cols(vs[-1])
        lefts, rights = [], []

        def row_pass(k: int, dr: Optional[Tensor]):
            """One pass over K: ``du = K_aug dr`` (from the plan's gradient when ``dr`` is
            None), ``ds_k = -du u_{k+1} / s_k`` and ``dv_k = K_aug^T ds_k`` (+ the plan's
            direct term). Returns ds_k [B, N(+1)] and dv_k [B, M(+1)]."""
            u_next, s_k = dummies.rows(us[k + 1]), dummies.rows(ss[k])
            if dr is None:  # dT/du and dT/dv: sums of G * K weighted by v, u
                ds_real, col_sums = passes.grad_first_pass(kernel, grad_plan, u_fin, v_fin,
                                                           keep, u_next, s_k)
            else:
                dr_dummy = dr[:, m] if augment else dr.new_zeros(bsz)
                _, ds_real, col_sums = passes.row_pass(kernel, dummies.cols(dr), dr_dummy,
                                                       u_next, s_k, forward=False)
            if not augment:
                return ds_real, col_sums
            # the dummy row's u gets no gradient from the plan, only through K_aug dr
            if dr is None:
                ds_dummy = torch.zeros_like(ss[k][:, n])
            else:
                ds_dummy = -dummies.cols(dr).sum(1) * us[k + 1][:, n] / ss[k][:, n]
            ds = torch.cat([ds_real, ds_dummy[:, None]], 1)
            return ds, dummies.finish(col_sums, ds_real, ds_dummy)

        ds, dv = row_pass(num_iters - 1, None)
        for k in range(num_iters - 1, -1, -1):
            lefts.append(ds)
            rights.append(vs[k])
            dr = -dv * vs[k] / rs[k]  # v_k = b / r_k, r_k = K^T u_{k-1}
            lefts.append(us[k])
            rights.append(dr)
            if k > 0:  # u_0 = 1 is a constant: K dr is not needed for k = 0
                ds, dv = row_pass(k - 1, dr)
        # dC = scale * K * (G * u v^T + sum of the rank-one dK terms), real block only (the
        # dummies do not depend on C), written into K's buffer
        left = dummies.rows(torch.stack(lefts, 2))
        right = torch.stack(rights, 1)[:, :, :m]
        grad_cost = passes.grad_write_pass(kernel, grad_plan, u_fin, v_fin, left, right,
                                           ctx.scale)
        return grad_cost, None, None, None, None, None, None


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
