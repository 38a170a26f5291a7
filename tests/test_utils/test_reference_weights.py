"""The references' weights in mmfss's modules: PFENet's deep-base ResNet, BAM's PSPNet and
the official Swin Transformer release.

The reference modules below are this project's statements of PFENet's ``model/resnet.py``
(ResNet with ``deep_base=True``), the dilation PFENet's ``model/PFENet.py`` (and BAM's
``model/PSPNet.py``) applies to layer 3/4, and BAM's ``model/PSPNet.py`` ``OneModel`` with
its ``model/PPM.py``, in their key layout. Random weights are saved as the references save
them, converted by ``tools/model_converters/`` and loaded into mmseg's modules; every stage
and the logits must agree to 1e-5 (relative to the largest value), in train and eval mode.
"""
import os.path as osp
import re
import subprocess
import sys

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import Config
from mmseg.registry import MODELS

from mmfss.utils.reference_weights import (REFERENCE_FILES, check_reference_files,
                                           pretrained_checkpoints, reference_file_help)

from ..conftest import REPO

TOL = 1e-5


# ------------------------------------------------------------------ statements of the references
class RefBottleneck(nn.Module):
    """PFENet model/resnet.py ``Bottleneck`` (stride in the 3x3 conv)."""
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + (x if self.downsample is None else self.downsample(x)))


