import pytest
import torch
import torch.nn.functional as F
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


def _explicit_flow(neck, feats, stride):
    """CMNet's inner + cross flow written out per image on 4-D grids (one round)."""
    b, k = feats.batch_size, feats.shot
    q = neck._add_positions(neck.reduce(neck._concat(feats.query_feats)))
    s = neck._add_positions(neck.reduce(neck._concat(
        [f.flatten(0, 1) for f in feats.support_feats]))).unflatten(0, (b, k))

    def attend(layer, target, sources):  # target [C, h, w], sources list of [C, h', w']
        cells = [F.avg_pool2d(x[None], stride, stride, ceil_mode=True)[0]
                 for x in [target] + sources]
        tq = layer.query(cells[0].flatten(1)[None])[0]
        src = torch.cat([c.flatten(1) for c in cells[1:]], dim=1)[None]
        key, value = layer.key(src)[0], layer.value(src)[0]
        alpha = torch.softmax(tq.T @ key * layer.scale, dim=1)  # Eq. 7
        m = (alpha @ value.T).T.reshape(-1, *cells[0].shape[-2:])  # Eq. 8
        return F.interpolate(m[None], size=target.shape[-2:], mode='bilinear',
                             align_corners=False)[0]

    for name in neck.flows:
        layer = neck.layers[0][name]
        if name == 'inner':
            mq = torch.stack([attend(layer, q[i], [q[i]]) for i in range(b)])
            ms = torch.stack([torch.stack([attend(layer, s[i, j], [s[i, j]])
                                           for j in range(k)]) for i in range(b)])
        else:
            mq = torch.stack([attend(layer, q[i], list(s[i])) for i in range(b)])
            ms = torch.stack([torch.stack([attend(layer, s[i, j], [q[i]])
                                           for j in range(k)]) for i in range(b)])
        nodes = torch.cat([q.flatten(2), s.transpose(1, 2).flatten(2)], dim=2)
        msgs = torch.cat([mq.flatten(2), ms.transpose(1, 2).flatten(2)], dim=2)
        out = layer.update(nodes, msgs)  # Eq. 6, one batch-norm call over all nodes
        nq = q[0, 0].numel()
        q = out[:, :, :nq].view_as(q)
        s = out[:, :, nq:].unflatten(2, (k, -1)).transpose(1, 2).reshape(s.shape)
    return q, s


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
        # the update split into the node and message halves of its first conv
        message = layer.message(target, source)
        assert layer.splits_update
        torch.testing.assert_close(layer.update_projected(target, layer.project_message(message)),
                                   layer.update(target, message), rtol=1e-5, atol=1e-5)
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

    @pytest.mark.parametrize('stride', [1, 2, 4])
    def test_message_stride(self, stride, monkeypatch):
        # messages between s x s cell averages (ceil_mode: the 6 x 5 query grid has 3 x 3
        # cells at s = 2), resized back to every node; s = 1 is every node
        neck = _neck(message_stride=stride)
        feats = _feats()
        calls = []
        sdpa = F.scaled_dot_product_attention

        def spy(q, k, v, **kw):
            calls.append((q.shape[-2], k.shape[-2]))
            return sdpa(q, k, v, **kw)

        monkeypatch.setattr(F, 'scaled_dot_product_attention', spy)
        with torch.no_grad():
            out = neck(_feats())
            q, s = _explicit_flow(neck, feats, stride)
        torch.testing.assert_close(out.query_feats[-1], q, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(out.support_feats[-1], s, rtol=1e-5, atol=1e-5)
        nq = (-(-6 // stride)) * (-(-5 // stride))
        ns = (-(-4 // stride)) ** 2
        assert calls == [(nq, nq), (ns, ns), (nq, 2 * ns), (ns, nq)]

    def test_message_stride_trains(self, monkeypatch):
        # with s > 1 the message's half of the update's first conv runs on the cells: the
        # training step (batch statistics) equals resizing the messages first, gradients too
        def step():
            torch.manual_seed(1)
            neck = _neck(message_stride=2)
            neck.train()
            out = neck(_feats())
            loss = out.query_feats[-1].square().mean() + out.support_feats[-1].square().mean()
            loss.backward()
            assert all(p.grad is not None and torch.isfinite(p.grad).all()
                       for p in neck.parameters())
            return out, {n: p.grad for n, p in neck.named_parameters()}

        split, split_grads = step()
        monkeypatch.setattr(MessagePassing, 'splits_update', property(lambda self: False))
        whole, whole_grads = step()
        torch.testing.assert_close(split.query_feats[-1], whole.query_feats[-1], rtol=1e-5,
                                   atol=1e-5)
        torch.testing.assert_close(split.support_feats[-1], whole.support_feats[-1],
                                   rtol=1e-5, atol=1e-5)
        for name, grad in split_grads.items():
            torch.testing.assert_close(grad, whole_grads[name], rtol=1e-4, atol=1e-5,
                                       msg=name)

    @pytest.mark.parametrize('kw, match', [
        (dict(message_stride=0), 'message_stride'),
        (dict(message_stride=2.0), 'message_stride'),
        (dict(flows=('inner', 'sideways')), 'flows must be'),
        (dict(flows=('inner', 'inner')), 'flows must be'),
        (dict(num_rounds=0), 'num_rounds'),
        (dict(in_channels=[8]), 'same length'),
    ])
    def test_bad_arguments(self, kw, match):
        with pytest.raises(ValueError, match=match):
            _neck(**kw)
