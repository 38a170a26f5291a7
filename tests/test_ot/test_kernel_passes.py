"""The C++ passes of the kernel-domain Sinkhorn against their torch reference.

Tolerances (``TOL``): the extension and the torch reference add the same positive terms
in different orders (and the x86-64-v3/v4 passes fuse multiply-adds where the baseline
and torch may not), so a row product of m terms may differ by about m unit roundoffs
relative to its value; the tests have m <= 300 in float64 (300 * 1.1e-16 = 3.3e-14, so
rtol 1e-12 leaves a 30x margin) and m <= 80 in float32 (80 * 6e-8 = 4.8e-6 against rtol
2e-5). Within one instruction set the passes are compared bitwise.
"""
import os
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
    col = kernel_passes.exp_col_sums(cost, 1.0, kernel)
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


def test_fallbacks():
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


def test_extension_argument_errors():
    ext = kernel_passes._ext
    kernel = torch.rand(2, 4, 3)
    x, c, num = torch.rand(2, 3), torch.rand(2), torch.rand(2, 4)
    empty = torch.empty(0)
    with pytest.raises(RuntimeError, match=r'x must have shape \[2, 3\]'):
        ext.row_pass(kernel, torch.rand(2, 4), c, num, empty, True, 0)
    with pytest.raises(RuntimeError, match='isa must be an index below'):
        ext.row_pass(kernel, x, c, num, empty, True, 7)
    with pytest.raises(RuntimeError, match='kernel must be contiguous'):
        ext.row_pass(kernel.mT.contiguous().mT, x, c, num, empty, True, 0)
    with pytest.raises(RuntimeError, match='num must be Float'):
        ext.row_pass(kernel, x, c, num.double(), empty, True, 0)
    with pytest.raises(RuntimeError, match='grad must have unit column stride'):
        ext.grad_first_pass(kernel, torch.rand(2, 3, 4).mT, num, x, c, num, num, 0)
    with pytest.raises(RuntimeError, match=r'cost must have shape \[2, 4, 3\]'):
        ext.exp_pass(torch.rand(2, 3, 4), -10.0, kernel, 0)
    with pytest.raises(RuntimeError, match='cost must have unit column stride'):
        ext.exp_pass(torch.rand(2, 3, 4).mT, -10.0, kernel, 0)
    with pytest.raises(RuntimeError, match=r'right must have shape \[2, 5, 3\]'):
        ext.grad_write_pass(kernel, kernel, num, x, torch.rand(2, 4, 5), torch.rand(2, 4, 3),
                            1.0, 0)


# ----------------------------------------------------------------- instruction sets
ISAS = ('x86-64-v4', 'x86-64-v3', 'baseline')


def _require_isa(isa):
    """Skip, saying why, where this build or this CPU cannot run ``isa``."""
    if isa not in kernel_passes.compiled_isas():
        pytest.skip(f'the extension has no {isa} passes on this platform (compiled: '
                    f'{kernel_passes.compiled_isas()})')
    if isa not in kernel_passes.available_isas():
        pytest.skip(f'this CPU cannot run {isa} (its flags: {kernel_passes.cpu_flags()})')


def _misaligned(t):
    """A copy of ``t`` whose storage starts one element past an allocation's start."""
    buf = torch.empty(t.numel() + 1, dtype=t.dtype)
    out = buf[1:].view(t.shape)
    out.copy_(t)
    return out


def _all_passes(bsz, n, m, dtype, seed, rank=5):
    """Every pass of the extension on one set of inputs: a dict name -> tensors."""
    g = torch.Generator().manual_seed(seed)

    def rand(*shape):
        return torch.rand(*shape, generator=g, dtype=torch.float64).add_(0.1).to(dtype)

    cost = rand(bsz, n, m) * 2 - 1
    x, c, num, den, keep = rand(bsz, m), rand(bsz), rand(bsz, n), rand(bsz, n), rand(bsz)
    grad, u_fin, v_fin = rand(bsz, n, m), rand(bsz, n), rand(bsz, m)
    left, right = rand(bsz, n, rank), rand(bsz, rank, m)

    def run(align):
        place = _misaligned if align else (lambda t: t.clone())
        kernel = torch.empty(bsz, n, m, dtype=dtype)
        kernel = place(kernel)
        out = dict(exp=(kernel_passes.exp_col_sums(place(cost), -3.0, kernel), kernel.clone()))
        out['row_fwd'] = kernel_passes.row_pass(kernel, x, c, num, None, True)
        out['row_bwd'] = kernel_passes.row_pass(kernel, x, c, num, den, False)
        plan = place(torch.empty_like(kernel))
        out['plan'] = kernel_passes.plan_pass(kernel, x, c, num, keep, plan) + (plan, )
        out['grad_first'] = kernel_passes.grad_first_pass(kernel, place(grad), u_fin, v_fin,
                                                          keep, num, den)
        out['grad_write'] = (kernel_passes.grad_write_pass(kernel.clone(), place(grad), u_fin,
                                                           v_fin, left, right, -3.0), )
        return out

    return run


