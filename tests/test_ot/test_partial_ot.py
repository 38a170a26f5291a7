import warnings
from unittest import mock

import numpy as np
import ot
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st

from mmfss.ot import (augmented_problem, kernel_passes, kernel_sinkhorn, log_sinkhorn_plan,
                      partial_ot, sinkhorn)

from .test_kernel_passes import ISAS, _require_isa


def _problem(rng, bsz, n, m):
    cost = torch.from_numpy(rng.uniform(0, 1, size=(bsz, n, m)))
    a = torch.from_numpy(rng.uniform(0.05, 1.0, size=(bsz, n)))
    b = torch.from_numpy(rng.uniform(0.05, 1.0, size=(bsz, m)))
    a = a / a.sum(1, keepdim=True)
    b = b / b.sum(1, keepdim=True) * rng.uniform(0.6, 1.6)  # unequal totals
    return cost, a, b


@settings(max_examples=25, deadline=None)
@given(bsz=st.integers(1, 3), n=st.integers(1, 10), m=st.integers(1, 10),
       frac=st.floats(0.05, 1.0), seed=st.integers(0, 2**16))
@example(bsz=3, n=3, m=3, frac=0.8125, seed=3)  # POT's plan converges slowly here
def test_constraints_like_pot_entropic_partial(bsz, n, m, frac, seed):
    rng = np.random.default_rng(seed)
    cost, a, b = _problem(rng, bsz, n, m)
    limit = torch.minimum(a.sum(1), b.sum(1))
    mass = frac * limit
    plan = partial_ot(cost, a, b, mass, eps=0.05, num_iters=500)
    assert plan.shape == (bsz, n, m) and (plan >= 0).all()
    # the last update of the augmented problem is the row update: rows hold exactly
    assert (plan.sum(2) <= a + 1e-12).all()
    # ours within 1e-4 after 500 iterations; POT's entropic partial solver (iterative Bregman
    # projections) converges more slowly on some draws (a column 1.3e-3 over its mass after
    # 500 iterations was seen), so its own plan gets 1e-2
    tols = (1e-4, 1e-2)
    # the constraints POT's entropic partial solver satisfies, with the same mass
    for i in range(bsz):
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            # (POT checks m <= min of its own sums: rounding must not push m above them)
            pot_mass = min(float(mass[i]), a[i].numpy().sum(), b[i].numpy().sum())
            ref = ot.partial.entropic_partial_wasserstein(
                a[i].numpy(), b[i].numpy(), cost[i].numpy(), 0.05, m=pot_mass,
                method='sinkhorn_log', numItermax=500)
        for p, tol in zip((plan[i].numpy(), ref), tols):
            assert p.sum() == pytest.approx(float(mass[i]), abs=tol)
            assert (p.sum(1) <= a[i].numpy() + tol).all()
            assert (p.sum(0) <= b[i].numpy() + tol).all()


def test_converges_to_exact_partial_wasserstein():
    rng = np.random.default_rng(0)
    cost, a, b = _problem(rng, 1, 6, 5)
    mass = 0.5 * float(min(a.sum(), b.sum()))
    exact = ot.partial.partial_wasserstein(a[0].numpy(), b[0].numpy(), cost[0].numpy(), m=mass)
    exact_cost = float((exact * cost[0].numpy()).sum())
    gaps = []
    for eps in (0.1, 0.02, 0.004):
        plan = partial_ot(cost, a, b, mass, eps=eps, num_iters=4000)[0].numpy()
        assert plan.sum() == pytest.approx(mass, abs=1e-6)
        gaps.append(float((plan * cost[0].numpy()).sum()) - exact_cost)
    assert all(g >= -1e-9 for g in gaps)  # never better than the exact optimum
    assert gaps[0] > gaps[1] > gaps[2] and gaps[2] < 2e-3
    np.testing.assert_allclose(plan, exact, atol=5e-3)


def test_extreme_masses():
    rng = np.random.default_rng(1)
    cost, a, b = _problem(rng, 2, 7, 4)
    cost.requires_grad_()
    zero = partial_ot(cost, a, b, 0.0, eps=0.05, num_iters=300)
    assert (zero == 0).all()  # the only feasible plan (POT's solver returns NaN here)
    full_mass = torch.minimum(a.sum(1), b.sum(1))
    full = partial_ot(cost, a, b, full_mass, eps=0.05, num_iters=300)
    torch.testing.assert_close(full.sum((1, 2)), full_mass, atol=1e-6, rtol=0)
    (full.sum() + zero.sum()).backward()
    assert torch.isfinite(cost.grad).all()
    # equal totals and mass = total: both dummies empty, still finite
    eq = partial_ot(cost.detach(), a, a.sum(1, keepdim=True) * torch.ones(2, 4) / 4, 1.0,
                    eps=0.05, num_iters=300)
    assert torch.isfinite(eq).all() and eq.sum((1, 2)).sub(1).abs().max() < 1e-5


