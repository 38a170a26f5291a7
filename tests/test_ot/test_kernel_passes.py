"""The C++ passes of the kernel-domain Sinkhorn against their torch reference."""
from unittest import mock

import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mmfss.ot import kernel_passes

TOL = {torch.float64: dict(rtol=1e-12, atol=1e-14), torch.float32: dict(rtol=2e-5, atol=1e-6)}


def test_extension_is_built():
    """`make install` (setup.py) builds the extension; without it the torch passes run."""
    assert kernel_passes.extension_available(), (
        'mmfss.ot._kernel_passes is missing: reinstall mmfss without build isolation '
        '(bash tools/install_env.sh) or check the compiler output of setup.py')


def _both(fn, *args):
    """``fn(*args)`` with the extension and with the torch passes (fresh copies of the
    arguments: some passes write into them)."""
    results = []
    for backend in ('auto', 'torch'):
        copies = [x.clone() if isinstance(x, torch.Tensor) else x for x in args]
        with mock.patch.object(kernel_passes, 'BACKEND', backend):
            out = fn(*copies)
        results.append((out, copies))
    return results


def _assert_all_close(first, second, dtype):
    if isinstance(first, torch.Tensor):
        torch.testing.assert_close(first, second, **TOL[dtype])
    else:
        assert len(first) == len(second)
        for x, y in zip(first, second):
            _assert_all_close(x, y, dtype)


shapes = dict(bsz=st.integers(1, 3), n=st.integers(1, 9), m=st.integers(1, 80),
              double=st.booleans(), seed=st.integers(0, 2**16))


def _inputs(bsz, n, m, double, seed):
    g = torch.Generator().manual_seed(seed)
    dtype = torch.float64 if double else torch.float32

    def rand(*shape, low=0.1):
        return torch.rand(*shape, generator=g, dtype=torch.float64).add_(low).to(dtype)

    return dtype, rand, rand(bsz, n, m)


@settings(max_examples=30, deadline=None)
@given(**shapes)
@example(bsz=2, n=5, m=67, double=False, seed=0)  # float32: 64-lane body and a tail
@example(bsz=2, n=5, m=33, double=True, seed=0)  # float64: 32-lane body and a tail
def test_row_and_plan_passes(bsz, n, m, double, seed):
    dtype, rand, kernel = _inputs(bsz, n, m, double, seed)
    x, c, num, den, keep = rand(bsz, m), rand(bsz), rand(bsz, n), rand(bsz, n), rand(bsz)
    for forward in (True, False):
        (ext, _), (ref, _) = _both(kernel_passes.row_pass, kernel, x, c, num,
                                   None if forward else den, forward)
        _assert_all_close(ext, ref, dtype)
    plan = torch.empty_like(kernel)
    (ext, ext_args), (ref, ref_args) = _both(kernel_passes.plan_pass, kernel, x, c, num, keep,
                                             plan)
    _assert_all_close(ext, ref, dtype)
    _assert_all_close(ext_args[-1], ref_args[-1], dtype)  # the plan written in place
    s, u = ext
    torch.testing.assert_close(ext_args[-1], u[..., None] * keep[:, None, None] * kernel
                               * x[:, None], **TOL[dtype])


@settings(max_examples=20, deadline=None)
@given(scale=st.floats(-100.0, 100.0), strided=st.booleans(), **shapes)
@example(scale=-80.0, strided=False, bsz=2, n=3, m=70, double=False, seed=0)
def test_exp_pass(scale, strided, bsz, n, m, double, seed):
    """K = exp(scale C) and its column sums: the extension's vectorised exponential is
    within 1 ulp of exact in the normal range and is the library's exp outside it."""
    dtype, rand, cost = _inputs(bsz, n, m, double, seed)
    cost = cost * 2 - 1
    if strided:  # rows of a larger tensor (unit column stride only)
        cost = torch.cat([cost, cost], 2)[..., :m]
    kernel = torch.empty(bsz, n, m, dtype=dtype)
    (ext, ext_args), (ref, ref_args) = _both(kernel_passes.exp_col_sums, cost, scale, kernel)
    _assert_all_close(ext, ref, dtype)
    exact = torch.exp((cost * scale).double())  # of the rounded product, as computed
    tiny, eps = torch.finfo(dtype).tiny, torch.finfo(dtype).eps
    normal = (exact > tiny) & (exact < torch.finfo(dtype).max)
    ulps = ((ext_args[-1].double() - exact).abs() / exact)[normal] / eps
    assert ulps.numel() == 0 or ulps.max() <= 1.0
    torch.testing.assert_close(ext_args[-1], ref_args[-1], equal_nan=True, **TOL[dtype])


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_exp_pass_special_values(dtype):
    """Rows with values whose 2^n is not normal (underflow, overflow, inf, NaN) take the
    library's exp; the other rows the vectorised one."""
    values = [-200.0, float('nan'), -2000.0, float('inf'), -float('inf'), 1e30, 100.0,
              -104.0, 89.0, 710.0, -745.0, -87.5, 88.5, -708.5, 709.5]
    cost = torch.linspace(-3, 3, 2 * 3 * 40, dtype=dtype).reshape(2, 3, 40)
    cost[1, 1, :len(values)] = torch.tensor(values, dtype=dtype)
    kernel = torch.empty_like(cost)
    col = kernel_passes._ext.exp_pass(cost, 1.0, kernel)
    torch.testing.assert_close(kernel, torch.exp(cost), equal_nan=True, atol=0,
                               rtol=2 * torch.finfo(dtype).eps)
    torch.testing.assert_close(col, torch.exp(cost).sum(1), equal_nan=True)


