import numpy as np
import ot
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mmfss.ot import sinkhorn


def _marginals(rng, b, n):
    x = torch.from_numpy(rng.uniform(0.05, 1.0, size=(b, n)))
    return x / x.sum(1, keepdim=True)


def _unrolled_reference(cost, a, b, eps, num_iters):
    """Plain autograd through the iterations: what the custom backward must reproduce."""
    K = -cost / eps
    u = torch.zeros_like(a)
    for _ in range(num_iters):
        v = b.log() - torch.logsumexp(K + u[:, :, None], 1)
        u = a.log() - torch.logsumexp(K + v[:, None, :], 2)
    return torch.exp(K + u[:, :, None] + v[:, None, :])


@settings(max_examples=25, deadline=None)
@given(bsz=st.integers(1, 3), n=st.integers(1, 12), m=st.integers(1, 12),
       eps=st.floats(0.02, 1.0), num_iters=st.integers(1, 30), seed=st.integers(0, 2**16),
       domain=st.sampled_from(['log', 'kernel', 'auto']))
def test_matches_pot_sinkhorn_log_float64(bsz, n, m, eps, num_iters, seed, domain):
    """Both domains give POT's iterates (float64: max|C| / eps <= 100, kernel-domain safe)."""
    rng = np.random.default_rng(seed)
    cost = torch.from_numpy(rng.uniform(0, 2, size=(bsz, n, m)))
    a, b = _marginals(rng, bsz, n), _marginals(rng, bsz, m)
    plan = sinkhorn(cost, a, b, eps=eps, num_iters=num_iters, domain=domain)
    assert plan.dtype == torch.float64 and plan.shape == (bsz, n, m)
    for i in range(bsz):
        with _no_fail():
            ref = ot.sinkhorn(a[i].numpy(), b[i].numpy(), cost[i].numpy(), eps,
                              method='sinkhorn_log', numItermax=num_iters, stopThr=0)
        np.testing.assert_allclose(plan[i].numpy(), ref, rtol=1e-9, atol=1e-12)


class _no_fail:
    """Silence POT's 'did not converge' warning (fixed iteration counts are intended)."""

    def __enter__(self):
        import warnings
        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter('ignore')

    def __exit__(self, *exc):
        return self._ctx.__exit__(*exc)


def test_uniform_defaults_and_1d_marginals():
    cost = torch.rand(2, 5, 3, dtype=torch.float64)
    default = sinkhorn(cost, eps=0.3, num_iters=50)
    explicit = sinkhorn(cost, torch.full((5, ), 0.2, dtype=torch.float64),
                        torch.full((2, 3), 1 / 3, dtype=torch.float64), eps=0.3, num_iters=50)
    torch.testing.assert_close(default, explicit)
    torch.testing.assert_close(default.sum(2), torch.full((2, 5), 0.2, dtype=torch.float64))
    torch.testing.assert_close(default.sum(1), torch.full((2, 3), 1 / 3, dtype=torch.float64),
                               atol=1e-6, rtol=0)


@pytest.mark.parametrize('domain', ['log', 'kernel'])
def test_gradcheck(domain):
    torch.manual_seed(0)
    cost = torch.rand(2, 4, 3, dtype=torch.float64, requires_grad=True)
    a = torch.tensor([[0.1, 0.2, 0.3, 0.4], [0.25] * 4], dtype=torch.float64)
    b = torch.tensor([[0.5, 0.3, 0.2], [0.2, 0.2, 0.6]], dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda c: sinkhorn(c, a, b, eps=0.3, num_iters=6,
                                                          domain=domain),
                                    (cost, ), eps=1e-6, atol=1e-7)


