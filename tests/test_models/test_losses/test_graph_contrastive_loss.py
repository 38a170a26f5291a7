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
        # two nodes, 2-d embeddings; tau = 0.5
        q_obj = _nodes([1, 0], [0, 1])
        q_bg = _nodes([0, 0], [1, 1])  # node 0 has no background part: similarity 0
        s_obj = _nodes([1, 0], [1, 1])
        s_bg = _nodes([0, 1], [0, -1])
        tau = 0.5
        # cosines per node: s(Qo,So) = (1, 1/sqrt2), s(Qo,Sb) = (0, -1),
        # s(Qb,So) = (0, 1), s(Qb,Sb) = (0, -1/sqrt2)
        r = 2**-0.5
        pos = [1 / tau, r / tau]
        neg = [0.0, -1 / tau]
        gcl = -sum(math.log(math.exp(p) / (math.exp(p) + math.exp(n)))
                   for p, n in zip(pos, neg)) / 2
        qb_so, qb_sb = [0.0, 1 / tau], [0.0, -r / tau]
        gcl2 = -sum(math.log(math.exp(p) / (math.exp(n) + math.exp(a) + math.exp(b)))
                    for p, n, a, b in zip(pos, neg, qb_so, qb_sb)) / 2
        args = (q_obj, q_bg, s_obj, s_bg)
        assert float(graph_contrastive_loss(*args, tau=tau)) == pytest.approx(gcl, rel=1e-9)
        assert float(graph_contrastive_loss(*args, tau=tau, variant='gcl2')) == pytest.approx(
            gcl2, rel=1e-9)

    def test_module_and_gradients(self):
        loss = MODELS.build(dict(type='GraphContrastiveLoss', variant='gcl2', tau=0.2,
                                 loss_weight=0.5))
        assert loss.loss_name == 'loss_gcl'
        x = [torch.randn(2, 4, 6, requires_grad=True) for _ in range(4)]
        value = loss(*x)
        expected = 0.5 * graph_contrastive_loss(*x, tau=0.2, variant='gcl2')
        torch.testing.assert_close(value, expected)
        value.backward()
        assert all(t.grad is not None and torch.isfinite(t.grad).all() for t in x)
        # pulling the query object toward the support object lowers L_GCL
        q = torch.randn(1, 4, 3)
        s_obj, s_bg = torch.randn(1, 4, 3), torch.randn(1, 4, 3)
        far = graph_contrastive_loss(q, q, s_obj, s_bg)
        near = graph_contrastive_loss(s_obj + 0.01 * q, q, s_obj, s_bg)
        assert near < far

    def test_bad_arguments(self):
        with pytest.raises(ValueError, match='variant'):
            MODELS.build(dict(type='GraphContrastiveLoss', variant='gcl3'))
        with pytest.raises(ValueError, match='tau'):
            MODELS.build(dict(type='GraphContrastiveLoss', tau=0))