class RefResNet(nn.Module):
    """PFENet model/resnet.py ``ResNet(deep_base=True)``: three 3x3 stem convs
    (3->64 stride 2, 64->64, 64->128), max pool, layer1 entered with 128 channels, 1x1
    downsampling convs, ImageNet classifier ``fc``."""

    def __init__(self, layers):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(64, 64, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(64)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv3 = nn.Conv2d(64, 128, 3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(128)
        self.relu3 = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.inplanes = 128
        self.layer1 = self._layer(64, layers[0])
        self.layer2 = self._layer(128, layers[1], 2)
        self.layer3 = self._layer(256, layers[2], 2)
        self.layer4 = self._layer(512, layers[3], 2)
        self.fc = nn.Linear(2048, 1000)

    def _layer(self, planes, blocks, stride=1):
        down = None
        if stride != 1 or self.inplanes != planes * 4:
            down = nn.Sequential(nn.Conv2d(self.inplanes, planes * 4, 1, stride=stride,
                                           bias=False), nn.BatchNorm2d(planes * 4))
        layers = [RefBottleneck(self.inplanes, planes, stride, down)]
        self.inplanes = planes * 4
        layers += [RefBottleneck(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)


def pfenet_dilate(resnet):
    """PFENet model/PFENet.py (and BAM model/PSPNet.py): every 3x3 conv of layer3 at
    dilation 2, of layer4 at 4, strides 1; downsampling convs stride 1."""
    for layer, d in ((resnet.layer3, 2), (resnet.layer4, 4)):
        for n, m in layer.named_modules():
            if 'conv2' in n:
                m.dilation, m.padding, m.stride = (d, d), (d, d), (1, 1)
            elif 'downsample.0' in n:
                m.stride = (1, 1)
    return resnet


class RefPPM(nn.Module):
    """BAM model/PPM.py: per bin adaptive average pool, 1x1 conv, BN, ReLU, bilinear
    upsampling (align_corners=True); concatenated after the input."""

    def __init__(self, in_dim, reduction_dim, bins):
        super().__init__()
        self.features = nn.ModuleList([nn.Sequential(
            nn.AdaptiveAvgPool2d(b), nn.Conv2d(in_dim, reduction_dim, 1, bias=False),
            nn.BatchNorm2d(reduction_dim), nn.ReLU(inplace=True)) for b in bins])

    def forward(self, x):
        return torch.cat([x] + [F.interpolate(f(x), x.shape[2:], mode='bilinear',
                                              align_corners=True) for f in self.features], 1)


class RefPSPNet(nn.Module):
    """BAM model/PSPNet.py ``OneModel`` (ResNet-50): layer0 = PFENet's stem + max pool,
    layer1..4 dilated as PFENet, ``encoder`` = the same five modules again, PPM at bins
    1, 2, 3, 6 with 512 channels each, ``cls`` = 3x3 conv (4096 -> 512) + BN + ReLU +
    Dropout2d(0.1) + 1x1 classifier; logits resized to ((H - 1) / 8 * 8 + 1) with
    align_corners=True."""

    def __init__(self, classes=16):
        super().__init__()
        r = pfenet_dilate(RefResNet([3, 4, 6, 3]))
        self.layer0 = nn.Sequential(r.conv1, r.bn1, r.relu1, r.conv2, r.bn2, r.relu2, r.conv3,
                                    r.bn3, r.relu3, r.maxpool)
        self.layer1, self.layer2, self.layer3, self.layer4 = r.layer1, r.layer2, r.layer3, r.layer4
        self.encoder = nn.Sequential(self.layer0, self.layer1, self.layer2, self.layer3,
                                     self.layer4)
        self.ppm = RefPPM(2048, 512, (1, 2, 3, 6))
        self.cls = nn.Sequential(nn.Conv2d(4096, 512, 3, padding=1, bias=False),
                                 nn.BatchNorm2d(512), nn.ReLU(inplace=True),
                                 nn.Dropout2d(p=0.1), nn.Conv2d(512, classes, 1))

    def forward(self, x):
        h, w = (int((s - 1) / 8 * 8 + 1) for s in x.shape[2:])
        head = self.cls(self.ppm(self.encoder(x)))
        return head, F.interpolate(head, size=(h, w), mode='bilinear', align_corners=True)


def ref_stages(resnet_like, x):
    """layer1..layer4 outputs of a reference ResNet (stem through layer0 or conv1..)."""
    if hasattr(resnet_like, 'layer0'):
        x = resnet_like.layer0(x)
    else:
        r = resnet_like
        x = r.maxpool(r.relu3(r.bn3(r.conv3(r.relu2(r.bn2(r.conv2(r.relu1(r.bn1(r.conv1(x))))))))))
    outs = []
    for layer in (resnet_like.layer1, resnet_like.layer2, resnet_like.layer3,
                  resnet_like.layer4):
        x = layer(x)
        outs.append(x)
    return outs


def randomize(module, seed):
    """Random weights and BN statistics, so that every key matters."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in module.state_dict().items():
            if not t.is_floating_point():
                continue
            if name.endswith('running_var'):
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            elif name.endswith(('running_mean', 'bias')):
                t.copy_(torch.randn(t.shape, generator=g) * 0.1)
            elif t.ndim == 1:  # BN weight
                t.copy_(torch.rand(t.shape, generator=g) * 0.5 + 0.5)
            else:  # conv: variance-preserving
                fan_in = t[0].numel()
                t.copy_(torch.randn(t.shape, generator=g) * (2.0 / fan_in) ** 0.5)
    return module


def mmfss_backbone(depth):
    """The backbone of the paper configs (configs/_base_/models/fss-baseline_r50-d8.py)."""
    cfg = Config.fromfile(osp.join(REPO, 'configs/_base_/models/fss-baseline_r50-d8.py'))
    backbone = dict(cfg.model.backbone, depth=depth, init_cfg=None)
    return MODELS.build(backbone)


def assert_close(a, b, what):
    scale = max(1.0, float(b.abs().max()))
    err = float((a - b).abs().max()) / scale
    assert err <= TOL, f'{what}: max |diff| / max |ref| = {err:.2e}'
    return err


def run_converter(name, src, dst):
    import importlib.util
    spec = importlib.util.spec_from_file_location(
        name, osp.join(REPO, 'tools', 'model_converters', f'{name}.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    assert tool.main([str(src), str(dst)]) == 0
    return torch.load(dst, map_location='cpu', weights_only=True)['state_dict']


# ------------------------------------------------------------------ parity
@pytest.mark.parametrize('depth,blocks', [(50, [3, 4, 6, 3]), (101, [3, 4, 23, 3])])
def test_pfenet_resnet_converts_exactly(tmp_path, depth, blocks):
    ref = randomize(pfenet_dilate(RefResNet(blocks)), seed=depth)
    src = tmp_path / f'resnet{depth}_v2.pth'
    torch.save(ref.state_dict(), src)  # PFENet's files are plain state dicts
    state = run_converter('pfenet_resnet2mmfss', src, tmp_path / 'converted.pth')
    ours = mmfss_backbone(depth)
    ours.load_state_dict(state, strict=True)
    # the architectures match to the parameter (PFENet's counts, without fc)
    n_ref = sum(p.numel() for n, p in ref.named_parameters() if not n.startswith('fc.'))
    assert sum(p.numel() for p in ours.parameters()) == n_ref
    if depth == 50:
        assert n_ref == 23_631_808
    x = torch.randn(2, 3, 65, 65, generator=torch.Generator().manual_seed(1))
    for mode in ('eval', 'train'):
        getattr(ref, mode)()
        getattr(ours, mode)()
        with torch.no_grad():
            for i, (a, b) in enumerate(zip(ours(x), ref_stages(ref, x)), 1):
                assert a.shape == b.shape
                assert_close(a, b, f'ResNet-{depth} layer{i} ({mode})')


def test_bam_pspnet_converts_exactly(tmp_path):
    ref = randomize(RefPSPNet(classes=16), seed=7)
    src = tmp_path / 'best.pth'
    # BAM saves {'epoch', 'state_dict', 'optimizer'} of its DDP model ('module.' keys)
    torch.save(dict(epoch=100, state_dict={f'module.{k}': v for k, v in
                                           ref.state_dict().items()}), src)
    state = run_converter('bam_pspnet2mmfss', src, tmp_path / 'converted.pth')
    backbone = mmfss_backbone(50)
    backbone.load_state_dict({k[9:]: v for k, v in state.items() if k.startswith('backbone.')},
                             strict=True)
    # DOTGraph's base learner: configs/_base_/models/dotgraph_r50-d8.py
    cfg = Config.fromfile(osp.join(REPO, 'configs/_base_/models/dotgraph_r50-d8.py'))
    head = MODELS.build(cfg.model.decode_head.base_learner)
    head.load_state_dict({k[12:]: v for k, v in state.items()
                          if k.startswith('decode_head.')}, strict=True)
    x = torch.randn(2, 3, 65, 65, generator=torch.Generator().manual_seed(2))
    for mode in ('eval', 'train'):
        for m in (ref, backbone, head):
            getattr(m, mode)()
        with torch.no_grad():
            torch.manual_seed(3)  # the same dropout masks in train mode
            ref_head, ref_logits = ref(x)
            torch.manual_seed(3)
            feats = backbone(x)
            logits = head(feats)
        for i, (a, b) in enumerate(zip(feats, ref_stages(ref, x) if mode == 'eval' else
                                       feats), 1):
            assert_close(a, b, f'layer{i} ({mode})')
        assert_close(logits, ref_head, f'base learner logits ({mode})')
        full = F.interpolate(logits, size=ref_logits.shape[2:], mode='bilinear',
                             align_corners=head.align_corners)
        assert_close(full, ref_logits, f'resized logits ({mode})')


def test_pfenet_model_converts_exactly(tmp_path):
    """A whole PFENet checkpoint in PFENet's layout (layer0 = the stem Sequential, layer1-4,
    the FEM modules; DataParallel's 'module.' keys) -> configs/pfenet: every key mapped,
    strict load, the backbone stages and the head equal to the reference's statement."""
    from ..test_models.test_decode_heads.test_feature_enrichment_head import _PFENetFEM
    resnet = randomize(pfenet_dilate(RefResNet([3, 4, 6, 3])), seed=11)
    ref = nn.Module()
    ref.layer0 = nn.Sequential(resnet.conv1, resnet.bn1, resnet.relu1, resnet.conv2,
                               resnet.bn2, resnet.relu2, resnet.conv3, resnet.bn3,
                               resnet.relu3, resnet.maxpool)
    for i in range(1, 5):
        setattr(ref, f'layer{i}', getattr(resnet, f'layer{i}'))
    fem = randomize(_PFENetFEM(1536, [60, 30, 15, 8], C=256), seed=12)
    for name, module in fem.named_children():
        setattr(ref, name, module)
    src = tmp_path / 'train_epoch_200.pth'
    torch.save(dict(epoch=200, state_dict={f'module.{k}': v for k, v in
                                           ref.state_dict().items()}), src)
    state = run_converter('pfenet2mmfss', src, tmp_path / 'converted.pth')
    cfg = Config.fromfile(osp.join(REPO, 'configs/pfenet/'
                                   'pfenet_r50-d8_1xb4-200e_pascal5i-fold0-1shot.py'))
    cfg.model.backbone.init_cfg = None
    model = MODELS.build(cfg.model)
    model.load_state_dict(state, strict=True)
    assert len(state) == len(ref.state_dict())
    model.eval()
    ref.eval()
    x = torch.randn(1, 3, 65, 65, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        ours, theirs = model.backbone(x), ref_stages(ref, x)
        for i, (a, b) in enumerate(zip(ours, theirs), 1):
            assert_close(a, b, f'layer{i}')
        query = torch.cat([theirs[2], theirs[1]], 1)
        masks = (torch.rand(1, 65, 65, generator=torch.Generator().manual_seed(5)) > .5).long()
        prior = torch.rand(1, 1, 9, 9, generator=torch.Generator().manual_seed(6))
        from mmfss.models import EpisodeFeatures
        feats = EpisodeFeatures(query_feats=list(ours),
                                support_feats=[f[:, None] for f in ours],
                                support_masks=masks[:, None], query_inputs=x,
                                support_inputs=x[:, None], priors=dict(prior=prior))
        logits = F.interpolate(model.decode_head(feats), size=(65, 65), mode='bilinear',
                               align_corners=True)
        assert_close(logits, fem(query, [query], [masks], prior, (65, 65)), 'FEM logits')


def _bam_checkpoint_through_converter(tmp_path, psp, fea_dim, config, shot, seed):
    """A BAM checkpoint in BAM's layout (the PSPNet's layer0-4, learner_base = (ppm, cls),
    the meta learner over ``fea_dim`` channels, gram_merge, cls_merge, kshot_rw for K > 1;
    DDP's 'module.' keys) through bam2mmfss.py, loaded strictly into ``config``'s model.

    Returns:
        tuple: (the reference module, the mmfss model, the converted state dict).
    """
    from ..test_models.test_decode_heads.test_aspp_few_shot_head import _BAMMeta
    ref = nn.Module()
    for name in ('layer0', 'layer1', 'layer2', 'layer3', 'layer4'):
        setattr(ref, name, getattr(psp, name))
    ref.learner_base = nn.Sequential(psp.ppm, psp.cls)
    for name, module in randomize(_BAMMeta(fea_dim, c=256), seed=seed).named_children():
        setattr(ref, name, module)
    ref.gram_merge = nn.Conv2d(2, 1, 1, bias=False)
    ref.cls_merge = nn.Conv2d(2, 1, 1, bias=False)
    if shot > 1:
        ref.kshot_rw = nn.Sequential(nn.Conv2d(shot, 2, 1), nn.ReLU(inplace=True),
                                     nn.Conv2d(2, shot, 1))
    randomize(ref, seed=seed + 1)
    src = tmp_path / 'train_epoch_42_0.6512.pth'
    torch.save(dict(epoch=42, state_dict={f'module.{k}': v for k, v in
                                          ref.state_dict().items()}), src)
    state = run_converter('bam2mmfss', src, tmp_path / 'converted.pth')
    cfg = Config.fromfile(osp.join(REPO, 'configs/bam', config))
    cfg.model.backbone.init_cfg = None
    cfg.model.decode_head.base_learner_init = None
    model = MODELS.build(cfg.model)
    model.load_state_dict(state, strict=True)
    assert len(state) == len(ref.state_dict())
    return ref, model, state


def test_bam_model_converts_exactly(tmp_path):
    """A whole 5-shot BAM checkpoint in BAM's layout (the PSPNet's layer0-4, learner_base =
    (ppm, cls), the meta learner, gram_merge, cls_merge, kshot_rw) -> configs/bam: every key
    mapped, strict load, every tensor where it belongs."""
    psp = randomize(RefPSPNet(classes=16), seed=21)
    ref, model, state = _bam_checkpoint_through_converter(
        tmp_path, psp, 1536, 'bam_r50-d8_4xb2-200e_pascal5i-fold0-5shot.py', shot=5, seed=22)
    ours = model.state_dict()
    pairs = {'decode_head.meta_head.aspp.branches.3.conv.weight': 'ASPP_meta.layer6_4.0.weight',
             'decode_head.meta_head.conv_seg.bias': 'cls_meta.3.bias',
             'decode_head.base_learner.conv_seg.weight': 'learner_base.1.4.weight',
             'decode_head.kshot_rw.2.bias': 'kshot_rw.2.bias',
             'backbone.stem.7.running_var': 'layer0.7.running_var'}
    theirs = ref.state_dict()
    for mine, reference in pairs.items():
        assert torch.equal(ours[mine], theirs[reference]), mine


def test_hdmnet_model_converts_exactly(tmp_path):
    """A whole 5-shot HDMNet checkpoint in HDMNet's layout (the PSPNet's layer0-4, ppm,
    cls.0/1 and base_learnear = cls[2:5], the meta learner with its transformer under
    transformer.mix_transformer, gram_merge, cls_merge, kshot_rw) -> configs/hdmnet: every
    key mapped, strict load, every tensor where it belongs; the PSP bottleneck level and the
    base learner's classifier on it give the PSPNet's logits."""
    from ..test_models.test_decode_heads.test_hierarchical_matching_head import _HDMMeta
    psp = randomize(RefPSPNet(classes=16), seed=41)
    ref = nn.Module()
    for name in ('layer0', 'layer1', 'layer2', 'layer3', 'layer4', 'ppm'):
        setattr(ref, name, getattr(psp, name))
    ref.cls = nn.Sequential(psp.cls[0], psp.cls[1])
    ref.base_learnear = nn.Sequential(psp.cls[2], psp.cls[3], psp.cls[4])
    for name, module in randomize(_HDMMeta(1536, 5, c=256, e=64), seed=42).named_children():
        setattr(ref, name, module)
    ref.gram_merge = nn.Conv2d(2, 1, 1, bias=False)
    ref.cls_merge = nn.Conv2d(2, 1, 1, bias=False)
    ref.kshot_rw = nn.Sequential(nn.Conv2d(5, 2, 1), nn.ReLU(inplace=True), nn.Conv2d(2, 5, 1))
    randomize(ref, seed=43)
    src = tmp_path / 'train_epoch_50.pth'
    torch.save(dict(state_dict={f'module.{k}': v for k, v in ref.state_dict().items()}), src)
    state = run_converter('hdmnet2mmfss', src, tmp_path / 'converted.pth')
    cfg = Config.fromfile(osp.join(REPO, 'configs/hdmnet',
                                   'hdmnet_r50-d8_4xb4-200e_pascal5i-fold0-5shot.py'))
    cfg.model.backbone.init_cfg = None
    cfg.model.decode_head.base_learner_init = None
    model = MODELS.build(cfg.model)
    model.load_state_dict(state, strict=True)
    assert len(state) == len(ref.state_dict())
    ours, theirs = model.state_dict(), ref.state_dict()
    pairs = {
        'decode_head.meta_head.transformer.match_layers.2.0.attn.linear_q.weight':
            'transformer.mix_transformer.match_layers.2.0.attn.attn.linear_q.weight',
        'decode_head.meta_head.transformer.down_sample_layers.1.0.projection.bias':
            'transformer.mix_transformer.down_sample_layers.1.0.projection.bias',
        'decode_head.meta_head.conv_seg.weight': 'transformer.mix_transformer.cls.4.weight',
        'decode_head.meta_head.query_merge.conv.weight': 'query_merge.0.weight',
        'decode_head.base_learner.bottleneck.bn.running_var': 'cls.1.running_var',
        'decode_head.base_learner.conv_seg.bias': 'base_learnear.2.bias',
        'decode_head.kshot_rw.2.bias': 'kshot_rw.2.bias'}
    for mine, reference in pairs.items():
        assert torch.equal(ours[mine], theirs[reference]), mine
    model.eval()
    psp.eval()
    x = torch.randn(1, 3, 65, 65, generator=torch.Generator().manual_seed(44))
    with torch.no_grad():
        level = model.necks[0].psp
        feats = model.backbone(x)
        from mmfss.models.necks import psp_bottleneck
        pre = psp_bottleneck(level, feats[3])
        assert_close(pre, psp.cls[1](psp.cls[0](psp.ppm(feats[3]))), 'PSP bottleneck level')
        head = model.decode_head.base_learner
        assert_close(head.cls_seg(head.bottleneck.activate(pre)), psp(x)[0], 'base learner')


def test_converters_name_bad_keys(tmp_path):
    src = tmp_path / 'other.pth'
    torch.save({'backbone.conv1.weight': torch.zeros(1)}, src)
    for name in ('pfenet_resnet2mmfss', 'bam_pspnet2mmfss', 'pfenet2mmfss', 'bam2mmfss'):
        import importlib.util
        spec = importlib.util.spec_from_file_location(
            name, osp.join(REPO, 'tools', 'model_converters', f'{name}.py'))
        tool = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(tool)
        assert tool.main([str(src), str(tmp_path / 'out.pth')]) == 2
        assert not (tmp_path / 'out.pth').exists()


def test_configs_point_at_the_reference_files(tmp_path, monkeypatch):
    """The paper configs name the converted files; a missing one says what to download and
    how to convert it, from the config (tools/train.py) and from the model's init."""
    monkeypatch.chdir(tmp_path)
    cases = {
        'configs/cmnet/cmnet_r50-d8_1xb4-200e_pascal5i-fold0-1shot_baseline.py':
            'pretrain/pfenet_resnet50_v2.pth',
        'configs/base_learner/pspnet_r50-d8_4xb3-100e_pascal5i-base-fold0.py':
            'pretrain/pfenet_resnet50_v2.pth',
        'configs/base_learner/pspnet_r50-d8_4xb4-20k_pascal5i-base-fold0.py':
            'pretrain/pfenet_resnet50_v2.pth',
        'configs/dotgraph/dotgraph_r50-d8-vitb16_1xb4-100e_pascal5i-fold2-1shot.py':
            'pretrain/bam_pspnet_resnet50_pascal_split2.pth',
        'configs/dotgraph/dotgraph_r50-d8-vitb16_4xb2-50e_coco20i-fold1-5shot.py':
            'pretrain/bam_pspnet_resnet50_coco_split1.pth',
        'configs/pfenet/pfenet_r50-d8_1xb4-200e_pascal5i-fold2-5shot.py':
            'pretrain/pfenet_resnet50_v2.pth',
        'configs/pfenet/pfenet_vgg16_4xb8-50e_coco20i-fold1-1shot.py':
            'pretrain/pfenet_vgg16_bn.pth',
        'configs/bam/bam_r50-d8_4xb2-50e_coco20i-fold3-5shot.py':
            'pretrain/bam_pspnet_resnet50_coco_split3.pth',
    }
    for config, expected in cases.items():
        paths = pretrained_checkpoints(Config.fromfile(osp.join(REPO, config)))
        assert expected in paths, (config, paths)
        assert expected in REFERENCE_FILES
        with pytest.raises(FileNotFoundError) as err:
            check_reference_files(paths)
        message = str(err.value)
        assert expected in message and 'tools/model_converters/' in message
        assert 'github.com/' in message
    hint = reference_file_help('pretrain/bam_pspnet_resnet50_coco_split3.pth')
    assert 'PSPNet/coco/split3/resnet50/best.pth' in hint and 'bam_pspnet2mmfss.py' in hint
    assert reference_file_help('work_dirs/x.pth') is None
    # the other backbones' files: Swin-B (official release converted, or mmseg's copy as it
    # is) and MiT-b5 (mmseg's copy)
    for config, expected, words in (
            ('configs/baseline/fss-baseline_swin-b_4xb4-20k_pascal5i-fold0-1shot.py',
             'pretrain/swin_base_patch4_window12_384_22k.pth',
             ('swin2mmfss.py', 'microsoft/Swin-Transformer', 'e5c09f74')),
            ('configs/cmnet/cmnet_swin-b_1xb4-200e_pascal5i-fold0-1shot.py',
             'pretrain/swin_base_patch4_window12_384_22k.pth', ('swin2mmfss.py', )),
            ('configs/baseline/fss-baseline_mit-b5_4xb4-20k_pascal5i-fold0-1shot.py',
             'pretrain/mit_b5.pth', ('mit_b5_20220624-658746d9.pth', 'save it as'))):
        paths = pretrained_checkpoints(Config.fromfile(osp.join(REPO, config)))
        assert paths == [expected], (config, paths)
        with pytest.raises(FileNotFoundError) as err:
            check_reference_files(paths)
        assert expected in str(err.value) and all(w in str(err.value) for w in words)


def test_model_init_names_the_missing_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = Config.fromfile(osp.join(REPO, 'configs/_base_/models/fss-baseline_r50-d8.py'))
    model = MODELS.build(dict(cfg.model, backbone=dict(cfg.model.backbone, depth=18,
                                                       stem_channels=16, base_channels=16),
                              decode_head=dict(cfg.model.decode_head, in_channels=[32, 64],
                                               channels=16)))
    with pytest.raises(FileNotFoundError, match=r'pretrain/pfenet_resnet50_v2.pth .*download '
                                                r'resnet50_v2.pth .*pfenet_resnet2mmfss.py'):
        model.init_weights()


def _official_patch_merging(x, hw, norm_weight, norm_bias, reduction):
    """My statement of the official Swin PatchMerging (microsoft/Swin-Transformer
    ``models/swin_transformer.py``): the 2x2 neighbours concatenated as x[0::2, 0::2],
    x[1::2, 0::2], x[0::2, 1::2], x[1::2, 1::2], LayerNorm over 4C, Linear without bias."""
    b, _, c = x.shape
    h, w = hw
    x = x.view(b, h, w, c)
    x = torch.cat([x[:, 0::2, 0::2], x[:, 1::2, 0::2], x[:, 0::2, 1::2], x[:, 1::2, 1::2]],
                  -1).view(b, -1, 4 * c)
    x = torch.nn.functional.layer_norm(x, (4 * c, ), norm_weight, norm_bias)
    return x @ reduction.T


def _official_swin_state(mmseg_state, rng):
    """An official-layout checkpoint with random patch-merging weights in the official
    neighbour order (my statement of the release's key names)."""
    out = {}
    for key, value in mmseg_state.items():
        if re.match(r'norm[0-2]\.', key):
            continue
        new = key.replace('stages.', 'layers.').replace('.attn.w_msa.', '.attn.')
        new = new.replace('.ffn.layers.0.0.', '.mlp.fc1.').replace('.ffn.layers.1.', '.mlp.fc2.')
        new = new.replace('patch_embed.projection.', 'patch_embed.proj.')
        new = new.replace('norm3.', 'norm.') if new.startswith('norm3.') else new
        if '.downsample.' in new:
            value = torch.randn(value.shape, generator=rng)
        out[new] = value
    out['head.weight'] = torch.randn(10, 64, generator=rng)
    out['head.bias'] = torch.zeros(10)
    out['layers.0.blocks.0.attn_mask'] = torch.zeros(4, 9, 9)
    return dict(model=out)


def test_swin_release_converts_exactly(tmp_path):
    """The official Swin checkpoint layout -> mmseg's SwinTransformer: every key lands
    (strict load but the norms of the non-final outputs, which the release lacks), and the
    patch merging with converted weights equals the official one's."""
    from mmseg.registry import MODELS
    from mmfss.utils.reference_weights import convert_swin
    cfg = dict(type='SwinTransformer', pretrain_img_size=96, embed_dims=8, depths=[1, 1, 1, 1],
               num_heads=[1, 1, 2, 2], window_size=3, out_indices=(0, 1, 2, 3))
    rng = torch.Generator().manual_seed(0)
    official = _official_swin_state(MODELS.build(cfg).state_dict(), rng)
    src, dst = tmp_path / 'swin_official.pth', tmp_path / 'swin_mmfss.pth'
    torch.save(official, src)
    proc = subprocess.run([sys.executable, 'tools/model_converters/swin2mmfss.py', str(src),
                           str(dst)], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    converted = torch.load(dst, weights_only=True)['state_dict']
    model = MODELS.build(cfg)
    missing, unexpected = model.load_state_dict(converted, strict=False)
    assert not unexpected and sorted(missing) == sorted(
        f'norm{i}.{p}' for i in range(3) for p in ('weight', 'bias'))
    torch.testing.assert_close(converted['norm3.weight'], official['model']['norm.weight'])
    for i in range(3):
        merge = model.stages[i].downsample
        c = 8 * 2**i
        hw = (4, 6)  # even sides: the official merging takes 2x2 neighbours without padding
        x = torch.randn(2, 24, c, generator=rng)
        prefix = f'layers.{i}.downsample.'
        expected = _official_patch_merging(
            x, hw, official['model'][prefix + 'norm.weight'],
            official['model'][prefix + 'norm.bias'], official['model'][prefix + 'reduction.weight'])
        got, size = merge(x, hw)
        assert size == (hw[0] // 2, hw[1] // 2)
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    bad = tmp_path / 'bad.pth'
    torch.save(dict(model={'layers.0.blocks.0.mlp.act.weight': torch.zeros(1)}), bad)
    proc = subprocess.run([sys.executable, 'tools/model_converters/swin2mmfss.py', str(bad),
                           str(tmp_path / 'x.pth')], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.strip().startswith('error:')
    assert 'unexpected key' in proc.stderr and not (tmp_path / 'x.pth').exists()


class RefVGGPSPNet(nn.Module):
    """BAM model/PSPNet.py ``OneModel`` with ``vgg: True``: torchvision's VGG-16-BN features
    (max pools with ``ceil_mode``, as BAM's ``model/vgg.py``) split as PFENet's
    ``get_vgg16_layer`` (0-6, 7-13, 14-23, 24-33, 34-42), ``encoder`` the
    same modules again, PPM with 512 / 4 = 128 channels per bin, ``cls`` 3x3 (1024 -> 512) +
    BN + ReLU + Dropout2d + 1x1 classifier."""

    def __init__(self, classes=16):
        super().__init__()
        import torchvision
        features = torchvision.models.vgg16_bn(weights=None).features
        for m in features:  # PFENet's and BAM's model/vgg.py pool with ceil_mode=True
            if isinstance(m, nn.MaxPool2d):
                m.ceil_mode = True
        bounds = (0, 7, 14, 24, 34, 43)
        for i in range(5):
            setattr(self, f'layer{i}', nn.Sequential(*features[bounds[i]:bounds[i + 1]]))
        self.encoder = nn.Sequential(self.layer0, self.layer1, self.layer2, self.layer3,
                                     self.layer4)
        self.ppm = RefPPM(512, 128, (1, 2, 3, 6))
        self.cls = nn.Sequential(nn.Conv2d(1024, 512, 3, padding=1, bias=False),
                                 nn.BatchNorm2d(512), nn.ReLU(inplace=True),
                                 nn.Dropout2d(p=0.1), nn.Conv2d(512, classes, 1))

    def forward(self, x):
        return self.cls(self.ppm(self.encoder(x)))


def test_bam_vgg_model_converts_exactly(tmp_path):
    """A whole BAM VGG-16 checkpoint (its PSPNet's layer0-4 as PFENet splits VGG-16-BN,
    learner_base = (ppm, cls) with 128-channel bins and a 512-channel bottleneck, the meta
    learner over 512 + 256 channels) -> configs/bam VGG: every key mapped, strict load; the
    backbone and the base learner compute what BAM's modules compute."""
    psp = randomize(RefVGGPSPNet(classes=16), seed=31)
    ref, model, state = _bam_checkpoint_through_converter(
        tmp_path, psp, 768, 'bam_vgg16_4xb2-200e_pascal5i-fold0-1shot.py', shot=1, seed=32)
    model.eval()
    psp.eval()
    x = torch.randn(1, 3, 97, 97, generator=torch.Generator().manual_seed(34))
    with torch.no_grad():
        feats = model.backbone(x)
        y = x
        theirs = []
        for i in range(5):
            y = getattr(psp, f'layer{i}')(y)
            theirs.append(y)
        for i, (a, b) in enumerate(zip(feats, theirs[1:]), 1):
            assert_close(a, b, f'VGG layer{i}')
        base = model.decode_head.base_learner(list(feats))
        assert_close(base, psp(x), 'VGG base learner logits')
    # the PSPNet base learner alone converts the same way (bam_pspnet2mmfss.py)
    src = tmp_path / 'best.pth'
    torch.save(dict(state_dict={f'module.{k}': v for k, v in psp.state_dict().items()}), src)
    alone = run_converter('bam_pspnet2mmfss', src, tmp_path / 'psp.pth')
    assert all(torch.equal(state[k], v) for k, v in alone.items() if k.startswith('backbone.'))
    head = {k[len('decode_head.'):]: v for k, v in alone.items() if k.startswith('decode_head.')}
    assert all(torch.equal(state[f'decode_head.base_learner.{k}'], v) for k, v in head.items())
