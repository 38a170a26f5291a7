"""FeatureEnrichmentHead against a statement of PFENet's FEM in PFENet's own key layout.

``_PFENetFEM`` restates dvlab-research/PFENet ``model/PFENet.py`` (the part after the
backbone: the reductions, Weighted_GAP, the prior's resizes, the scale loop, res1/res2/cls,
the main and auxiliary losses) with PFENet's module names, so its state dict converts with
:func:`mmfss.utils.convert_pfenet` exactly as a PFENet checkpoint does. The reference code
itself was run as an oracle on identical random weights (docs/reference_parity.md).
"""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from mmfss.models import EpisodeFeatures
from mmfss.utils import convert_pfenet

C = 16  # reduce_dim


def _seq(*layers):
    return nn.Sequential(*layers)


class _PFENetFEM(nn.Module):
    """PFENet's modules after the backbone, with its names and its forward."""

    def __init__(self, fea_dim, scales, C=C):  # noqa: N803  (PFENet's reduce_dim)
        super().__init__()
        self.scales = scales
        relu = lambda: nn.ReLU(inplace=True)  # noqa: E731
        self.down_query = _seq(nn.Conv2d(fea_dim, C, 1, bias=False), relu(), nn.Dropout2d(0.5))
        self.down_supp = _seq(nn.Conv2d(fea_dim, C, 1, bias=False), relu(), nn.Dropout2d(0.5))
        self.init_merge = nn.ModuleList(
            _seq(nn.Conv2d(2 * C + 1, C, 1, bias=False), relu()) for _ in scales)
        self.beta_conv = nn.ModuleList(
            _seq(nn.Conv2d(C, C, 3, padding=1, bias=False), relu(),
                 nn.Conv2d(C, C, 3, padding=1, bias=False), relu()) for _ in scales)
        self.inner_cls = nn.ModuleList(
            _seq(nn.Conv2d(C, C, 3, padding=1, bias=False), relu(), nn.Dropout2d(0.1),
                 nn.Conv2d(C, 2, 1)) for _ in scales)
        self.alpha_conv = nn.ModuleList(
            _seq(nn.Conv2d(2 * C, C, 1, bias=False), nn.ReLU()) for _ in scales[1:])
        self.res1 = _seq(nn.Conv2d(C * len(scales), C, 1, bias=False), relu())
        self.res2 = _seq(nn.Conv2d(C, C, 3, padding=1, bias=False), relu(),
                         nn.Conv2d(C, C, 3, padding=1, bias=False), relu())
        self.cls = _seq(nn.Conv2d(C, C, 3, padding=1, bias=False), relu(), nn.Dropout2d(0.1),
                        nn.Conv2d(C, 2, 1))

    def forward(self, query_feat, supp_feats, masks, prior, out_size, y=None):
        """query_feat [B, F, h, w]; supp_feats: K x [B, F, h, w]; masks: K x [B, H, W]
        labels; prior [B, 1, h', w'] (the shots' mean)."""
        up = dict(mode='bilinear', align_corners=True)
        query_feat = self.down_query(query_feat)
        protos = []
        for feat, mask in zip(supp_feats, masks):
            feat = self.down_supp(feat)
            m = F.interpolate((mask == 1).float().unsqueeze(1), size=feat.shape[-2:], **up)
            area = F.avg_pool2d(m, feat.shape[-2:]) * feat.shape[2] * feat.shape[3] + 0.0005
            protos.append(F.avg_pool2d(feat * m, feat.shape[-2:]) * feat.shape[2] *
                          feat.shape[3] / area)
        proto = protos[0]
        for p in protos[1:]:
            proto = proto + p
        proto = proto / len(protos)
        prior = F.interpolate(prior, size=query_feat.shape[-2:], **up)
        outs, pyramid = [], []
        for idx, scale in enumerate(self.scales):
            size = scale if scale > 1 else int(query_feat.shape[2] * scale)
            q = nn.AdaptiveAvgPool2d(size)(query_feat)
            merged = self.init_merge[idx](torch.cat(
                [q, proto.expand(-1, -1, size, size), F.interpolate(prior, (size, size), **up)],
                1))
            if idx >= 1:
                prev = F.interpolate(pyramid[idx - 1].clone(), size=(size, size), **up)
                merged = self.alpha_conv[idx - 1](torch.cat([merged, prev], 1)) + merged
            merged = self.beta_conv[idx](merged) + merged
            outs.append(self.inner_cls[idx](merged))
            pyramid.append(F.interpolate(merged, size=query_feat.shape[-2:], **up))
        x = self.res1(torch.cat(pyramid, 1))
        x = self.res2(x) + x
        out = F.interpolate(self.cls(x), size=out_size, **up)
        if y is None:
            return out
        ce = nn.CrossEntropyLoss(ignore_index=255)
        aux = sum(ce(F.interpolate(o, size=out_size, **up), y) for o in outs) / len(outs)
        return out, ce(out, y), aux


