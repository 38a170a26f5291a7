"""The N x M passes of the kernel-domain Sinkhorn (:mod:`mmfss.ot.kernel_sinkhorn`).

Every iteration of the kernel-domain Sinkhorn and every step of its backward is one pass
over the Gibbs kernel ``K`` [B, N, M] that, row by row, takes the row's product with a
vector, derives a scaling from it and adds the scaled row to a product with ``K^T``.
Memory traffic is what costs, so a pass should read K once. Two implementations:

* a C++ extension (``mmfss/ot/csrc/kernel_passes.cpp``, built by ``setup.py``) that does
  each pass row by row while the row is in L1, at close to the copy bandwidth on CPU;
* torch ops over row blocks of about ``_BLOCK_BYTES`` (two matrix-vector products per
  block, the second while the block is still in cache): the reference, used on other
  devices, for other dtypes, or when the extension is not built.

:data:`BACKEND` selects them: ``'auto'`` (the extension where it applies) or ``'torch'``.
Both compute the same quantities; their results differ by rounding only (summation order).
"""
from typing import Optional, Tuple

import torch
from torch import Tensor

try:  # built by setup.py (MMFSS_WITH_OPS=0 skips it); the torch passes stand in otherwise
    from . import _kernel_passes as _ext
except ImportError:  # pragma: no cover - depends on the install
    _ext = None

__all__ = [
    'BACKEND', 'extension_available', 'row_blocks', 'exp_col_sums', 'row_pass', 'plan_pass',
    'grad_first_pass', 'grad_write_pass'
]

# 'auto': the C++ passes for contiguous float32/float64 CPU kernels when built; 'torch': never
BACKEND = 'auto'
# bytes of one row block of the torch passes (stays in cache between two products)
_BLOCK_BYTES = 4 << 20


def extension_available() -> bool:
    """Whether the C++ passes were built (see ``setup.py``)."""
    return _ext is not None


def _use_extension(kernel: Tensor, grad: Optional[Tensor] = None) -> bool:
    if BACKEND not in ('auto', 'torch'):
        raise ValueError(f"mmfss.ot.kernel_passes.BACKEND must be 'auto' or 'torch', got "
                         f'{BACKEND!r}')
    return (BACKEND == 'auto' and _ext is not None and kernel.device.type == 'cpu'
            and kernel.dtype in (torch.float32, torch.float64) and kernel.is_contiguous()
            and (grad is None or (grad.dtype == kernel.dtype and grad.device.type == 'cpu'
                                  and grad.stride(-1) == 1)))