@settings(max_examples=30, deadline=None)
@given(rank=st.integers(0, 9), layout=st.sampled_from(['contiguous', 'batch', 'rows']),
       **shapes)
@example(rank=6, layout='rows', bsz=2, n=4, m=70, double=False, seed=1)
def test_gradient_passes(rank, layout, bsz, n, m, double, seed):
    """Both backward passes, for the plan's gradient laid out as autograd may hand it over
    (contiguous, or broadcast over the batch or over the rows: stride 0)."""
    dtype, rand, kernel = _inputs(bsz, n, m, double, seed)
    grad = {'contiguous': rand(bsz, n, m), 'batch': rand(1, n, m).expand(bsz, n, m),
            'rows': rand(bsz, 1, m).expand(bsz, n, m)}[layout]
    u_fin, v_fin, keep = rand(bsz, n), rand(bsz, m), rand(bsz)
    num, den = rand(bsz, n), rand(bsz, n)
    assert kernel_passes._use_extension(kernel, grad)
    (ext, _), (ref, _) = _both(kernel_passes.grad_first_pass, kernel, grad, u_fin, v_fin,
                               keep, num, den)
    _assert_all_close(ext, ref, dtype)
    left, right = rand(bsz, n, rank), rand(bsz, rank, m)
    (ext, _), (ref, _) = _both(kernel_passes.grad_write_pass, kernel, grad, u_fin, v_fin,
                               left, right, -3.0)
    _assert_all_close(ext, ref, dtype)
    expected = -3.0 * kernel * (grad * u_fin[..., None] * v_fin[:, None] + left @ right)
    torch.testing.assert_close(ext, expected, **TOL[dtype])


def test_fallbacks_and_thread_counts():
    torch.manual_seed(0)
    kernel = torch.rand(2, 6, 5, dtype=torch.float64)
    # a gradient without unit column stride, another dtype or a non-contiguous kernel: torch
    assert not kernel_passes._use_extension(kernel, torch.rand(2, 5, 6).mT.double())
    assert not kernel_passes._use_extension(kernel, torch.rand(2, 6, 5))
    assert not kernel_passes._use_extension(kernel.mT)
    assert not kernel_passes._use_extension(kernel.half())
    with mock.patch.object(kernel_passes, 'BACKEND', 'torch'):
        assert not kernel_passes._use_extension(kernel)
    with mock.patch.object(kernel_passes, 'BACKEND', 'cuda'):
        with pytest.raises(ValueError, match="BACKEND must be 'auto' or 'torch'"):
            kernel_passes._use_extension(kernel)
    # the threads' column buffers are summed in a fixed order: same result for 1 thread
    big = torch.rand(3, 200, 150, dtype=torch.float64)
    x, c, num = torch.rand(3, 150, dtype=torch.float64), torch.rand(3), torch.rand(3, 200)
    args = (big, x, c.double(), num.double(), None, True)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        single = kernel_passes.row_pass(*args)
    finally:
        torch.set_num_threads(threads)
    _assert_all_close(kernel_passes.row_pass(*args), single, torch.float64)


def test_extension_argument_errors():
    ext = kernel_passes._ext
    kernel = torch.rand(2, 4, 3)
    x, c, num = torch.rand(2, 3), torch.rand(2), torch.rand(2, 4)
    empty = torch.empty(0)
    with pytest.raises(RuntimeError, match=r'x must have shape \[2, 3\]'):
        ext.row_pass(kernel, torch.rand(2, 4), c, num, empty, True)
    with pytest.raises(RuntimeError, match='kernel must be contiguous'):
        ext.row_pass(kernel.mT.contiguous().mT, x, c, num, empty, True)
    with pytest.raises(RuntimeError, match='num must be Float'):
        ext.row_pass(kernel, x, c, num.double(), empty, True)
    with pytest.raises(RuntimeError, match='grad must have unit column stride'):
        ext.grad_first_pass(kernel, torch.rand(2, 3, 4).mT, num, x, c, num, num)
    with pytest.raises(RuntimeError, match=r'cost must have shape \[2, 4, 3\]'):
        ext.exp_pass(torch.rand(2, 3, 4), -10.0, kernel)
    with pytest.raises(RuntimeError, match='cost must have unit column stride'):
        ext.exp_pass(torch.rand(2, 3, 4).mT, -10.0, kernel)
    with pytest.raises(RuntimeError, match=r'right must have shape \[2, 5, 3\]'):
        ext.grad_write_pass(kernel, kernel, num, x, torch.rand(2, 4, 5), torch.rand(2, 4, 3),
                            1.0)
