import pytest
import torch
from mmseg.registry import MODELS

from mmfss.models import EpisodeFeatures
from mmfss.models.necks import LearnedPositionalEncoding, MessagePassing


def _feats(b=2, k=2, hq=6, wq=5, hs=4, ws=4, c=(8, 12)):
    torch.manual_seed(0)
    query = [torch.randn(b, c[0], hq, wq), torch.randn(b, c[1], hq // 2, wq // 2)]
    support = [torch.randn(b, k, c[0], hs, ws), torch.randn(b, k, c[1], hs // 2, ws // 2)]
    return EpisodeFeatures(query_feats=query, support_feats=support,
                           support_masks=torch.randint(0, 2, (b, k, 16, 16)),
                           query_inputs=torch.zeros(b, 3, 16, 16),
                           support_inputs=torch.zeros(b, k, 3, 16, 16))


def _neck(**kw):
    cfg = dict(type='MessageFlowNeck', in_channels=[8, 12], in_index=[0, 1], channels=16)
    cfg.update(kw)
    neck = MODELS.build(cfg)
    neck.eval()  # batch norm in eval: outputs of one episode do not depend on the others
    return neck


class TestMessagePassing:

    def test_equations(self):
        torch.manual_seed(0)
        layer = MessagePassing(6).eval()
        target, source = torch.randn(2, 6, 5), torch.randn(2, 6, 7)
        q = layer.query(target)
        k = layer.key(source)
        v = layer.value(source)
        out = torch.empty_like(target)
        for n in range(2):
            for i in range(5):
                alpha = torch.softmax(torch.stack(
                    [q[n, :, i] @ k[n, :, j] for j in range(7)]) / 6**0.5, dim=0)  # Eq. 7
                m = (alpha[None] * v[n]).sum(dim=1)  # Eq. 8
                f = target[n, :, i]
                out[n, :, i] = f + layer.mlp(torch.cat([f, m])[None, :, None])[0, :, 0]  # Eq. 6
        torch.testing.assert_close(layer(target, source), out, rtol=1e-5, atol=1e-5)
        unscaled = MessagePassing(6, attn_scale='none')
        assert unscaled.scale == 1.0
        with pytest.raises(ValueError, match='attn_scale'):
            MessagePassing(6, attn_scale='cosine')


class TestPositionalEncoding:

    def test_rows_columns_and_resizing(self):
        enc = LearnedPositionalEncoding(8, num_positions=10)
        pe = enc(10, 10)
        assert pe.shape == (1, 8, 10, 10)
        # the first half depends on the row only, the second on the column only
        assert torch.equal(pe[0, :4, 3, 0], pe[0, :4, 3, 7])
        assert torch.equal(pe[0, 4:, 0, 2], pe[0, 4:, 9, 2])
        assert not torch.equal(pe[0, :4, 3, 0], pe[0, :4, 4, 0])
        small = enc(4, 3)
        assert small.shape == (1, 8, 4, 3)
        torch.testing.assert_close(small[0, :4, 0, 0], pe[0, :4, 0, 0])  # ends line up
        torch.testing.assert_close(small[0, :4, -1, 0], pe[0, :4, -1, 0])
        with pytest.raises(ValueError, match='even'):
            LearnedPositionalEncoding(7)


class TestMessageFlowNeck:

    def test_shapes_and_appended_level(self):
        feats = _feats()
        out = _neck(num_rounds=2)(feats)
        assert len(out.query_feats) == len(out.support_feats) == 3
        assert out.query_feats[-1].shape == (2, 16, 6, 5)
        assert out.support_feats[-1].shape == (2, 2, 16, 4, 4)

    def test_gradients_reach_every_parameter(self):
        neck = _neck(num_rounds=2)
        neck.train()
        out = neck(_feats())
        (out.query_feats[-1].square().mean() + out.support_feats[-1].square().mean()).backward()
        for name, p in neck.named_parameters():
            assert p.grad is not None and torch.isfinite(p.grad).all(), name
            assert p.grad.abs().sum() > 0, name

    def test_inner_flow_keeps_images_apart(self):
        neck = _neck(flows=('inner', ))
        feats, other = _feats(), _feats()
        other.support_feats = [f * 2 + 1 for f in other.support_feats]
        a, b = neck(feats), neck(other)
        torch.testing.assert_close(a.query_feats[-1], b.query_feats[-1])
        assert not torch.allclose(a.support_feats[-1], b.support_feats[-1])

    def test_cross_flow_mixes_query_and_supports(self):
        neck = _neck(flows=('cross', ))
        feats, other = _feats(), _feats()
        other.support_feats = [f * 2 + 1 for f in other.support_feats]
        a, b = neck(feats), neck(other)
        assert not torch.allclose(a.query_feats[-1], b.query_feats[-1])
        # the query attends to the union of the K supports: their order does not matter
        swapped = _feats()
        swapped.support_feats = [f.flip(1) for f in swapped.support_feats]
        c = neck(swapped)
        torch.testing.assert_close(a.query_feats[-1], c.query_feats[-1], rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(a.support_feats[-1], c.support_feats[-1].flip(1),
                                   rtol=1e-5, atol=1e-5)

    def test_rounds_and_flows_configurable(self):
        neck = _neck(flows=('cross', 'inner'), num_rounds=3)
        assert len(neck.layers) == 3 and list(neck.layers[0].keys()) == ['cross', 'inner']
        bare = _neck(flows=())
        out = bare(_feats())
        assert out.query_feats[-1].shape == (2, 16, 6, 5)  # node features + positions only

    @pytest.mark.parametrize('kw, match', [
        (dict(flows=('inner', 'sideways')), 'flows must be'),
        (dict(flows=('inner', 'inner')), 'flows must be'),
        (dict(num_rounds=0), 'num_rounds'),
        (dict(in_channels=[8]), 'same length'),
    ])
    def test_bad_arguments(self, kw, match):
        with pytest.raises(ValueError, match=match):
            _neck(**kw)
