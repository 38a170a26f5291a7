import numpy as np
import ot
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from mmfss.ot import kernel_sinkhorn_scalings, sinkhorn


def _marginals(rng, b, n, zeros=False):
    x = rng.uniform(0.05, 1.0, size=(b, n))
    if zeros:
        x[:, ::3] = 0.0  # zero-mass nodes (e.g. outside a mask)
    return torch.from_numpy(x / x.sum(1, keepdims=True))


@settings(max_examples=25, deadline=None)
@given(bsz=st.integers(1, 3), n=st.integers(2, 12), m=st.integers(2, 12),
       problems=st.integers(1, 3), eps=st.floats(0.05, 1.0), num_iters=st.integers(1, 20),
       seed=st.integers(0, 2**16))
def test_same_plans_as_the_log_domain(bsz, n, m, problems, eps, num_iters, seed):
    """The kernel iteration is the log-domain one: same plans, several problems at once."""
    rng = np.random.default_rng(seed)
    cost = torch.from_numpy(rng.uniform(0, 4, size=(bsz, n, m)))  # bounded, as unit nodes
    a = torch.stack([_marginals(rng, bsz, n) for _ in range(problems)], -1)
    b = torch.stack([_marginals(rng, bsz, m, zeros=p == 1) for p in range(problems)], -1)
    u, v = kernel_sinkhorn_scalings(torch.exp(-cost / eps), a, b, num_iters)
    for p in range(problems):
        plan = u[:, :, None, p] * torch.exp(-cost / eps) * v[:, None, :, p]
        expected = sinkhorn(cost, a[..., p], b[..., p], eps, num_iters, compile=False)
        torch.testing.assert_close(plan, expected, rtol=1e-9, atol=1e-12)
        torch.testing.assert_close(plan.sum(2), a[..., p])  # ends with the row update
        pot = ot.sinkhorn(a[0, :, p].numpy(), b[0, :, p].numpy(), cost[0].numpy(), eps,
                          method='sinkhorn', numItermax=num_iters, stopThr=0)
        np.testing.assert_allclose(plan[0].numpy(), pot, rtol=1e-7, atol=1e-12)


def test_float32_down_to_the_documented_eps():
    """exp(-C / eps) stays normal in float32 for costs in [0, 4] and eps >= 0.05."""
    torch.manual_seed(0)
    q = torch.nn.functional.normalize(torch.randn(1, 16, 300), dim=1)
    cost = (2 - 2 * q.transpose(1, 2) @ -q).clamp_min(0)  # near 4: antipodal points
    a = torch.full((1, 300, 1), 1 / 300)
    u, v = kernel_sinkhorn_scalings(torch.exp(-cost / 0.05), a, a, 20)
    assert torch.isfinite(u).all() and torch.isfinite(v).all()
    plan = u * torch.exp(-cost / 0.05) * v.transpose(1, 2)
    expected = sinkhorn(cost.double(), a[..., 0].double(), a[..., 0].double(), 0.05, 20,
                        compile=False)
    torch.testing.assert_close(plan.double(), expected, rtol=1e-3, atol=1e-7)


def test_gradients_and_errors():
    cost = torch.rand(1, 4, 5, dtype=torch.float64, requires_grad=True)
    a = torch.full((1, 4, 2), 0.25, dtype=torch.float64)
    b = torch.full((1, 5, 2), 0.2, dtype=torch.float64)
    torch.autograd.gradcheck(
        lambda c: kernel_sinkhorn_scalings(torch.exp(-c / 0.3), a, b, 3), (cost, ))
    with pytest.raises(ValueError, match=r'\[B, N, P\]'):
        kernel_sinkhorn_scalings(torch.rand(1, 4, 5), a[:, :3], b, 3)
    with pytest.raises(ValueError, match='num_iters'):
        kernel_sinkhorn_scalings(torch.rand(1, 4, 5), a, b, 0)
    with pytest.raises(ValueError, match=r'\[B, N, M\]'):
        kernel_sinkhorn_scalings(torch.rand(4, 5), a, b, 3)


def _unrolled(kernel, a, b, num_iters):
    """The scalings differentiated through their products (the implementation before the
    custom backward)."""
    u = torch.ones_like(a)
    for _ in range(num_iters):
        v = b / torch.bmm(kernel.transpose(1, 2), u)
        u = a / torch.bmm(kernel, v)
    return u, v


@pytest.mark.parametrize('num_iters', [1, 3])
def test_scalings_backward_is_the_unrolled_one(num_iters):
    """One product for the kernel's gradient (issue: faster than the references): forward
    bit-identical to the unrolled loop, gradients of kernel and both masses equal to it
    (float64 to 1e-12, gradcheck; float32 to 1e-5), zero-mass entries included."""
    g = torch.Generator().manual_seed(0)
    kernel = (torch.rand(2, 7, 5, generator=g, dtype=torch.float64) + 0.1).requires_grad_()
    a = torch.rand(2, 7, 3, generator=g, dtype=torch.float64).requires_grad_()
    b = torch.rand(2, 5, 3, generator=g, dtype=torch.float64)
    b[0, 1, 0] = 0.0
    b.requires_grad_()
    assert torch.autograd.gradcheck(
        lambda k, x, y: kernel_sinkhorn_scalings(k, x, y, num_iters), (kernel, a, b))
    for dtype, tol in ((torch.float64, 1e-12), (torch.float32, 1e-5)):
        inputs = [t.detach().to(dtype).requires_grad_() for t in (kernel, a, b)]
        ours, theirs = kernel_sinkhorn_scalings(*inputs, num_iters), _unrolled(*inputs, num_iters)
        assert all(torch.equal(x, y) for x, y in zip(ours, theirs))
        weights = [torch.randn(o.shape, generator=g, dtype=dtype) for o in ours]
        grads = [torch.autograd.grad(sum((o * w).sum() for o, w in zip(out, weights)), inputs)
                 for out in (ours, theirs)]
        for x, y in zip(*grads):
            assert float((x - y).abs().max() / y.abs().max()) < tol
    # only the kernel needs a gradient (masses without one), and only u is read
    k = kernel.detach().requires_grad_()
    u, _ = kernel_sinkhorn_scalings(k, a.detach(), b.detach(), num_iters)
    u.sum().backward()
    ref = kernel.detach().requires_grad_()
    _unrolled(ref, a.detach(), b.detach(), num_iters)[0].sum().backward()
    assert torch.allclose(k.grad, ref.grad, rtol=1e-12, atol=1e-14)
