import pytest
import torch
from mmseg.registry import MODELS

from mmfss.models import EpisodeFeatures
from mmfss.models.necks import prior_mask


def _feats(query, support, masks):
    b, k = support.shape[:2]
    return EpisodeFeatures(query_feats=[query], support_feats=[support], support_masks=masks,
                           query_inputs=torch.zeros(b, 3, 4, 4),
                           support_inputs=torch.zeros(b, k, 3, 4, 4))


class TestPriorMask:

    def test_hand_case(self):
        # Support: 2x2 grid, foreground only at (0, 0) with feature e0; background has e1.
        e0, e1, e2 = torch.eye(3)
        support = torch.stack([e0, e1, e1, e1], dim=1).view(1, 1, 3, 2, 2)
        masks = torch.tensor([[[[1, 0], [0, 0]]]])
        # Query positions: e0 (cos 1), e1 (matches background only -> 0), e0+e2
        # (cos 1/sqrt 2) and 2*e2 - e0 (cos -1/sqrt 5 to the foreground, but the zeroed
        # background positions give cos 0, so the max is 0, as in PFENet).
        query = torch.stack([e0, e1, e0 + e2, 2 * e2 - e0], dim=1).view(1, 3, 2, 2)
        prior = prior_mask(query, support, masks)
        raw = torch.tensor([1.0, 0.0, 2**-0.5, 0.0])
        expected = (raw - raw.min()) / (raw.max() - raw.min())
        assert prior.shape == (1, 1, 2, 2)
        torch.testing.assert_close(prior.flatten(), expected, atol=1e-5, rtol=0)

    def test_shots_are_averaged(self):
        torch.manual_seed(0)
        query = torch.randn(2, 8, 5, 5)
        support = torch.randn(2, 3, 8, 4, 4)
        masks = (torch.rand(2, 3, 16, 16) > 0.5).long()
        prior = prior_mask(query, support, masks)
        singles = [prior_mask(query, support[:, i:i + 1], masks[:, i:i + 1]) for i in range(3)]
        torch.testing.assert_close(prior, torch.stack(singles).mean(0))
        assert prior.min() >= 0 and prior.max() <= 1

    def test_ignore_pixels_are_not_foreground(self):
        support = torch.ones(1, 1, 2, 2, 2)
        query = torch.randn(1, 2, 3, 3)
        all_ignore = torch.full((1, 1, 2, 2), 255)
        # no foreground: every similarity is 0, the prior is flat zero
        assert prior_mask(query, support, all_ignore).abs().max() == 0


class TestPriorMaskNeck:

    def test_neck_adds_prior_without_grad(self):
        neck = MODELS.build(dict(type='PriorMaskNeck', in_index=0, prior_key='p',
                                  mask_support_stage=False))
        query = torch.randn(2, 4, 6, 6, requires_grad=True)
        support = torch.randn(2, 1, 4, 6, 6, requires_grad=True)
        feats = neck(_feats(query, support, torch.ones(2, 1, 24, 24, dtype=torch.long)))
        assert feats.priors['p'].shape == (2, 1, 6, 6)
        assert not feats.priors['p'].requires_grad
        with pytest.raises(KeyError, match='already exists'):
            neck(feats)

    def test_neck_with_grad(self):
        neck = MODELS.build(dict(type='PriorMaskNeck', in_index=0, detach=False,
                                  mask_support_stage=False))
        query = torch.randn(1, 4, 3, 3, requires_grad=True)
        support = torch.randn(1, 2, 4, 3, 3)
        feats = neck(_feats(query, support, torch.ones(1, 2, 3, 3, dtype=torch.long)))
        feats.priors['prior'].sum().backward()
        assert query.grad is not None and query.grad.abs().sum() > 0


def _pfenet_prior_statement(backbone, query, supports, labels):
    """My statement of PFENet's prior (PFENet model/PFENet.py, ``forward``), step by step
    on an mmseg ResNet: layer0 (stem + max-pool) .. layer3 for query and supports; query
    layer4 = layer4(layer3); per shot: mask = (label == 1), resized bilinearly
    (align_corners=True) to layer3's grid, support layer4 = layer4(layer3 * mask), masked
    again by the mask resized to layer4's (square) grid; cosine by bmm with norms + 1e-7,
    max over support positions, min-max over query positions (+ 1e-7), resized to layer3's
    grid; mean over shots."""
    F = torch.nn.functional

    def to_layer3(x):
        x = backbone.maxpool(backbone.stem(x))
        for name in backbone.res_layers[:3]:
            x = getattr(backbone, name)(x)
        return x

    q3 = to_layer3(query)
    q4 = backbone.layer4(q3)
    maps = []
    for i in range(supports.shape[1]):
        mask = (labels[:, i] == 1).float().unsqueeze(1)
        s3 = to_layer3(supports[:, i])
        s4 = backbone.layer4(s3 * F.interpolate(mask, size=s3.shape[-2:], mode='bilinear',
                                                align_corners=True))
        size = s4.shape[2]
        s4 = s4 * F.interpolate(mask, size=(size, size), mode='bilinear', align_corners=True)
        bsize, ch, sp, _ = q4.shape
        tq = q4.reshape(bsize, ch, -1)
        tq_norm = torch.norm(tq, 2, 1, True)
        ts = s4.reshape(bsize, ch, -1).permute(0, 2, 1)
        ts_norm = torch.norm(ts, 2, 2, True)
        sim = torch.bmm(ts, tq) / (torch.bmm(ts_norm, tq_norm) + 1e-7)
        sim = sim.max(1)[0].view(bsize, sp * sp)
        low, high = sim.min(1)[0].unsqueeze(1), sim.max(1)[0].unsqueeze(1)
        sim = (sim - low) / (high - low + 1e-7)
        maps.append(F.interpolate(sim.view(bsize, 1, sp, sp), size=q3.shape[-2:],
                                  mode='bilinear', align_corners=True))
    return torch.cat(maps, 1).mean(1).unsqueeze(1)


