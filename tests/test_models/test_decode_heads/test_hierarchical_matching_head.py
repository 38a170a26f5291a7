"""HierarchicalMatchingHead against a statement of HDMNet's meta learner in HDMNet's key
layout.

``_HDMMeta`` restates Pbihao/HDMNet ``model/HDMNet.py`` (reductions, Weighted_GAP, merges)
and ``model/Transformer.py`` / ``model/MaskMultiheadAttention.py`` (patch embeddings,
spatial-reduction self-attention with heads folded into the batch, the masked cosine cross
attention with its softmax over the query axis and ``masked_fill``, MixFFN, parse and
classifier blocks) with HDMNet's module names, so its state dict converts with
:func:`mmfss.utils.convert_hdmnet` as an HDMNet checkpoint does. HDMNet's code itself was
run as an oracle on identical random weights (docs/reference_parity.md).
"""
import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from mmfss.models import EpisodeFeatures
from mmfss.models.losses import attention_distillation_loss
from mmfss.models.utils.hierarchical_matching_transformer import masked_cosine_attention
from mmfss.utils import convert_hdmnet

C, E = 16, 16  # reduction and transformer widths of the test


class _Attn(nn.Module):  # MaskMultiHeadAttention inside EfficientMultiheadAttention

    def __init__(self, c, heads):
        super().__init__()
        self.heads = heads
        for n in 'qkvo':
            setattr(self, f'linear_{n}', nn.Linear(c, c, bias=False))

    def forward(self, q, k, v, mask, cross):
        q, k, v = self.linear_q(q), self.linear_k(k), self.linear_v(v)
        b, h = q.shape[0], self.heads

        def fold(x):
            n, c = x.shape[1:]
            return x.reshape(b, n, h, c // h).permute(0, 2, 1, 3).reshape(b * h, n, c // h)

        q, k, v = fold(q), fold(k), fold(v)
        if cross:
            mask = mask.repeat_interleave(h, 0)
            scores = torch.einsum('bmc,bnc->bmn', F.normalize(q, dim=2),
                                  F.normalize(k, dim=2)) / 0.1
            att = F.softmax(scores, dim=-2).masked_fill(mask == 0, 0)
            weight = (scores * mask).sum(2) / (mask.sum(2) + 1e-9)
        else:
            scores = torch.einsum('bmc,bnc->bmn', q, k) / (math.sqrt(q.shape[-1]) + 1e-9)
            att = F.softmax(scores, dim=-1)
            weight = scores.mean(2)
        weight = weight.reshape(b, h, -1).mean(1)
        y = att.matmul(v)
        n, d = y.shape[1:]
        y = y.reshape(b, h, n, d).permute(0, 2, 1, 3).reshape(b, n, h * d)
        return self.linear_o(y), weight


class _EffAttn(nn.Module):

    def __init__(self, c, heads, sr):
        super().__init__()
        self.sr_ratio = sr
        if sr > 1:
            self.sr = nn.Conv2d(c, c, sr, stride=sr)
            self.norm = nn.LayerNorm(c, eps=1e-6)
        self.attn = _Attn(c, heads)

    def forward(self, x, hw, source=None, mask=None, cross=False):
        kv = x if source is None else source
        if self.sr_ratio > 1:
            kv = self.sr(kv.transpose(1, 2).reshape(kv.shape[0], -1, *hw))
            kv = self.norm(kv.flatten(2).transpose(1, 2))
        return self.attn(x, kv, kv, mask, cross)


class _FFN(nn.Module):  # mmseg's MixFFN layout: layers.0 / .1 / .4 (HDMNet's one Dropout twice)

    def __init__(self, c):
        super().__init__()
        self.layers = nn.Sequential(nn.Conv2d(c, 4 * c, 1), nn.Conv2d(4 * c, 4 * c, 3, 1, 1,
                                                                       groups=4 * c),
                                    nn.GELU(), nn.Dropout(0.1), nn.Conv2d(4 * c, c, 1),
                                    nn.Dropout(0.1))

    def forward(self, x, hw):
        out = self.layers(x.transpose(1, 2).reshape(x.shape[0], -1, *hw))
        return out.flatten(2).transpose(1, 2)


class _Layer(nn.Module):  # TransformerEncoderLayer

    def __init__(self, c, heads, sr):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(c, eps=1e-6), nn.LayerNorm(c, eps=1e-6)
        self.attn, self.ffn = _EffAttn(c, heads, sr), _FFN(c)
        self.proj_drop = nn.Dropout(0.1)

    def forward(self, x, hw, source=None, mask=None, cross=False):
        out, weight = self.attn(self.norm1(x), hw,
                                None if source is None else self.norm1(source), mask, cross)
        x = x + self.proj_drop(out)
        return x + self.ffn(self.norm2(x), hw), weight


class _Embed(nn.Module):  # mmseg's PatchEmbed: projection + LN

    def __init__(self, c, k, s):
        super().__init__()
        self.projection = nn.Conv2d(c, c, k, s, s // 2)
        self.norm = nn.LayerNorm(c, eps=1e-6)

    def forward(self, x):
        x = self.projection(x)
        return self.norm(x.flatten(2).transpose(1, 2)), x.shape[-2:]


class _ConvBNReLU(nn.Module):  # mmcv ConvModule

    def __init__(self, cin, cout):
        super().__init__()
        self.conv, self.bn = nn.Conv2d(cin, cout, 3, 1, 1, bias=False), nn.BatchNorm2d(cout)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


def _block(c, final):
    layers = [nn.Conv2d(c, 4 * c, 1), nn.BatchNorm2d(4 * c), nn.Conv2d(4 * c, 4 * c, 3, 1, 1),
              nn.BatchNorm2d(4 * c)]
    return nn.Sequential(*layers, nn.Conv2d(4 * c, 2, 1)) if final else nn.Sequential(
        *layers, nn.Conv2d(4 * c, c, 1), nn.BatchNorm2d(c), nn.ReLU())


class _MixTransformer(nn.Module):

    def __init__(self, c, shot, n_sim=2):
        super().__init__()
        self.shot = shot
        self.down_sample_layers = nn.ModuleList([nn.ModuleList([
            _Embed(c, k, s), _Layer(c, h, sr), _Layer(c, h, sr), nn.LayerNorm(c, eps=1e-6)])
            for k, s, h, sr in ((1, 1, 2, 4), (3, 2, 4, 2), (3, 2, 8, 1))])
        self.match_layers = nn.ModuleList([nn.ModuleList([_Layer(c, 2, 1),
                                                          _ConvBNReLU(c + n_sim, c)])
                                           for _ in range(3)])
        self.parse_layers = nn.ModuleList([_block(c, False) for _ in range(3)])
        self.cls = _block(c, True)

    def forward(self, q, s, mask, sim):
        feats = []
        for i, (embed, l1, l2, norm) in enumerate(self.down_sample_layers):
            q, qhw = embed(q)
            s, shw = embed(s)
            q, s = l1(q, qhw)[0], l1(s, shw)[0]
            q, s = l2(q, qhw)[0], l2(s, shw)[0]
            q, s = norm(q), norm(s)
            m = F.interpolate(mask, size=tuple(shw), mode='nearest')
            b = q.shape[0]
            m = m.reshape(b, 1, -1).repeat(1, q.shape[1], 1)
            feats.append((q, qhw, s.reshape(b, -1, s.shape[-1]), m,
                          F.interpolate(sim, size=tuple(qhw), mode='bilinear',
                                        align_corners=True)))
            if i < 2:
                q = q.transpose(1, 2).reshape(b, -1, *qhw)
                s = s.transpose(1, 2).reshape(s.shape[0], -1, *shw)
        outs, weights = None, []
        for i in reversed(range(3)):
            q, qhw, s, m, sm = feats[i]
            out, weight = self.match_layers[i][0](q, qhw, source=s, mask=m, cross=True)
            out = out.transpose(1, 2).reshape(q.shape[0], -1, *qhw)
            weights.append(weight.view(q.shape[0], *qhw))
            out = self.match_layers[i][1](torch.cat([out, sm], 1))
            if outs is None:
                outs = self.parse_layers[i](out)
            else:
                outs = F.interpolate(outs, size=out.shape[-2:], mode='bilinear')
                outs = outs + self.parse_layers[i](out + outs)
        return self.cls(outs), weights


class _HDMMeta(nn.Module):

    def __init__(self, fea_dim, shot, c=C, e=E):
        super().__init__()
        self.shot = shot
        self.down_query = nn.Sequential(nn.Conv2d(fea_dim, c, 1, bias=False), nn.ReLU(),
                                        nn.Dropout2d(0.5))
        self.down_supp = nn.Sequential(nn.Conv2d(fea_dim, c, 1, bias=False), nn.ReLU(),
                                       nn.Dropout2d(0.5))
        self.query_merge = nn.Sequential(nn.Conv2d(2 * c + 2, e, 1, bias=False), nn.ReLU())
        self.supp_merge = nn.Sequential(nn.Conv2d(2 * c, e, 1, bias=False), nn.ReLU())
        self.transformer = nn.Module()
        self.transformer.mix_transformer = _MixTransformer(e, shot)

    def forward(self, query_feat, supp_feat, masks, similarity):
        """query_feat [B, F, h, w]; supp_feat [(B K), F, h, w]; masks [(B K), 1, H, W]."""
        q = self.down_query(query_feat)
        s = self.down_supp(supp_feat)
        m = F.interpolate(masks, size=s.shape[-2:], mode='bilinear', align_corners=True)
        area = F.avg_pool2d(m, s.shape[-2:]) * s.shape[2] * s.shape[3] + 0.0005
        proto = F.avg_pool2d(s * m, s.shape[-2:]) * s.shape[2] * s.shape[3] / area
        s_bin = proto.repeat(1, 1, *s.shape[-2:])
        s = self.supp_merge(torch.cat([s, s_bin], 1))
        mean_bin = s_bin.view(q.shape[0], self.shot, *s_bin.shape[1:]).mean(1)
        q = self.query_merge(torch.cat([q, mean_bin, similarity * 10], 1))
        return self.transformer.mix_transformer(q, s, masks, similarity)


def _randomise(module, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.2)
        for name, b in module.named_buffers():
            if name.endswith('running_mean'):
                b.copy_(torch.randn(b.shape, generator=g) * 0.1)
            elif name.endswith('running_var'):
                b.copy_(torch.rand(b.shape, generator=g) + 0.5)


def _pair(shot):
    ref = _HDMMeta(20, shot)
    _randomise(ref)
    head = MODELS.build(dict(
        type='HierarchicalMatchingHead', in_channels=[12, 8], in_index=[2, 1], channels=C,
        embed_dims=E, prior_keys=('prior_psp', 'prior'), align_corners=True,
        loss_decode=dict(type='CrossEntropyLoss', avg_non_ignore=True)))
    state = {f'module.{k}': v for k, v in ref.state_dict().items()
             if not k.endswith('num_batches_tracked')}
    converted = convert_hdmnet(state)
    prefix = 'decode_head.meta_head.'
    assert all(k.startswith(prefix) for k in converted)
    missing, unexpected = head.load_state_dict(
        {k[len(prefix):]: v for k, v in converted.items()}, strict=False)
    assert not unexpected and all(k.endswith('num_batches_tracked') for k in missing)
    return ref, head


def _episode(b, k, seed=1):
    g = torch.Generator().manual_seed(seed)
    feats = EpisodeFeatures(
        query_feats=[torch.zeros(b, 4, 12, 12), torch.randn(b, 8, 12, 12, generator=g),
                     torch.randn(b, 12, 12, 12, generator=g)],
        support_feats=[torch.zeros(b, k, 4, 12, 12), torch.randn(b, k, 8, 12, 12, generator=g),
                       torch.randn(b, k, 12, 12, 12, generator=g)],
        support_masks=(torch.rand(b, k, 65, 65, generator=g) > 0.5).long(),
        query_inputs=torch.zeros(b, 3, 65, 65), support_inputs=torch.zeros(b, k, 3, 65, 65),
        priors=dict(prior_psp=torch.rand(b, 1, 12, 12, generator=g) * 2 - 1,
                    prior=torch.rand(b, 1, 12, 12, generator=g) * 2 - 1))
    feats.support_masks[:, :, :, -3:] = 255
    y = (torch.rand(b, 65, 65, generator=g) > 0.5).long()
    y[:, :2] = 255
    return feats, y


def _ref_args(feats, k):
    return (torch.cat([feats.query_feats[2], feats.query_feats[1]], 1),
            torch.cat([feats.support_feats[2], feats.support_feats[1]], 2).flatten(0, 1),
            (feats.support_masks == 1).float().flatten(0, 1)[:, None],
            torch.cat([feats.priors['prior_psp'], feats.priors['prior']], 1))


@pytest.mark.parametrize('k', [1, 2])
def test_equals_hdmnets_meta_learner_in_eval_and_training(k):
    """Logits in eval; in training (dropout drawn in HDMNet's order, batch norms frozen as
    HDMNet's fix_bn) the cross-entropy and the distillation of the matching weights."""
    ref, head = _pair(k)
    feats, y = _episode(2, k)
    ref.eval()
    head.eval()
    with torch.no_grad():
        (expected, _), ours = ref(*_ref_args(feats, k)), head(feats)
    assert (ours - expected).abs().max() <= 1e-5 * expected.abs().max()
    ref.train()
    ref.apply(lambda m: m.eval() if isinstance(m, nn.BatchNorm2d) else None)
    head.train()
    assert not any(m.training for m in head.modules() if isinstance(m, nn.BatchNorm2d))
    torch.manual_seed(3)
    logits, weights = ref(*_ref_args(feats, k))
    up = F.interpolate(logits, size=(65, 65), mode='bilinear', align_corners=True)
    expected_ce = F.cross_entropy(up, y, ignore_index=255)
    # HDMNet's disstil_loss over the stages, coarsest first, teacher = the label
    t = (y == 1).float().masked_fill(y != 1, -1e9)
    expected_distill = 0
    for w in weights:
        tt = F.interpolate(t[:, None], size=w.shape[-2:], mode='bilinear')[:, 0]
        tt, s = tt.flatten(1).softmax(1), w.flatten(1).softmax(1)
        expected_distill = expected_distill + (tt * torch.log(tt + 1e-12) -
                                               tt * torch.log(s + 1e-12)).sum(1).mean()
        t = w.detach()
    samples = []
    for i in range(2):
        s = SegDataSample()
        s.gt_sem_seg = PixelData(data=y[i][None])
        samples.append(s)
    torch.manual_seed(3)
    losses = head.loss(feats, samples, dict())
    torch.testing.assert_close(losses['loss_ce'], expected_ce, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(losses['loss_distill'], expected_distill / 3, rtol=1e-5,
                               atol=1e-6)


def test_masked_cosine_attention_softmax_runs_over_the_query():
    """Each support position spreads a unit of attention over the query positions; support
    background columns carry none; the weight is the mean foreground score."""
    g = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(2, 3, n, 4, generator=g) for n in (5, 7, 7))
    mask = torch.tensor([1., 1., 0., 1., 0., 0., 1.]).view(1, 1, 1, 7).expand(2, 1, 1, 7)
    out, weight = masked_cosine_attention(q, k, v, mask)
    scores = F.cosine_similarity(q[:, :, :, None], k[:, :, None], dim=-1) / 0.1
    att = scores.softmax(dim=2) * mask
    torch.testing.assert_close(att.sum(2), mask[:, :, 0].expand(2, 3, 7))
    torch.testing.assert_close(out, att @ v)
    torch.testing.assert_close(weight, (scores[..., mask[0, 0, 0] == 1]).mean(-1).mean(1))


def test_distillation_teacher_is_uniform_over_the_object():
    """The first stage learns the label: a student equal to the label's logits (0 on the
    object, -1e9 elsewhere, resized) has zero loss; ignore pixels count as background."""
    y = torch.zeros(1, 8, 8, dtype=torch.long)
    y[0, 2:6, 2:6] = 1
    y[0, 0, 0] = 255
    student = torch.full((1, 8, 8), -1e9)
    student[0, 2:6, 2:6] = 0
    assert float(attention_distillation_loss([student], y)) < 1e-6
    assert float(attention_distillation_loss([torch.zeros(1, 8, 8)], y)) > 1.0


def test_needs_its_priors():
    _, head = _pair(1)
    feats, _ = _episode(1, 1)
    del feats.priors['prior_psp']
    with pytest.raises(KeyError, match="needs priors \\['prior_psp'\\]"):
        head(feats)