def test_reformulation_forbids_the_dummy_pair():
    """CMNet Eq. 3: dummy masses, zero dummy costs, dummy-dummy = -inf in the log domain."""
    cost = torch.rand(2, 3, 4, dtype=torch.float64)
    a = torch.tensor([[0.2, 0.3, 0.5]] * 2, dtype=torch.float64)
    b = torch.tensor([[0.3, 0.3, 0.2, 0.4]] * 2, dtype=torch.float64)
    mass = torch.tensor([0.6, 0.9], dtype=torch.float64)
    K, a_ext, b_ext = augmented_problem(cost, a, b, mass, eps=0.1)
    torch.testing.assert_close(a_ext[:, 3], b.sum(1) - mass)  # dummy supplier
    torch.testing.assert_close(b_ext[:, 4], a.sum(1) - mass)  # dummy demander
    torch.testing.assert_close(a_ext.sum(1), b_ext.sum(1))  # balanced
    assert (K[:, :3, 4] == 0).all() and (K[:, 3, :4] == 0).all()
    assert torch.isneginf(K[:, 3, 4]).all()
    torch.testing.assert_close(K[:, :3, :4], -cost / 0.1)
    full = log_sinkhorn_plan(K, 1.0, a_ext, b_ext, num_iters=50)
    assert (full[:, 3, 4] == 0).all()  # exactly nothing flows dummy -> dummy
    torch.testing.assert_close(full[:, :3, :4], partial_ot(cost, a, b, mass, 0.1, 50))


def test_gradcheck_and_small_eps():
    torch.manual_seed(0)
    cost = torch.rand(2, 3, 4, dtype=torch.float64, requires_grad=True)
    a = torch.tensor([[0.2, 0.3, 0.5], [0.1, 0.1, 0.3]], dtype=torch.float64)
    b = torch.tensor([[0.3, 0.3, 0.2, 0.4], [0.2, 0.2, 0.2, 0.2]], dtype=torch.float64)
    mass = torch.tensor([0.6, 0.3], dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda c: partial_ot(c, a, b, mass, eps=0.2, num_iters=8),
                                    (cost, ), eps=1e-6, atol=1e-7)
    cost = (torch.rand(2, 30, 40) * 2).requires_grad_()
    plan = partial_ot(cost, None, None, 0.5, eps=1e-3, num_iters=50)
    plan.sum().backward()
    assert torch.isfinite(plan).all() and torch.isfinite(cost.grad).all()


def test_fp16_input_gives_fp32():
    cost = torch.rand(1, 4, 4).half()
    assert partial_ot(cost, None, None, 0.5, eps=0.1, num_iters=20).dtype == torch.float32


def test_errors():
    cost = torch.rand(2, 3, 4)
    with pytest.raises(ValueError, match=r'mass must satisfy 0 <= mass <= min'):
        partial_ot(cost, None, None, 1.5)
    with pytest.raises(ValueError, match=r'mass must satisfy'):
        partial_ot(cost, None, None, -0.1)
    with pytest.raises(ValueError, match=r'mass must be a scalar or have shape \[B\]'):
        partial_ot(cost, None, None, torch.tensor([0.1, 0.2, 0.3]))
    with pytest.raises(ValueError, match='a has negative entries'):
        partial_ot(cost, torch.tensor([[0.5, -0.1, 0.6]] * 2), None, 0.1)
    with pytest.raises(ValueError, match=r'shape \[B, N, M\]'):
        partial_ot(torch.rand(3, 4), None, None, 0.1)


def _passes(name: str, bsz: int, m: int, itemsize: int = 8):
    """Patches selecting the kernel passes: 'extension' (C++), 'torch' (row blocks of
    ``_BLOCK_BYTES``) or 'torch:R' (blocks of R rows)."""
    backend, _, rows = name.partition(':')
    block_bytes = int(rows) * bsz * m * itemsize if rows else kernel_passes._BLOCK_BYTES
    return (mock.patch.object(kernel_passes, 'BACKEND', 'auto' if backend == 'extension'
                              else 'torch'),
            mock.patch.object(kernel_passes, '_BLOCK_BYTES', block_bytes))


@settings(max_examples=20, deadline=None)
@given(bsz=st.integers(1, 3), n=st.integers(2, 10), m=st.integers(1, 10),
       frac=st.floats(0.0, 1.0), eps=st.floats(0.03, 1.0), num_iters=st.integers(1, 30),
       passes=st.sampled_from(['extension', 'torch', 'torch:1', 'torch:3']),
       seed=st.integers(0, 2**16))