def row_blocks(like: Tensor) -> list:
    """Row slices of a [B, N, M] tensor whose blocks ([B, rows, M]) take about
    ``_BLOCK_BYTES`` on CPU: a block read for one product is still in cache for the next.
    On other devices one block (a kernel launch per block would cost more than it saves)."""
    bsz, n, m = like.shape
    if like.device.type != 'cpu':
        return [slice(0, n)]
    rows = max(1, _BLOCK_BYTES // max(1, bsz * m * like.element_size()))
    return [slice(start, min(start + rows, n)) for start in range(0, n, rows)]


def _rowvec_times(x: Tensor, mat: Tensor) -> Tensor:
    """``x^T mat`` [B, M] for x [B, R] and mat [B, R, M] (a row-vector product streams
    ``mat`` once; ``mat v`` is taken as ``v^T mat^T``, faster on CPU than a batched
    column product)."""
    return torch.bmm(x[:, None, :], mat)[:, 0]


def _vec(x: Tensor, like: Tensor) -> Tensor:
    return x.to(like.dtype).contiguous()


def exp_col_sums(cost: Tensor, scale: float, kernel: Tensor) -> Tensor:
    """Write ``K = exp(scale * C)`` into ``kernel`` and return its column sums ``K^T 1``
    [B, M], in one pass. The extension's exponential is Cephes' method (within an ulp or
    two of torch's; the library's exp where ``2^n`` would not be a normal number)."""
    if _use_extension(kernel, cost):
        return _ext.exp_pass(cost, float(scale), kernel)
    col = cost.new_zeros(cost.shape[0], cost.shape[2])
    for blk in row_blocks(cost):
        torch.mul(cost[:, blk], scale, out=kernel[:, blk]).exp_()
        col += kernel[:, blk].sum(1)
    return col


def row_pass(kernel: Tensor, x: Tensor, c: Tensor, num: Tensor, den: Optional[Tensor],
             forward: bool) -> Tuple[Tensor, Tensor, Tensor]:
    """One pass: ``s = K x + c``, ``w = num / s`` (``forward``: the u update
    ``u = a / (K v)``) or ``w = -s * num / den`` (backward: ``ds = -du * u / s``), and
    ``K^T w``.

    Args:
        kernel (Tensor): [B, N, M]. x (Tensor): [B, M]. c (Tensor): [B] added to every s.
        num (Tensor): [B, N]. den (Tensor, optional): [B, N] (backward only).
        forward (bool): Which scaling.

    Returns:
        tuple[Tensor, Tensor, Tensor]: s [B, N], w [B, N] and ``K^T w`` [B, M].
    """
    if _use_extension(kernel):
        den = _vec(den, kernel) if den is not None else kernel.new_empty(0)
        s, w, col = _ext.row_pass(kernel, _vec(x, kernel), _vec(c, kernel),
                                  _vec(num, kernel), den, forward)
        return s, w, col
    bsz, n, m = kernel.shape
    s, w, col = kernel.new_empty(bsz, n), kernel.new_empty(bsz, n), kernel.new_zeros(bsz, m)
    for blk in row_blocks(kernel):
        kb = kernel[:, blk]
        s_blk = torch.add(_rowvec_times(x, kb.mT), c[:, None], out=s[:, blk])
        if forward:
            w_blk = torch.div(num[:, blk], s_blk, out=w[:, blk])
        else:
            w_blk = torch.mul(s_blk, num[:, blk], out=w[:, blk]).div_(den[:, blk]).neg_()
        col[:, None].baddbmm_(w_blk[:, None, :], kb)
    return s, w, col


def plan_pass(kernel: Tensor, v: Tensor, c: Tensor, num: Tensor, keep: Tensor,
              plan: Tensor) -> Tuple[Tensor, Tensor]:
    """The last forward iteration's pass: ``s = K v + c``, ``u = num / s`` and the plan
    ``diag(u * keep) K diag(v)`` written into ``plan`` [B, N, M].

    Returns:
        tuple[Tensor, Tensor]: s [B, N] and u [B, N].
    """
    if _use_extension(kernel):
        s, u = _ext.plan_pass(kernel, _vec(v, kernel), _vec(c, kernel), _vec(num, kernel),
                              _vec(keep, kernel), plan)
        return s, u
    bsz, n, _ = kernel.shape
    s, u = kernel.new_empty(bsz, n), kernel.new_empty(bsz, n)
    for blk in row_blocks(kernel):
        kb = kernel[:, blk]
        s_blk = torch.add(_rowvec_times(v, kb.mT), c[:, None], out=s[:, blk])
        u_blk = torch.div(num[:, blk], s_blk, out=u[:, blk])
        torch.mul(kb, (u_blk * keep[:, None])[:, :, None], out=plan[:, blk]).mul_(v[:, None, :])
    return s, u


def grad_first_pass(kernel: Tensor, grad: Tensor, u_fin: Tensor, v_fin: Tensor, keep: Tensor,
                    num: Tensor, den: Tensor) -> Tuple[Tensor, Tensor]:
    """First backward pass, from the plan's gradient G [B, N, M] (plan = u_fin K v_fin):
    ``du = keep * (G * K) v_fin``, ``ds = -du * num / den`` and
    ``(G * K)^T u_fin + K^T ds``.

    Returns:
        tuple[Tensor, Tensor]: ds [B, N] and the column term [B, M].
    """
    if _use_extension(kernel, grad):
        ds, col = _ext.grad_first_pass(kernel, grad, _vec(u_fin, kernel), _vec(v_fin, kernel),
                                       _vec(keep, kernel), _vec(num, kernel),
                                       _vec(den, kernel))
        return ds, col
    bsz, n, m = kernel.shape
    grad = grad.to(kernel.dtype)
    ds, col = kernel.new_empty(bsz, n), kernel.new_zeros(bsz, m)
    for blk in row_blocks(kernel):
        kb = kernel[:, blk]
        gk = grad[:, blk] * kb
        du_blk = _rowvec_times(v_fin, gk.mT) * keep[:, None]
        col[:, None].baddbmm_(u_fin[:, None, blk], gk)
        ds_blk = torch.mul(du_blk, num[:, blk], out=ds[:, blk]).div_(den[:, blk]).neg_()
        col[:, None].baddbmm_(ds_blk[:, None, :], kb)
    return ds, col


def grad_write_pass(kernel: Tensor, grad: Tensor, u_fin: Tensor, v_fin: Tensor, left: Tensor,
                    right: Tensor, scale: float) -> Tensor:
    """``K <- scale * K * (G * u_fin v_fin^T + left @ right)`` in place (the gradient of
    the cost, written into K's buffer).

    Args:
        left (Tensor): [B, N, R]. right (Tensor): [B, R, M].

    Returns:
        Tensor: ``kernel``, now holding the result.
    """
    if _use_extension(kernel, grad):
        _ext.grad_write_pass(kernel, grad, _vec(u_fin, kernel), _vec(v_fin, kernel),
                             _vec(left, kernel), _vec(right, kernel), float(scale))
        return kernel
    grad = grad.to(kernel.dtype)
    for blk in row_blocks(kernel):
        acc = torch.mul(grad[:, blk], v_fin[:, None, :]).mul_(u_fin[:, blk, None])
        acc.baddbmm_(left[:, blk], right).mul_(scale)
        kernel[:, blk].mul_(acc)
    return kernel
