import math

import pytest
import torch
from mmseg.registry import MODELS

from mmfss.models.losses import graph_contrastive_loss


def _nodes(*columns):
    """[1, C, N] from per-node channel vectors."""
    return torch.tensor(columns, dtype=torch.float64).T[None]


class TestGraphContrastiveLoss:

    def test_hand_values(self):
        # three nodes, 2-d embeddings, tau = 0.5: nodes 0 and 1 on the object, node 2 on
        # the background
        query = _nodes([1, 0], [0, 1], [1, 1])
        obj = torch.tensor([[1.0, 1.0, 0.0]], dtype=torch.float64)
        bg = torch.tensor([[0.0, 0.0, 1.0]], dtype=torch.float64)
        s_obj = _nodes([1, 0], [1, 1], [5, 5])
        s_bg = _nodes([0, 1], [0, -1], [-3, 2])
        tau = 0.5
        r = 2**-0.5
        # object nodes only: cos(Q, So) = (1, 1/sqrt2), cos(Q, Sb) = (0, -1)
        pos, neg = [1 / tau, r / tau], [0.0, -1 / tau]
        gcl = sum(-math.log(math.exp(p) / (math.exp(p) + math.exp(n)))
                  for p, n in zip(pos, neg)) / 2
        # the query background graph pooled: Qb = (1, 1); cos(Qb, So_i) = (1/sqrt2, 1),
        # cos(Qb, Sb_i) = (1/sqrt2, -1/sqrt2)
        qb_so, qb_sb = [r / tau, 1 / tau], [r / tau, -r / tau]
        gcl2 = sum(-math.log(math.exp(p) / (math.exp(n) + math.exp(a) + math.exp(b)))
                   for p, n, a, b in zip(pos, neg, qb_so, qb_sb)) / 2
        args = (query, obj, bg, s_obj, s_bg)
        assert float(graph_contrastive_loss(*args, tau=tau)) == pytest.approx(gcl, rel=1e-9)
        assert float(graph_contrastive_loss(*args, tau=tau, variant='gcl2')) == pytest.approx(
            gcl2, rel=1e-9)
        # background nodes add nothing (no constant log 2); fractions weigh the nodes
        more_bg = (torch.cat([query, _nodes([2, -1])], 2), torch.cat([obj, obj.new_zeros(1, 1)], 1),
                   torch.cat([bg, bg.new_ones(1, 1)], 1), torch.cat([s_obj, _nodes([0, 1])], 2),
                   torch.cat([s_bg, _nodes([1, 1])], 2))
        assert float(graph_contrastive_loss(*more_bg, tau=tau)) == pytest.approx(gcl, rel=1e-9)
        half = obj.clone()
        half[0, 1] = 0.5
        terms = [-p + math.log(math.exp(p) + math.exp(n)) for p, n in zip(pos, neg)]
        expected = (terms[0] + 0.5 * terms[1]) / 1.5
        assert float(graph_contrastive_loss(query, half, bg, s_obj, s_bg, tau=tau)) == \
            pytest.approx(expected, rel=1e-9)
        # no background node: L_GCL2 drops the query-background terms
        no_bg = torch.zeros_like(bg)
        gcl2_alone = sum(-p + n for p, n in zip(pos, neg)) / 2
        assert float(graph_contrastive_loss(query, obj, no_bg, s_obj, s_bg, tau=tau,
                                            variant='gcl2')) == pytest.approx(gcl2_alone,
                                                                              rel=1e-9)

    def test_module_and_gradients(self):
        loss = MODELS.build(dict(type='GraphContrastiveLoss', variant='gcl2', tau=0.2,
                                 loss_weight=0.5))
        assert loss.loss_name == 'loss_gcl'
        q, s_obj, s_bg = (torch.randn(2, 4, 6, requires_grad=True) for _ in range(3))
        obj = (torch.rand(2, 6) > 0.5).float()
        value = loss(q, obj, 1 - obj, s_obj, s_bg)
        expected = 0.5 * graph_contrastive_loss(q, obj, 1 - obj, s_obj, s_bg, tau=0.2,
                                                variant='gcl2')
        torch.testing.assert_close(value, expected)
        value.backward()
        assert all(t.grad is not None and torch.isfinite(t.grad).all() for t in (q, s_obj, s_bg))
        # pulling the query object toward the support object lowers L_GCL
        q = torch.randn(1, 4, 3)
        s_obj, s_bg = torch.randn(1, 4, 3), torch.randn(1, 4, 3)
        ones, zeros = torch.ones(1, 3), torch.zeros(1, 3)
        far = graph_contrastive_loss(q, ones, zeros, s_obj, s_bg)
        near = graph_contrastive_loss(s_obj + 0.01 * q, ones, zeros, s_obj, s_bg)
        assert near < far
        # no object node: zero, and still differentiable
        q.requires_grad_(True)
        empty = graph_contrastive_loss(q, zeros, ones, s_obj, s_bg)
        empty.backward()
        assert float(empty.detach()) == 0 and torch.isfinite(q.grad).all()

    def test_bad_arguments(self):
        with pytest.raises(ValueError, match='variant'):
            MODELS.build(dict(type='GraphContrastiveLoss', variant='gcl3'))
        with pytest.raises(ValueError, match='tau'):
            MODELS.build(dict(type='GraphContrastiveLoss', tau=0))


@pytest.mark.parametrize('variant', ['gcl', 'gcl2'])
@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_half_precision_messages_with_zero_norm(variant, dtype):
    """Support messages of zero norm (an empty support background) in float16: the cosine's
    eps (1e-8) is 0 in float16, so computing there gave 0 / 0 = NaN; the loss is float32."""
    torch.manual_seed(0)
    query, support_obj = torch.randn(2, 8, 16), torch.randn(2, 8, 16)
    support_bg = torch.zeros(2, 8, 16)
    obj = torch.rand(2, 16)
    args = (query, obj, 1 - obj, support_obj, support_bg)
    full = graph_contrastive_loss(*args, variant=variant)
    half = graph_contrastive_loss(*(t.to(dtype) for t in args), variant=variant)
    assert half.dtype == torch.float32 and torch.isfinite(half)
    torch.testing.assert_close(half, full, rtol=2e-2, atol=2e-2)
    with torch.autocast('cpu', dtype=dtype):
        assert torch.isfinite(graph_contrastive_loss(*args, variant=variant))