@pytest.mark.parametrize('shot', [1, 3])
def test_prior_equals_pfenet_statement_on_resnet50(shot):
    """PriorMaskNeck inside FewShotSegmentor (frozen random ResNetV1c-50, dilated to 1/8
    as PFENet) against the statement above: equal to 1e-6; and the support's layer4 really
    is computed on masked layer3 (the unmasked reading differs)."""
    from mmengine.config import Config

    from ...conftest import REPO
    torch.manual_seed(0)
    cfg = Config.fromfile(f'{REPO}/configs/_base_/models/fss-baseline_r50-d8.py').model
    cfg.backbone.init_cfg = None
    model = MODELS.build(cfg).eval()
    b, size = 2, 65
    query = torch.randn(b, 3, size, size)
    supports = torch.randn(b, shot, 3, size, size)
    labels = torch.zeros(b, shot, size, size, dtype=torch.long)
    labels[:, :, 10:40, 15:50] = 1
    labels[:, :, 40:44] = 255  # ignore pixels are not foreground (PFENet: label == 1)
    labels[1, :, :, 50:] = 1
    with torch.no_grad():
        feats = model.extract_feat(dict(query=query, support=supports, support_masks=labels))
        expected = _pfenet_prior_statement(model.backbone, query, supports, labels)
    prior = feats.priors['prior']
    assert prior.shape == expected.shape == (b, 1, 9, 9)
    assert (prior - expected).abs().max() <= 1e-6
    with torch.no_grad():
        unmasked = prior_mask(feats.query_feats[3], feats.support_feats[3], labels)
    assert (unmasked - expected).abs().max() > 1e-3


def test_masked_stage_needs_run_stage_and_is_cached():
    torch.manual_seed(0)
    neck = MODELS.build(dict(type='PriorMaskNeck', in_index=1, mask_support_stage=True))
    query, support = [torch.rand(1, 4, 3, 3), torch.rand(1, 6, 3, 3)], \
        [torch.rand(1, 2, 4, 3, 3), torch.rand(1, 2, 6, 3, 3)]
    masks = torch.ones(1, 2, 6, 6, dtype=torch.long)
    f = EpisodeFeatures(query_feats=query, support_feats=support, support_masks=masks,
                        query_inputs=torch.zeros(1, 3, 6, 6),
                        support_inputs=torch.zeros(1, 2, 3, 6, 6), backbone='MyViT')
    with pytest.raises(ValueError, match='stages of MyViT cannot be addressed'):
        neck(f)
    # 'auto' (the default) falls back to the backbone's own support level, masked after
    auto = MODELS.build(dict(type='PriorMaskNeck', in_index=1))
    torch.testing.assert_close(auto(f).priors['prior'], prior_mask(query[1], support[1], masks))
    with pytest.raises(ValueError, match='mask_support_stage must be'):
        MODELS.build(dict(type='PriorMaskNeck', mask_support_stage='yes'))
    calls = []
    proj = torch.rand(6, 4)

    def run_stage(x, level):
        calls.append(level)
        return torch.einsum('oc,nchw->nohw', proj, x)

    cache = {}
    for _ in range(2):
        f = EpisodeFeatures(query_feats=query, support_feats=support, support_masks=masks,
                            query_inputs=torch.zeros(1, 3, 6, 6),
                            support_inputs=torch.zeros(1, 2, 3, 6, 6), run_stage=run_stage,
                            support_cache=cache, support_groups=1)
        prior = neck(f).priors['prior']
    assert calls == [1]  # the second query batch reuses the masked support stage
    expected = prior_mask(query[1], torch.einsum('oc,bkchw->bkohw', proj, support[0]), masks)
    torch.testing.assert_close(prior, expected)


def test_hdmnet_prior_options():
    """HDMNet's get_similarity: the raw maximum cosine (no min-max), masks resized nearest,
    the plain mean over shots kept out of BAM's shot reweighting."""
    import torch.nn.functional as F
    g = torch.Generator().manual_seed(0)
    query = torch.randn(2, 6, 5, 5, generator=g)
    support = torch.randn(2, 3, 6, 5, 5, generator=g)
    masks = (torch.rand(2, 3, 23, 23, generator=g) > 0.4).long()
    masks[:, :, -2:] = 255
    expected = []
    for k in range(3):  # HDMNet model/HDMNet.py get_similarity, stated
        m = F.interpolate((masks[:, k:k + 1] == 1).float(), size=(5, 5))
        s = (support[:, k] * m).flatten(2).permute(0, 2, 1)
        q = query.flatten(2)
        sim = torch.bmm(s, q) / (torch.bmm(s.norm(2, 2, True), q.norm(2, 1, True)) + 1e-7)
        expected.append(sim.max(1)[0].view(2, 1, 5, 5))
    expected = torch.stack(expected, 1).mean(1)
    neck = MODELS.build(dict(type='PriorMaskNeck', in_index=0, mask_support_stage=False,
                             min_max=False, mask_mode='nearest', reweight_shots=False))
    feats = neck(_feats(query, support, masks))
    torch.testing.assert_close(feats.priors['prior'], expected)
    assert feats.shot_priors == {}
    assert 0.01 < float(expected.min()) and float(expected.max()) < 0.99  # no min-max
    with pytest.raises(ValueError, match="mask_mode must be 'bilinear' or 'nearest'"):
        MODELS.build(dict(type='PriorMaskNeck', mask_mode='bicubic'))
