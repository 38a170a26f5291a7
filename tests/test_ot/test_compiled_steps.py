import pytest
import torch

from mmfss.ot import partial_ot, sinkhorn
from mmfss.ot.log_sinkhorn import COMPILE_MIN_ELEMENTS, resolve_compile
import mmfss.ot.log_sinkhorn as sk


def test_auto_threshold():
    small = torch.zeros(1, 10, 10)
    big = torch.zeros(1, 1, COMPILE_MIN_ELEMENTS)
    assert resolve_compile('auto', small) is False
    assert resolve_compile('auto', big) is True
    assert resolve_compile(False, big) is False and resolve_compile(True, small) is True
    with pytest.raises(ValueError, match="compile must be"):
        resolve_compile('yes', small)


@pytest.mark.slow
def test_compiled_equals_eager_forward_and_backward():
    torch.manual_seed(0)
    cost = torch.rand(2, 96, 80) * 2
    weight = torch.randn(2, 96, 80)
    results = []
    for flag in (False, True):
        c = cost.clone().requires_grad_()
        plan = sinkhorn(c, eps=0.05, num_iters=5, compile=flag, domain='log')
        (plan * weight).sum().backward()
        p2 = partial_ot(cost, None, None, 0.4, eps=0.05, num_iters=5, compile=flag)
        results.append((plan.detach(), c.grad, p2))
    for eager, compiled in zip(*results):
        torch.testing.assert_close(compiled, eager, rtol=1e-4, atol=1e-6)


def test_compile_failure_falls_back_to_eager(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError('no C++ compiler')

    monkeypatch.setattr(sk, '_COMPILED', {k: broken for k in sk._EAGER})
    monkeypatch.setattr(sk, '_COMPILE_BROKEN', [])
    cost = torch.rand(1, 5, 4)
    with pytest.warns(RuntimeWarning, match='torch.compile failed'):
        out = sinkhorn(cost, eps=0.1, num_iters=3, compile=True, domain='log')
    torch.testing.assert_close(out, sinkhorn(cost, eps=0.1, num_iters=3, compile=False,
                                                    domain='log'))
    assert sk._COMPILE_BROKEN and resolve_compile('auto', torch.zeros(1, 1, 1 << 21)) is False
