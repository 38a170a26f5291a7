"""Every family on every kind of mmseg backbone, through mmengine's Runner.

Backbones (small widths): ResNet-18, MobileNetV2, MiT, Swin, a plain ViT; families: the
baseline, CMNet, DOTGraph (tiny CLIP, BAM's ensemble). Each pair trains 2 iterations and
tests 8 episodes from a config that changes only the backbone and reads every channel count
from it (``in_channels='auto'``); PFENet's prior is checked against its definition for the
backbone: ``prior_mask(query last level, stage(support previous level * mask))`` where the
stages can be addressed, the support's own last level (masked in the prior) for the ViT.
"""
import copy

import pytest
import torch
from mmengine.config import ConfigDict
from mmengine.runner import Runner
from mmseg.registry import MODELS

from mmfss.models.necks.prior_mask_neck import prior_mask
from mmfss.models.utils import foreground_weights
from .test_models.test_segmentors.test_few_shot_segmentor import _batch
from .test_models.test_utils.test_backbone_stages import BACKBONES
from .test_paper_scale import FAMILIES, family_config, short_run

MATRIX_BACKBONES = ('resnet18', 'mobilenetv2', 'mit', 'swin', 'vit', 'dinov2')
# HSNet's learner reads block-level hypercolumns (HypercolumnResNet), not a backbone's
# stage outputs: it is not in the matrix until the other families' backbones give theirs;
# FoundationFSS's learner reads every block of its ViT (DINOv2) as a correlation channel
MATRIX_FAMILIES = tuple(f for f in FAMILIES if f not in ('hsnet', 'foundationfss'))


def _auto(node):
    """Every in_channels of the necks and heads read from the backbone."""
    if isinstance(node, dict):
        if 'in_channels' in node and node.get('type') != 'CLIPPriorNeck':
            node['in_channels'] = 'auto'
        for value in node.values():
            _auto(value)
    elif isinstance(node, list):
        for value in node:
            _auto(value)


def matrix_config(family, backbone):
    cfg = family_config(family)
    cfg.model.backbone = ConfigDict(copy.deepcopy(BACKBONES[backbone]))
    _auto(cfg.model.necks)
    _auto(cfg.model.decode_head)
    return cfg


@pytest.mark.parametrize('family', MATRIX_FAMILIES)
@pytest.mark.parametrize('backbone', MATRIX_BACKBONES)
def test_trains_and_tests_through_the_runner(backbone, family, shapes_root, tmp_path):
    cfg = short_run(matrix_config(family, backbone), shapes_root, str(tmp_path), iters=2,
                    episodes=8, batch_size=2)
    runner = Runner.from_cfg(cfg)
    model = runner.model
    before = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    runner.train()
    moved = [n for n, p in model.named_parameters() if n in before
             and not torch.equal(p.detach(), before[n])]
    assert moved, 'no parameter changed in 2 iterations'
    metrics = runner.test()
    assert metrics['episodes'] == 8 and 0 <= metrics['mIoU'] <= 100
    assert model.has_stages == (backbone not in ('vit', 'dinov2'))


@pytest.mark.parametrize('backbone', MATRIX_BACKBONES)
def test_prior_follows_its_definition_for_the_backbone(backbone):
    torch.manual_seed(0)
    model = MODELS.build(matrix_config('baseline', backbone).model)
    model.init_weights()
    model.eval()
    data = model.data_preprocessor(_batch(b=2, k=2, h=96, w=96, ori=(96, 96)), False)
    inputs = data['inputs']
    with torch.no_grad():
        feats = model.extract_feat(inputs)
        query = model.backbone(inputs['query'])
        support = model.backbone(inputs['support'].flatten(0, 1))
        query = [q[0] if isinstance(q, (list, tuple)) else q for q in query]
        support = [s[0] if isinstance(s, (list, tuple)) else s for s in support]
        masks = inputs['support_masks']
        if backbone in ('vit', 'dinov2'):  # no stages: the support's last level, masked after
            last = support[-1]
        else:
            previous = support[-2] * foreground_weights(masks.flatten(0, 1), support[-2].shape[-2:])
            last = model.run_backbone_stage(previous, -1)
        expected = prior_mask(query[-1], last.view(2, 2, *last.shape[1:]), masks)
    torch.testing.assert_close(feats.priors['prior'], expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('backbone', MATRIX_BACKBONES)
def test_off_the_cpu_and_under_bf16(backbone):
    """Each backbone's training step (with the prior's stage and the probed channels) on the
    meta device, and under bf16 autocast with finite loss."""
    from mmengine.optim import OptimWrapper

    from mmfss.testing import MetaHostReads
    torch.manual_seed(0)
    model = MODELS.build(matrix_config('cmnet', backbone).model)
    model.init_weights()
    data = _batch(b=2, k=1, h=96, w=96, ori=(96, 96))
    with torch.autocast('cpu', dtype=torch.bfloat16):
        log_vars = model.train_step(
            copy.deepcopy(data), OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01)))
    assert torch.isfinite(log_vars['loss'])
    model.to('meta')
    with MetaHostReads() as reads:
        log_vars = model.train_step(
            data, OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01)))
    assert log_vars['loss'].device.type == 'meta' and not reads.reads