def _with_threads(count, fn, *args):
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(count)
        return fn(*args)
    finally:
        torch.set_num_threads(threads)


def _compare(first, second, exact, dtype):
    assert first.keys() == second.keys()
    for name in first:
        for x, y in zip(first[name], second[name]):
            if exact:
                assert torch.equal(x, y), f'{name}: not bitwise identical'
            else:
                torch.testing.assert_close(x, y, **TOL[dtype], msg=lambda m: f'{name}: {m}')


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
@pytest.mark.parametrize('isa', ISAS)
def test_isa_bitwise_across_threads_and_alignment(isa, dtype):
    """Under one instruction set every pass gives bitwise the same results with 1 and 2
    threads and with storage at another alignment; against the torch reference and the
    baseline passes within TOL. Shapes: several chunks per batch element (N = 300 > 16)
    and tails (M = 70 is no multiple of a 64-byte vector)."""
    _require_isa(isa)
    run = _all_passes(3, 300, 70, dtype, seed=0)
    with mock.patch.object(kernel_passes, 'ISA', isa):
        one = _with_threads(1, run, False)
        two = _with_threads(2, run, False)
        shifted = _with_threads(2, run, True)
        again = _with_threads(2, run, False)
    _compare(one, two, True, dtype)
    _compare(one, shifted, True, dtype)
    _compare(one, again, True, dtype)
    with mock.patch.object(kernel_passes, 'BACKEND', 'torch'):
        reference = run(False)
    _compare(one, reference, False, dtype)
    with mock.patch.object(kernel_passes, 'ISA', 'baseline'):
        baseline = run(False)
    _compare(one, baseline, False, dtype)


def test_isa_selection(monkeypatch):
    """ISA, then $MMFSS_OT_ISA, then the best runnable set; read at call time."""
    runnable = kernel_passes.available_isas()
    assert runnable and runnable[-1] == 'baseline'
    assert set(runnable) <= set(kernel_passes.compiled_isas())
    monkeypatch.delenv(kernel_passes.ISA_ENV, raising=False)
    monkeypatch.setattr(kernel_passes, 'ISA', None)
    assert kernel_passes.selected_isa() == runnable[0]
    monkeypatch.setenv(kernel_passes.ISA_ENV, 'baseline')
    assert kernel_passes.selected_isa() == 'baseline'
    assert 'selected baseline (MMFSS_OT_ISA=baseline)' in kernel_passes.describe()
    monkeypatch.setattr(kernel_passes, 'ISA', runnable[0])  # the switch wins over the env
    assert kernel_passes.selected_isa() == runnable[0]
    monkeypatch.setattr(kernel_passes, 'ISA', 'avx9000')
    with pytest.raises(ValueError, match=r"mmfss.ot.kernel_passes.ISA='avx9000': must be"):
        kernel_passes.row_pass(torch.rand(1, 2, 3), torch.rand(1, 3), torch.rand(1),
                               torch.rand(1, 2), None, True)
    monkeypatch.setattr(kernel_passes, 'ISA', None)
    monkeypatch.setenv(kernel_passes.ISA_ENV, 'sse')
    with pytest.raises(ValueError, match=r"MMFSS_OT_ISA='sse'"):
        kernel_passes.selected_isa()
    unrunnable = [i for i in kernel_passes.compiled_isas() if i not in runnable]
    for name in unrunnable:  # e.g. x86-64-v4 on a CPU without AVX-512
        monkeypatch.setenv(kernel_passes.ISA_ENV, name)
        with pytest.raises(ValueError, match='this CPU cannot run it'):
            kernel_passes.selected_isa()
        with pytest.raises(RuntimeError, match=f'this CPU cannot run the {name} passes'):
            kernel_passes._ext.row_pass(torch.rand(1, 2, 3), torch.rand(1, 3), torch.rand(1),
                                        torch.rand(1, 2), torch.empty(0), True,
                                        kernel_passes.compiled_isas().index(name))
