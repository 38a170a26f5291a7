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

The extension holds the passes compiled for several instruction sets (on x86-64 with GCC:
``'x86-64-v4'`` (AVX-512), ``'x86-64-v3'`` (AVX2 + FMA) and ``'baseline'``). Which one runs
is read at every call: :data:`ISA` if set, else the environment variable ``MMFSS_OT_ISA``,
else ``'auto'``, the best one the CPU runs. Naming one the CPU cannot run raises.

Reproducibility: for one instruction set, shape and dtype, each pass is a fixed sequence
of floating-point operations, so its results are bitwise identical from call to call,
whatever the number of threads and wherever the tensors lie in memory. Between
instruction sets they differ by rounding only (v3 and v4 fuse multiply-adds, the baseline
does not), as they do from the torch-op reference.
"""
import functools
import os
import re
from typing import List, Optional, Tuple

import torch
from torch import Tensor

try:  # built by setup.py (MMFSS_WITH_OPS=0 skips it); the torch passes stand in otherwise
    from . import _kernel_passes as _ext
except ImportError:  # pragma: no cover - depends on the install
    _ext = None

__all__ = [
    'BACKEND', 'ISA', 'extension_available', 'available_isas', 'selected_isa', 'describe',
    'row_blocks', 'exp_col_sums', 'row_pass', 'plan_pass',
    'grad_first_pass', 'grad_write_pass'
]

# 'auto': the C++ passes for contiguous float32/float64 CPU kernels when built; 'torch': never
BACKEND = 'auto'
# None: the environment variable MMFSS_OT_ISA, else 'auto' (the best the CPU runs); or one
# of available_isas(), e.g. 'baseline'. Read at every call.
ISA: Optional[str] = None
ISA_ENV = 'MMFSS_OT_ISA'
# bytes of one row block of the torch passes (stays in cache between two products)
_BLOCK_BYTES = 4 << 20


def extension_available() -> bool:
    """Whether the C++ passes were built (see ``setup.py``)."""
    return _ext is not None


@functools.lru_cache(maxsize=None)
def _isa_lists() -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
    if _ext is None:
        return (), ()
    names = tuple(_ext.isa_names())
    runnable = tuple(n for i, n in reversed(list(enumerate(names))) if _ext.cpu_runs(i))
    return names, runnable


def compiled_isas() -> List[str]:
    """The instruction sets the extension was compiled for ([] without the extension)."""
    return list(_isa_lists()[0])


def available_isas() -> List[str]:
    """The compiled instruction sets this CPU runs, best first."""
    return list(_isa_lists()[1])


def selected_isa() -> str:
    """The instruction set the extension's passes run with now: :data:`ISA`, else
    ``$MMFSS_OT_ISA``, else the best one the CPU runs (``'auto'``).

    Raises:
        ValueError: The name is not one of the compiled sets, or this CPU cannot run it.
        RuntimeError: The extension is not built.
    """
    if _ext is None:
        raise RuntimeError('mmfss.ot._kernel_passes is not built: no instruction set to run')
    name, source = (ISA, 'mmfss.ot.kernel_passes.ISA') if ISA is not None else (
        os.environ.get(ISA_ENV, 'auto'), ISA_ENV)
    runnable = available_isas()
    if name == 'auto':
        return runnable[0]
    if name not in compiled_isas():
        raise ValueError(f"{source}={name!r}: must be 'auto' or one of {compiled_isas()}")
    if name not in runnable:
        raise ValueError(f'{source}={name!r}: this CPU cannot run it (it runs {runnable})')
    return name


def _isa_index() -> int:
    return compiled_isas().index(selected_isa())


def cpu_flags() -> List[str]:
    """The x86 vector-extension flags of this CPU (from /proc/cpuinfo; [] elsewhere)."""
    try:
        with open('/proc/cpuinfo') as f:
            text = f.read()
    except OSError:
        return []
    match = re.search(r'^flags\s*:(.*)$', text, re.MULTILINE)
    flags = match.group(1).split() if match else []
    return sorted(f for f in flags if re.match(r'(avx|fma|sse4|f16c|bmi)', f))


def describe() -> str:
    """One line on where the passes run: CPU model and flags, the instruction sets compiled
    and runnable, and the one selected (for logs; see ``.ci/run``)."""
    model = ''
    try:
        with open('/proc/cpuinfo') as f:
            model = next((line.split(':', 1)[1].strip() for line in f
                          if line.startswith('model name')), '')
    except OSError:
        pass
    if _ext is None:
        ext = 'extension not built (torch-op passes)'
    else:
        try:
            chosen = selected_isa()
        except ValueError as err:
            chosen = f'invalid ({err})'
        source = ('ISA' if ISA is not None else
                  f'{ISA_ENV}={os.environ[ISA_ENV]}' if ISA_ENV in os.environ else 'auto')
        ext = (f'compiled {compiled_isas()}, runnable {available_isas()}, '
               f'selected {chosen} ({source})')
    return (f"mmfss.ot kernel passes: CPU '{model}' flags [{' '.join(cpu_flags())}]; {ext}; "
            f'{torch.get_num_threads()} threads')


def _use_extension(kernel: Tensor, grad: Optional[Tensor] = None) -> bool:
    if BACKEND not in ('auto', 'torch'):
        raise ValueError(f"mmfss.ot.kernel_passes.BACKEND must be 'auto' or 'torch', got "
                         f'{BACKEND!r}')
    # under torch.compile the torch path, which the compiler traces and fuses (the
    # extension's passes are opaque to it: each call would break the graph)
    return (BACKEND == 'auto' and _ext is not None and kernel.device.type == 'cpu'
            and not torch.compiler.is_compiling()
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
        return _ext.exp_pass(cost, float(scale), kernel, _isa_index())
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
                                  _vec(num, kernel), den, forward, _isa_index())
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
                              _vec(keep, kernel), plan, _isa_index())
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
                                       _vec(den, kernel), _isa_index())
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
                             _vec(left, kernel), _vec(right, kernel), float(scale),
                             _isa_index())
        return kernel
    grad = grad.to(kernel.dtype)
    for blk in row_blocks(kernel):
        acc = torch.mul(grad[:, blk], v_fin[:, None, :]).mul_(u_fin[:, blk, None])
        acc.baddbmm_(left[:, blk], right).mul_(scale)
        kernel[:, blk].mul_(acc)
    return kernel