def _ensemble_over_pfenet(cfg):
    """BAM's ensemble with PFENet's enrichment head as its meta learner."""
    cfg.model.decode_head = ConfigDict(
        type='EnsembleFewShotHead', meta_head=cfg.model.decode_head,
        base_learner=dict(type='PSPHead', in_channels=64, in_index=3, channels=16,
                          pool_scales=(1, 2, 3, 6), dropout_ratio=0.1, num_classes=16,
                          align_corners=True,
                          loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0)),
        gram_index=1, align_corners=True,
        loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0, avg_non_ignore=True))
    return cfg


def _hsnet_in_ensemble():
    """HSNet's learner as the meta learner of BAM's ensemble (base learner on the last
    hypercolumn level)."""
    cfg = family_config('hsnet')
    cfg.model.decode_head = ConfigDict(
        type='EnsembleFewShotHead', meta_head=cfg.model.decode_head,
        base_learner=dict(type='PSPHead', in_channels=64, in_index=-1, channels=16,
                          pool_scales=(1, 2, 3, 6), dropout_ratio=0.1, num_classes=16,
                          align_corners=True,
                          loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0)),
        gram_index=0, align_corners=True,
        loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0, avg_non_ignore=True))
    return cfg


def _bam_meta_on_cmnet_ot_prior():
    """CMNet's necks (message flow, partial-OT prior) into BAM's meta learner."""
    cfg = family_config('cmnet')
    cfg.model.decode_head = ConfigDict(
        type='ASPPFewShotHead', in_channels=[16], in_index=[-1], channels=16,
        prior_key='ot_prior', dilations=(2, 4, 6), num_classes=2, align_corners=True,
        loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0, avg_non_ignore=True))
    return cfg


def _hsnet_on_swin():
    """HSNet's 4D learner on Swin's block-level hypercolumns (HypercolumnSwin, the blocks
    of stages 1-3)."""
    cfg = family_config('hsnet')
    cfg.model.backbone = ConfigDict(
        type='HypercolumnSwin', stages=(1, 2, 3), pretrain_img_size=96, embed_dims=16,
        depths=[1, 2, 2, 2], num_heads=[1, 2, 2, 4], window_size=3)
    cfg.model.decode_head.group_sizes = (2, 2, 2)
    return cfg


def _hdmnet_over_dotgraph():
    """DOTGraph's necks (PFENet's prior, the CLIP prior, the OT graph) feeding HDMNet's
    hierarchical matching transformer, which reads the OT graph's level and the three
    priors, in BAM's ensemble."""
    cfg = family_config('dotgraph')
    cfg.model.decode_head.meta_head = ConfigDict(
        type='HierarchicalMatchingHead', in_channels=[16], in_index=[-1], channels=16,
        embed_dims=16, prior_keys=('prior', 'clip_fg', 'clip_bg'), align_corners=True,
        loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0, avg_non_ignore=True))
    return cfg


# swap entries: heads, necks and backbones of different families combined by config alone,
# with a loss each must produce
SWAPS = {
    "BAM's ensemble over PFENet's enrichment head": (
        lambda: _ensemble_over_pfenet(family_config('pfenet')), 'decode.loss_aux'),
    "PFENet's enrichment head on MiT": (lambda: matrix_config('pfenet', 'mit'),
                                        'decode.loss_aux'),
    "CMNet's partial-OT prior into BAM's meta learner": (_bam_meta_on_cmnet_ot_prior,
                                                         'decode.loss_ce'),
    "BAM's meta learner and ensemble on Swin": (lambda: matrix_config('bam', 'swin'),
                                                'decode.loss_meta'),
    "HSNet's 4D learner in BAM's ensemble": (lambda: _hsnet_in_ensemble(), 'decode.loss_meta'),
    "DOTGraph's CLIP prior and OT graph into HDMNet's transformer": (_hdmnet_over_dotgraph,
                                                                     'decode.loss_distill'),
    "HSNet's 4D learner on Swin's block hypercolumns": (_hsnet_on_swin, 'decode.loss_ce'),
    "CMNet on DINOv2": (lambda: matrix_config('cmnet', 'dinov2'), 'decode.loss_ce'),
    "HDMNet's transformer on Swin": (lambda: matrix_config('hdmnet', 'swin'),
                                     'decode.loss_distill'),
}


@pytest.mark.parametrize('swap', list(SWAPS))
def test_swap_entries_train_and_test_through_the_runner(swap, shapes_root, tmp_path):
    build, expected_loss = SWAPS[swap]
    cfg = short_run(build(), shapes_root, str(tmp_path), iters=2, episodes=8, batch_size=2)
    runner = Runner.from_cfg(cfg)
    model = runner.model
    before = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    data = model.data_preprocessor(_batch(b=2, k=1, h=96, w=96, ori=(96, 96)), True)
    losses = model(**data, mode='loss')
    assert expected_loss in losses, sorted(losses)
    runner.train()
    assert any(not torch.equal(p.detach(), before[n]) for n, p in model.named_parameters()
               if n in before)
    metrics = runner.test()
    assert metrics['episodes'] == 8 and 0 <= metrics['mIoU'] <= 100