def _randomise(module, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.2)


def _episode(b, k, seed=1):
    g = torch.Generator().manual_seed(seed)
    l3 = torch.randn(b, 12, 9, 9, generator=g)
    l2 = torch.randn(b, 8, 9, 9, generator=g)
    s3 = torch.randn(b, k, 12, 9, 9, generator=g)
    s2 = torch.randn(b, k, 8, 9, 9, generator=g)
    masks = (torch.rand(b, k, 65, 65, generator=g) > 0.5).long()
    masks[..., :4, :] = 255
    prior = torch.rand(b, 1, 9, 9, generator=g)
    y = (torch.rand(b, 65, 65, generator=g) > 0.5).long()
    y[:, -3:] = 255
    l1, s1 = torch.zeros(b, 4, 9, 9), torch.zeros(b, k, 4, 9, 9)  # a level the head skips
    feats = EpisodeFeatures(query_feats=[l1, l2, l3], support_feats=[s1, s2, s3],
                            support_masks=masks, query_inputs=torch.zeros(b, 3, 65, 65),
                            support_inputs=torch.zeros(b, k, 3, 65, 65),
                            priors=dict(prior=prior))
    return feats, y


def _pair(scales, seed=0):
    ref = _PFENetFEM(20, scales)
    _randomise(ref, seed)
    head = MODELS.build(dict(
        type='FeatureEnrichmentHead', in_channels=[12, 8], in_index=[2, 1], channels=C,
        scales=scales, num_classes=2, align_corners=True,
        loss_decode=dict(type='CrossEntropyLoss', avg_non_ignore=True)))
    converted = convert_pfenet({'state_dict': {f'module.{k}': v
                                               for k, v in ref.state_dict().items()}})
    head.load_state_dict({k[len('decode_head.'):]: v for k, v in converted.items()},
                         strict=True)
    return ref, head


def _ref_inputs(feats):
    query = torch.cat([feats.query_feats[2], feats.query_feats[1]], 1)
    k = feats.support_masks.shape[1]
    supports = [torch.cat([feats.support_feats[2][:, i], feats.support_feats[1][:, i]], 1)
                for i in range(k)]
    return query, supports, [feats.support_masks[:, i] for i in range(k)]


@pytest.mark.parametrize('scales', [(12, 6, 3, 2), (1.0, 0.5, 0.25, 0.125)])
@pytest.mark.parametrize('k', [1, 3])
def test_equals_pfenet_in_eval_and_training(scales, k):
    ref, head = _pair(scales)
    feats, y = _episode(2, k)
    query, supports, masks = _ref_inputs(feats)
    ref.eval()
    head.eval()
    with torch.no_grad():
        expected = ref(query, supports, masks, feats.priors['prior'], (65, 65))
        ours = F.interpolate(head(feats), size=(65, 65), mode='bilinear', align_corners=True)
    # 1e-5 of the largest logit (float32 sums in another order: torch.mean vs PFENet's adds)
    assert (ours - expected).abs().max() <= 1e-5 * expected.abs().max()
    # training: the same dropout draws in the same order, the losses as PFENet's train.py
    ref.train()
    head.train()
    torch.manual_seed(7)
    _, main, aux = ref(query, supports, masks, feats.priors['prior'], (65, 65), y)
    samples = []
    for i in range(2):
        s = SegDataSample()
        s.gt_sem_seg = PixelData(data=y[i][None])
        samples.append(s)
    torch.manual_seed(7)
    losses = head.loss(feats, samples, dict())
    torch.testing.assert_close(losses['loss_ce'], main, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(losses['loss_aux'], aux, rtol=1e-5, atol=1e-6)
    (losses['loss_ce'] + losses['loss_aux']).backward()
    assert all(p.grad is not None for p in head.parameters())


def test_no_norm_no_bias_where_pfenet_has_none():
    _, head = _pair((12, 6, 3, 2))
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in head.modules())
    biased = sorted(n for n, _ in head.named_parameters() if n.endswith('.bias'))
    assert biased == ['conv_seg.bias'] + [f'inner_cls.{i}.2.bias' for i in range(4)]


def test_bad_arguments():
    with pytest.raises(ValueError, match='scales must be bins'):
        MODELS.build(dict(type='FeatureEnrichmentHead', in_channels=[4], in_index=[0],
                          channels=8, scales=(60, 0)))
    _, head = _pair((12, 6))
    feats, _ = _episode(1, 1)
    feats.priors = {}
    with pytest.raises(KeyError, match='add a PriorMaskNeck'):
        head(feats)
