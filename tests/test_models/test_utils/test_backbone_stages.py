"""The stage that produces a backbone level, per backbone family, against the family's own
definition on fixed inputs; level channels; backbones of one's own."""
import copy

import pytest
import torch
import torch.nn as nn
from mmseg.registry import MODELS

from mmfss.models.utils.backbone_stages import level_channels, stage_runner

BN = dict(type='BN', requires_grad=True)
BACKBONES = dict(
    resnet18=dict(type='ResNetV1c', depth=18, stem_channels=8, base_channels=8,
                  out_indices=(0, 1, 2, 3), dilations=(1, 1, 2, 4), strides=(1, 2, 1, 1),
                  contract_dilation=True, norm_cfg=BN),
    resnext=dict(type='ResNeXt', depth=50, groups=4, base_width=4, stem_channels=16,
                 base_channels=16, out_indices=(1, 2, 3), norm_cfg=BN),
    mobilenetv2=dict(type='MobileNetV2', widen_factor=0.25, strides=(1, 2, 2, 1, 1, 1, 1),
                     dilations=(1, 1, 1, 2, 2, 4, 4), out_indices=(1, 2, 4, 6)),
    mobilenetv3=dict(type='MobileNetV3', arch='small', out_indices=(0, 1, 12)),
    mit=dict(type='MixVisionTransformer', embed_dims=8, num_layers=[1, 1, 1, 1],
             num_heads=[1, 1, 2, 2], out_indices=(0, 1, 2, 3)),
    swin=dict(type='SwinTransformer', pretrain_img_size=96, embed_dims=8, depths=[1, 1, 1, 1],
              num_heads=[1, 1, 2, 2], window_size=3, out_indices=(0, 1, 2, 3)),
    vit=dict(type='VisionTransformer', img_size=(96, 96), patch_size=8, embed_dims=16,
             num_layers=4, num_heads=2, out_indices=(0, 1, 2, 3)),
    dinov2=dict(type='DINOv2', arch=dict(embed_dims=32, num_layers=4, num_heads=2),
                img_size=98, out_indices=(0, 1, 2, 3)),
)


def _build(name):
    torch.manual_seed(0)
    backbone = MODELS.build(copy.deepcopy(BACKBONES[name]))
    backbone.init_weights()
    backbone.eval()
    return backbone


@pytest.mark.parametrize('name', ['resnet18', 'resnext', 'mobilenetv2', 'mobilenetv3', 'mit'])
def test_stage_continues_the_backbone(name):
    """For these families the stage run on output L-1 is the backbone's own way to output L:
    run_stage(out[L-1], L) equals out[L] (also across skipped levels)."""
    backbone = _build(name)
    run = stage_runner(backbone)
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        outs = backbone(x)
        for level in range(1, len(outs)):
            torch.testing.assert_close(run(outs[level - 1], level), outs[level])
            torch.testing.assert_close(run(outs[level - 1], level - len(outs)), outs[level])


def test_swin_stage_is_merging_blocks_and_norm_on_the_output():
    """Swin: the previous output (after its norm) through that stage's patch merging, the
    next stage's blocks and its norm. With the previous output's norm an identity, that is
    exactly the backbone's own continuation."""
    backbone = _build('swin')
    run = stage_runner(backbone)
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        for level in (1, 2, 3):
            setattr(backbone, f'norm{level - 1}', nn.Identity())
            outs = backbone(x)
            torch.testing.assert_close(run(outs[level - 1], level), outs[level])
        # with the norm, the stage reads the normalised output, as the backbone returns it
        backbone = _build('swin')
        outs = backbone(x)
        stage = backbone.stages
        tokens, hw = stage[2].downsample(outs[2].flatten(2).transpose(1, 2), outs[2].shape[-2:])
        _, _, out, out_hw = stage[3](tokens, hw)
        expected = backbone.norm3(out).view(2, *out_hw, -1).permute(0, 3, 1, 2)
        torch.testing.assert_close(stage_runner(backbone)(outs[2], 3), expected)


def test_plain_vit_has_no_stages_and_channels_come_from_the_backbone():
    assert stage_runner(_build('vit')) is None
    assert level_channels(_build('vit')) == [16, 16, 16, 16]
    assert level_channels(_build('resnet18')) == [8, 16, 32, 64]
    assert level_channels(_build('swin')) == [8, 16, 32, 64]
    assert level_channels(_build('mobilenetv2')) == [8, 8, 24, 80]
    one = MODELS.build(dict(type='MobileNetV2', widen_factor=0.25, out_indices=(6, )))
    with pytest.raises(TypeError, match='returns one tensor'):
        level_channels(one)


@MODELS.register_module()
class _TwoLevelNet(nn.Module):
    """A backbone of one's own: two levels and ``run_stage``."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 4, 3, stride=8, padding=1)
        self.b = nn.Conv2d(4, 6, 3, padding=1)

    def forward(self, x):
        first = self.a(x)
        return [first, self.b(first)]

    def run_stage(self, x, level):
        assert level in (1, -1)
        return self.b(x)


def test_own_backbone_with_run_stage_serves_the_prior():
    model = MODELS.build(dict(
        type='FewShotSegmentor', data_preprocessor=dict(type='FewShotDataPreProcessor'),
        backbone=dict(type='_TwoLevelNet'),
        necks=[dict(type='PriorMaskNeck', in_index=1, mask_support_stage=True)],
        decode_head=dict(type='PPMFewShotHead', in_channels='auto', in_index=[0, 1],
                         channels=8, pool_scales=(1, 2))))
    assert model.has_stages and model.decode_head.in_channels == 10
    x = torch.randn(2, 4, 5, 5)
    torch.testing.assert_close(model.run_backbone_stage(x, 1), model.backbone.b(x))


@pytest.mark.parametrize('name', ['resnet18', 'resnext'])
def test_prefix_is_the_backbone_stopped_early(name):
    """prefix_runner(backbone)(x, level): the first level + 1 outputs of backbone(x), bitwise."""
    from mmfss.models.utils.backbone_stages import prefix_runner
    backbone = _build(name)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        full = backbone(x)
        run = prefix_runner(backbone)
        for level in range(len(full)):
            outs = run(x, level)
            assert len(outs) == level + 1
            for a, b in zip(outs, full):
                assert torch.equal(a, b)


def test_vgg_prefix_and_families_without_one():
    from mmfss.models.utils.backbone_stages import prefix_runner
    torch.manual_seed(0)
    vgg = MODELS.build(dict(type='VGG', depth=16, out_indices=(1, 2, 3, 4)))
    vgg.eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        full = vgg(x)
        outs = prefix_runner(vgg)(x, 2)
    assert all(torch.equal(a, b) for a, b in zip(outs, full[:3])) and len(outs) == 3
    for name in ('mit', 'swin', 'vit', 'mobilenetv2', 'dinov2'):
        assert prefix_runner(_build(name)) is None  # the segmentor runs them whole