@pytest.mark.parametrize('domain', ['log', 'kernel'])
@pytest.mark.parametrize('num_iters', [1, 3, 10])
def test_backward_equals_unrolled_autograd(num_iters, domain):
    torch.manual_seed(1)
    cost = torch.rand(3, 20, 15)
    a = torch.softmax(torch.randn(3, 20), 1)
    b = torch.softmax(torch.randn(3, 15), 1)
    weight = torch.randn(3, 20, 15)
    c1 = cost.clone().requires_grad_()
    (sinkhorn(c1, a, b, eps=0.05, num_iters=num_iters, domain=domain) * weight).sum().backward()
    c2 = cost.clone().requires_grad_()
    (_unrolled_reference(c2, a, b, 0.05, num_iters) * weight).sum().backward()
    torch.testing.assert_close(c1.grad, c2.grad, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('domain', ['log', 'kernel'])
def test_backward_memory_does_not_grow_with_iterations(domain):
    """What autograd keeps for backward: the caller's cost (no copy) plus vectors (the
    kernel domain also keeps K, one [B, N, M] buffer whatever the iterations, which its
    backward turns into the gradient)."""

    def saved(num_iters):
        tensors = []

        def pack(t):
            tensors.append(t)
            return t

        cost = torch.rand(2, 64, 64, requires_grad=True)
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            sinkhorn(cost, eps=0.1, num_iters=num_iters, compile=False, domain=domain)
        return cost, tensors

    for num_iters in (1, 2, 50):
        cost, tensors = saved(num_iters)
        big = [t for t in tensors if t.shape[-2:] == (64, 64)]
        assert len(big) == 1 and big[0].data_ptr() == cost.data_ptr()  # the input itself
        small = sum(t.numel() for t in tensors if t.shape[-2:] != (64, 64))
        if domain == 'log':  # log a, log b, two log-sum-exps per iteration: B x (N + M) each
            assert small == (num_iters + 1) * 2 * (64 + 64)
        else:  # keep [B]; u_0..u_L, s_1..s_L [B, N]; v_1..v_L, r_1..r_L [B, M]
            assert small == 2 * (1 + (2 * num_iters + 1) * 64 + 2 * num_iters * 64)


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16, torch.float32])
def test_low_precision_and_autocast_compute_in_fp32(dtype):
    torch.manual_seed(2)
    cost = torch.rand(2, 6, 5).to(dtype)
    ref = sinkhorn(cost.float(), eps=0.1, num_iters=20)
    out = sinkhorn(cost, eps=0.1, num_iters=20)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, ref)
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out2 = sinkhorn(cost.float(), eps=0.1, num_iters=20)
    assert out2.dtype == torch.float32
    torch.testing.assert_close(out2, ref)


def test_zero_mass_rows_and_columns():
    cost = torch.rand(1, 4, 3, dtype=torch.float64, requires_grad=True)
    a = torch.tensor([[0.5, 0.0, 0.5, 0.0]], dtype=torch.float64)
    b = torch.tensor([[0.0, 0.6, 0.4]], dtype=torch.float64)
    plan = sinkhorn(cost, a, b, eps=0.1, num_iters=30)
    assert torch.isfinite(plan).all()
    assert (plan[0, 1] == 0).all() and (plan[0, 3] == 0).all() and (plan[0, :, 0] == 0).all()
    torch.testing.assert_close(plan.sum(2), a, atol=1e-8, rtol=0)
    plan.sum().backward()
    assert torch.isfinite(cost.grad).all()


def test_identical_points_and_small_eps():
    x = torch.rand(2, 30, 8)
    same = torch.cdist(x, x) ** 2  # zero diagonal, identical point sets
    plan = sinkhorn(same, eps=1e-3, num_iters=100)
    assert torch.isfinite(plan).all()
    # with tiny eps and identical points the plan is the identity coupling
    torch.testing.assert_close(plan, torch.eye(30).expand(2, 30, 30) / 30, atol=1e-4, rtol=0)
    cost = (torch.rand(2, 40, 50) * 2).requires_grad_()
    plan = sinkhorn(cost, eps=1e-3, num_iters=50)
    (plan * torch.randn_like(plan)).sum().backward()
    assert torch.isfinite(plan).all() and torch.isfinite(cost.grad).all()
    torch.testing.assert_close(plan.sum(2), torch.full((2, 40), 1 / 40), atol=1e-6, rtol=0)


def test_errors():
    cost = torch.rand(2, 3, 4)
    with pytest.raises(ValueError, match=r'shape \[B, N, M\]'):
        sinkhorn(torch.rand(3, 4))
    with pytest.raises(ValueError, match=r'a must have shape \[B, 3\]'):
        sinkhorn(cost, a=torch.ones(2, 4) / 4)
    with pytest.raises(ValueError, match=r'b must have shape'):
        sinkhorn(cost, b=torch.ones(3, 4) / 4)
    with pytest.raises(ValueError, match='b has negative entries'):
        sinkhorn(cost, b=torch.tensor([[0.5, 0.7, -0.2, 0.0]] * 2))
    with pytest.raises(ValueError, match='a.sum'):
        sinkhorn(cost, a=torch.ones(2, 3))
    with pytest.raises(ValueError, match='eps must be'):
        sinkhorn(cost, eps=0)
    with pytest.raises(ValueError, match='num_iters must be'):
        sinkhorn(cost, num_iters=0)
    with pytest.raises(TypeError, match='floating-point'):
        sinkhorn(torch.ones(1, 2, 2, dtype=torch.long))
