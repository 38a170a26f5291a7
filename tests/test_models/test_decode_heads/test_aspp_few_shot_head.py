"""ASPPFewShotHead against a statement of BAM's meta learner in BAM's own key layout.

``_BAMMeta`` restates chunbolang/BAM ``model/BAM.py`` (the meta learner: reductions,
Weighted_GAP, the shot-weighted prototype, init_merge, ``model/ASPP.py``, res1/res2_meta,
cls_meta) with BAM's module names, so its state dict converts with
:func:`mmfss.utils.convert_bam` as a BAM checkpoint does. BAM's code itself was run as an
oracle on identical random weights (docs/reference_parity.md).
"""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from mmfss.models import EpisodeFeatures
from mmfss.utils import convert_bam

C = 16


class _BAMASPP(nn.Module):

    def __init__(self, c):
        super().__init__()
        self.layer6_0 = nn.Sequential(nn.Conv2d(c, c, 1, bias=True), nn.ReLU())
        self.layer6_1 = nn.Sequential(nn.Conv2d(c, c, 1, bias=True), nn.ReLU())
        for i, d in enumerate((6, 12, 18), 2):
            setattr(self, f'layer6_{i}', nn.Sequential(
                nn.Conv2d(c, c, 3, padding=d, dilation=d, bias=True), nn.ReLU()))

    def forward(self, x):
        pooled = self.layer6_0(F.avg_pool2d(x, kernel_size=x.shape[-2:]))
        return torch.cat([pooled.expand(-1, -1, *x.shape[-2:])] +
                         [getattr(self, f'layer6_{i}')(x) for i in range(1, 5)], 1)


class _BAMMeta(nn.Module):

    def __init__(self, fea_dim, c=C):
        super().__init__()
        self.down_query = nn.Sequential(nn.Conv2d(fea_dim, c, 1, bias=False),
                                        nn.ReLU(inplace=True), nn.Dropout2d(0.5))
        self.down_supp = nn.Sequential(nn.Conv2d(fea_dim, c, 1, bias=False),
                                       nn.ReLU(inplace=True), nn.Dropout2d(0.5))
        self.init_merge = nn.Sequential(nn.Conv2d(2 * c + 1, c, 1, bias=False),
                                        nn.ReLU(inplace=True))
        self.ASPP_meta = _BAMASPP(c)
        self.res1_meta = nn.Sequential(nn.Conv2d(5 * c, c, 1, bias=False), nn.ReLU(inplace=True))
        self.res2_meta = nn.Sequential(nn.Conv2d(c, c, 3, padding=1, bias=False),
                                       nn.ReLU(inplace=True),
                                       nn.Conv2d(c, c, 3, padding=1, bias=False),
                                       nn.ReLU(inplace=True))
        self.cls_meta = nn.Sequential(nn.Conv2d(c, c, 3, padding=1, bias=False),
                                      nn.ReLU(inplace=True), nn.Dropout2d(0.1),
                                      nn.Conv2d(c, 2, 1))

    def forward(self, query_feat, supp_feats, masks, prior, weights):
        query_feat = self.down_query(query_feat)
        protos = []
        for feat, mask in zip(supp_feats, masks):
            feat = self.down_supp(feat)
            m = F.interpolate((mask == 1).float().unsqueeze(1), size=feat.shape[-2:],
                              mode='bilinear', align_corners=True)
            area = F.avg_pool2d(m, feat.shape[-2:]) * feat.shape[2] * feat.shape[3] + 0.0005
            protos.append(F.avg_pool2d(feat * m, feat.shape[-2:]) * feat.shape[2] *
                          feat.shape[3] / area)
        proto = torch.cat(protos, 2)  # [B, C, K, 1]
        proto = (weights[:, None, :, None] * proto).sum(2, True)
        prior = F.interpolate(prior, size=query_feat.shape[-2:], mode='bilinear',
                              align_corners=True)
        x = self.init_merge(torch.cat([query_feat, proto.expand_as(query_feat), prior], 1))
        x = self.res1_meta(self.ASPP_meta(x))
        x = self.res2_meta(x) + x
        return self.cls_meta(x)


def _randomise(module, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.2)


def _pair():
    ref = _BAMMeta(20)
    _randomise(ref)
    head = MODELS.build(dict(type='ASPPFewShotHead', in_channels=[12, 8], in_index=[2, 1],
                             channels=C, num_classes=2, align_corners=True,
                             loss_decode=dict(type='CrossEntropyLoss', avg_non_ignore=True)))
    converted = convert_bam({f'module.{k}': v for k, v in ref.state_dict().items()})
    prefix = 'decode_head.meta_head.'
    assert all(k.startswith(prefix) for k in converted)
    head.load_state_dict({k[len(prefix):]: v for k, v in converted.items()}, strict=True)
    return ref, head


def _episode(b, k, seed=1):
    g = torch.Generator().manual_seed(seed)
    feats = EpisodeFeatures(
        query_feats=[torch.zeros(b, 4, 9, 9), torch.randn(b, 8, 9, 9, generator=g),
                     torch.randn(b, 12, 9, 9, generator=g)],
        support_feats=[torch.zeros(b, k, 4, 9, 9), torch.randn(b, k, 8, 9, 9, generator=g),
                       torch.randn(b, k, 12, 9, 9, generator=g)],
        support_masks=(torch.rand(b, k, 65, 65, generator=g) > 0.5).long(),
        query_inputs=torch.zeros(b, 3, 65, 65), support_inputs=torch.zeros(b, k, 3, 65, 65),
        priors=dict(prior=torch.rand(b, 1, 9, 9, generator=g)))
    feats.shot_weights = torch.rand(b, k, generator=g).softmax(1)  # BAM's K-shot weights
    y = (torch.rand(b, 65, 65, generator=g) > 0.5).long()
    return feats, y


@pytest.mark.parametrize('k', [1, 3])
def test_equals_bams_meta_learner_in_eval_and_training(k):
    ref, head = _pair()
    feats, y = _episode(2, k)
    args = (torch.cat([feats.query_feats[2], feats.query_feats[1]], 1),
            [torch.cat([feats.support_feats[2][:, i], feats.support_feats[1][:, i]], 1)
             for i in range(k)], [feats.support_masks[:, i] for i in range(k)],
            feats.priors['prior'], feats.shot_weights)
    ref.eval()
    head.eval()
    with torch.no_grad():
        expected, ours = ref(*args), head(feats)
    assert (ours - expected).abs().max() <= 1e-5 * expected.abs().max()
    ref.train()
    head.train()
    torch.manual_seed(3)
    up = F.interpolate(ref(*args), size=(65, 65), mode='bilinear', align_corners=True)
    expected_loss = F.cross_entropy(up, y, ignore_index=255)
    samples = []
    for i in range(2):
        s = SegDataSample()
        s.gt_sem_seg = PixelData(data=y[i][None])
        samples.append(s)
    torch.manual_seed(3)
    loss = head.loss(feats, samples, dict())['loss_ce']
    torch.testing.assert_close(loss, expected_loss, rtol=1e-5, atol=1e-6)


def test_aspp_has_bias_and_no_norm():
    _, head = _pair()
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in head.modules())
    assert all(m.bias is not None for m in head.aspp.modules() if isinstance(m, nn.Conv2d))
    feats, _ = _episode(1, 1)
    feats.priors = {}
    with pytest.raises(KeyError, match='add a PriorMaskNeck'):
        head(feats)
