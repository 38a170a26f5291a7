import pytest
import torch
from mmcv.cnn import ConvModule

from mmfss.models.utils import after_conv, conv_channels, splits_by_channels


def _parts_sum(module, parts):
    out, start = 0, 0
    for i, x in enumerate(parts):
        out = out + conv_channels(module, x, start, start + x.shape[1], bias=i == 0)
        start += x.shape[1]
    return after_conv(module, out)


@pytest.mark.parametrize('kw, shape', [
    (dict(kernel_size=1, conv_cfg=dict(type='Conv1d'), norm_cfg=dict(type='BN1d')), (7, )),
    (dict(kernel_size=3, padding=1, norm_cfg=dict(type='BN')), (6, 5)),
    (dict(kernel_size=3, padding=2, dilation=2, stride=2, norm_cfg=dict(type='BN')), (9, 8)),
    (dict(kernel_size=3, padding=1, norm_cfg=dict(type='BN'), order=('conv', 'act', 'norm')),
     (5, 5)),
    (dict(kernel_size=3, padding=1, bias=True, norm_cfg=None), (5, 4)),
    (dict(kernel_size=1, norm_cfg=None, act_cfg=None), (3, 4)),
])
@pytest.mark.parametrize('training', [False, True])
def test_parts_sum_to_the_concatenation(kw, shape, training):
    torch.manual_seed(0)
    module = ConvModule(7, 5, **kw).train(training)
    if module.with_norm:  # non-trivial running statistics for evaluation
        module.norm.running_mean.uniform_(-1, 1)
        module.norm.running_var.uniform_(0.5, 2)
    assert splits_by_channels(module)
    parts = [torch.randn(2, c, *shape, requires_grad=True) for c in (4, 1, 2)]
    whole = module(torch.cat(parts, dim=1))
    split = _parts_sum(module, parts)
    torch.testing.assert_close(split, whole, rtol=1e-5, atol=1e-5)
    # gradients reach the weights, the bias and every part the same way
    g = torch.randn_like(whole)
    grads_whole = torch.autograd.grad(whole, [module.conv.weight, *parts], g)
    grads_split = torch.autograd.grad(split, [module.conv.weight, *parts], g)
    for a, b in zip(grads_split, grads_whole):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('kw', [
    dict(kernel_size=3, padding=1, groups=7),
    dict(kernel_size=3, padding=1, padding_mode='reflect'),
    dict(kernel_size=3, padding=1, order=('norm', 'conv', 'act'), norm_cfg=dict(type='BN')),
])
def test_layers_that_do_not_split(kw):
    assert not splits_by_channels(ConvModule(7, 7, **kw))