@example(bsz=2, n=7, m=5, frac=0.5, eps=0.1, num_iters=4, passes='torch:3', seed=0)
@example(bsz=2, n=7, m=5, frac=0.5, eps=0.1, num_iters=4, passes='extension', seed=0)
def test_kernel_and_log_domains_agree(bsz, n, m, frac, eps, num_iters, passes, seed):
    """Same iterates in both domains: plans and gradients (float64), zero masses included,
    with the kernel domain's passes in C++ or as torch ops over row blocks."""
    rng = np.random.default_rng(seed)
    cost = torch.from_numpy(rng.uniform(0, 2, size=(bsz, n, m)))
    a = torch.from_numpy(rng.uniform(0, 1, size=(bsz, n)))
    a[:, 0] = 0.0  # a zero-mass supplier
    b = torch.from_numpy(rng.uniform(0.1, 1, size=(bsz, m)))
    mass = frac * torch.minimum(a.sum(1), b.sum(1))
    weights = torch.from_numpy(rng.normal(size=(bsz, n, m)))
    plans, grads = [], []
    backend, blocks = _passes(passes, bsz, m)
    for domain in ('kernel', 'log'):
        c = cost.clone().requires_grad_()
        with backend, blocks:
            plan = partial_ot(c, a, b, mass, eps, num_iters, compile=False, domain=domain)
            (plan * weights).sum().backward()
        plans.append(plan.detach())
        grads.append(c.grad)
    torch.testing.assert_close(plans[0], plans[1], rtol=1e-8, atol=1e-12)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-7, atol=1e-10)


@pytest.mark.parametrize('passes', ['extension', 'torch:2'])
def test_kernel_domain_backward_twice_and_balanced(passes):
    """retain_graph: backward writes its gradient into K's buffer, a second backward rebuilds
    K and gives the same gradient; without dummies the plan is mmfss.ot.sinkhorn's."""
    torch.manual_seed(0)
    cost = (torch.rand(2, 9, 7, dtype=torch.float64) * 2).requires_grad_()
    weights = torch.randn(2, 9, 7, dtype=torch.float64)
    backend, blocks = _passes(passes, 2, 7)
    with backend, blocks:
        plan = partial_ot(cost, None, None, 0.4, eps=0.1, num_iters=5, domain='kernel')
        first, = torch.autograd.grad((plan * weights).sum(), cost, retain_graph=True)
        second, = torch.autograd.grad((plan * weights).sum(), cost)
    torch.testing.assert_close(first, second, rtol=0, atol=0)

    a = torch.full((2, 9), 1 / 9, dtype=torch.float64)
    b = torch.full((2, 7), 1 / 7, dtype=torch.float64)
    with backend, blocks:
        plan = kernel_sinkhorn.kernel_sinkhorn_plan(cost, -1 / 0.1, a, b, 5)
        grad, = torch.autograd.grad((plan * weights).sum(), cost)
    c = cost.detach().requires_grad_()
    expected = sinkhorn(c, a, b, eps=0.1, num_iters=5, compile=False)
    expected_grad, = torch.autograd.grad((expected * weights).sum(), c)
    torch.testing.assert_close(plan, expected, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(grad, expected_grad, rtol=1e-8, atol=1e-11)


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
@pytest.mark.parametrize('isa', ISAS)
def test_kernel_domain_reproducible_per_isa(isa, dtype):
    """Under each instruction set the extension runs: repeated calls give bitwise the same
    plans, a second backward through the same graph (retain_graph) bitwise the same
    gradient, and 1 and 2 threads bitwise the same plans and gradients (partial and
    balanced)."""
    _require_isa(isa)
    torch.manual_seed(0)
    cost0 = (torch.rand(2, 40, 70, dtype=dtype) * 2)
    weights = torch.randn(2, 40, 70, dtype=dtype)

    def solve():
        results = []
        for solver in (lambda c: partial_ot(c, None, None, 0.4, eps=0.1, num_iters=5,
                                            domain='kernel'),
                       lambda c: sinkhorn(c, eps=0.1, num_iters=5, domain='kernel')):
            cost = cost0.clone().requires_grad_()
            plan = solver(cost)
            again = solver(cost)
            assert torch.equal(plan, again), 'a repeated call gave another plan'
            first, = torch.autograd.grad((plan * weights).sum(), cost, retain_graph=True)
            second, = torch.autograd.grad((plan * weights).sum(), cost)
            assert torch.equal(first, second), 'the second backward gave another gradient'
            results += [plan.detach(), first]
        return results

    threads = torch.get_num_threads()
    with mock.patch.object(kernel_passes, 'ISA', isa):
        try:
            torch.set_num_threads(1)
            single = solve()
            torch.set_num_threads(2)
            double = solve()
        finally:
            torch.set_num_threads(threads)
    for x, y in zip(single, double):
        assert torch.equal(x, y), '1 and 2 threads differ'


def test_domain_selection():
    from mmfss.ot.partial_ot import use_kernel_domain
    cost = torch.rand(1, 3, 3) * 2
    assert use_kernel_domain('auto', cost, 0.05)  # 2 / 0.05 = 40 <= 80
    assert not use_kernel_domain('auto', cost + 10, 0.05)  # exp(-240) underflows in fp32
    assert use_kernel_domain('auto', (cost + 10).double(), 0.05)  # not in float64
    assert not use_kernel_domain('log', cost, 0.05) and use_kernel_domain('kernel', cost, 1e-3)
    with pytest.raises(ValueError, match='domain must be one of'):
        partial_ot(cost, None, None, 0.5, domain='exp')
    # small eps: auto takes the log domain, whose plan stays finite
    plan = partial_ot(cost, None, None, 0.5, eps=1e-3, num_iters=20)
    assert torch.isfinite(plan).all()
