"""HSNet's parts against statements of its reference code (juhongm999/hsnet).

* ``HypercolumnResNet`` against HSNet's ``extract_feat_res`` restated on torchvision's
  ResNet-50 (every bottleneck of layers 2-4 before its last ReLU);
* ``CenterPivotConv4d`` against a dense 4D convolution whose kernel is zero outside its two
  center-pivot slices (what HSNet's ``conv4d.py`` computes);
* the K-shot vote against HSNet's ``predict_mask_nshot`` restated;
* the converter on HSNet's checkpoint layout.

HSNet's code itself was run as an oracle on identical random weights: logits and losses
bit-identical, 5-shot votes equal on every pixel (docs/reference_parity.md).
"""
import pytest
import torch
import torch.nn.functional as F
import torchvision
from mmseg.registry import MODELS

from mmfss.models import EpisodeFeatures
from mmfss.models.utils.center_pivot_conv4d import CenterPivotConv4d
from mmfss.utils import convert_hsnet


def _randomise(module, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in list(module.named_parameters()) + list(module.named_buffers()):
            if name.endswith('num_batches_tracked'):
                continue
            t.copy_(torch.rand(t.shape, generator=g) + 0.5 if name.endswith('running_var')
                    else torch.randn(t.shape, generator=g) * 0.1)
    return module


def _hsnet_features(resnet, x):
    """HSNet ``extract_feat_res`` for layers 2-4: each bottleneck's sum before its ReLU."""
    x = resnet.maxpool(resnet.relu(resnet.bn1(resnet.conv1(x))))
    x = resnet.layer1(x)
    feats = []
    for layer in (resnet.layer2, resnet.layer3, resnet.layer4):
        for block in layer:
            res = x if block.downsample is None else block.downsample(x)
            out = block.relu(block.bn1(block.conv1(x)))
            out = block.relu(block.bn2(block.conv2(out)))
            out = block.bn3(block.conv3(out)) + res
            feats.append(out.clone())
            x = block.relu(out)
    return feats


def test_hypercolumn_resnet_equals_hsnets_features():
    ref = _randomise(torchvision.models.resnet50(weights=None)).eval()
    ours = MODELS.build(dict(type='HypercolumnResNet', depth=50, stages=(1, 2, 3)))
    state = {k: v for k, v in ref.state_dict().items() if not k.startswith('fc.')}
    ours.load_state_dict(state, strict=True)  # torchvision's names are mmseg's
    ours.eval()
    x = torch.randn(1, 3, 97, 97, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected, got = _hsnet_features(ref, x), ours(x)
    assert len(got) == 13 and ours.group_sizes == [4, 6, 3]
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    from mmfss.models.utils.backbone_stages import stage_runner
    assert stage_runner(ours) is None  # levels are blocks: PFENet's prior cannot use it


def _dense_center_pivot(x, conv1, conv2, stride, k):
    """A 4D convolution with a kernel that is conv1's weights on the support center slice
    and conv2's on the query center slice (their biases added), computed position by
    position."""
    b, c, hq, wq, hs, ws = x.shape
    p = k // 2
    xp = F.pad(x, (p, p, p, p, p, p, p, p))
    out_hs = list(range(0, hs, stride))
    o = conv1.out_channels
    y = torch.zeros(b, o, hq, wq, len(out_hs), len(out_hs))
    for i in range(hq):
        for j in range(wq):
            for m, u in enumerate(out_hs):
                for n, v in enumerate(out_hs):
                    q_patch = xp[:, :, i:i + k, j:j + k, u + p, v + p]      # query slice
                    s_patch = xp[:, :, i + p, j + p, u:u + k, v:v + k]      # support slice
                    y[:, :, i, j, m, n] = (
                        torch.einsum('bcxy,ocxy->bo', q_patch, conv1.weight) + conv1.bias +
                        torch.einsum('bcxy,ocxy->bo', s_patch, conv2.weight) + conv2.bias)
    return y


@pytest.mark.parametrize('stride,k', [(1, 3), (2, 3), (2, 5)])
def test_center_pivot_conv4d_is_the_dense_center_pivot_kernel(stride, k):
    torch.manual_seed(0)
    conv = CenterPivotConv4d(2, 3, (k, ) * 4, (1, 1, stride, stride), (k // 2, ) * 4)
    x = torch.randn(1, 2, 5, 5, 6, 6)
    with torch.no_grad():
        expected = _dense_center_pivot(x, conv.conv1, conv.conv2, stride, k)
        torch.testing.assert_close(conv(x), expected, rtol=1e-5, atol=1e-5)


def test_center_pivot_conv4d_strided_on_a_1x1_support_map():
    """A support map of 1x1 (small inputs) gives the same output at stride 1; the bfloat16
    weight gradient stays finite (CPU's strided bf16 kernel returns NaN there)."""
    torch.manual_seed(0)
    conv = CenterPivotConv4d(8, 16, (3, ) * 4, (1, 1, 2, 2), (1, ) * 4)
    x = torch.randn(2, 8, 4, 4, 1, 1)
    plain = CenterPivotConv4d(8, 16, (3, ) * 4, (1, 1, 1, 1), (1, ) * 4)
    plain.load_state_dict(conv.state_dict())
    torch.testing.assert_close(conv(x), plain(x))
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = conv(x)
    out.float().sum().backward()
    assert torch.isfinite(conv.conv2.weight.grad).all()


def _head(**kw):
    cfg = dict(type='HypercorrelationHead', group_sizes=(1, 1, 1))
    cfg.update(kw)
    return MODELS.build(cfg)


def _feats(k, b=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    sizes = ((8, 16), (8, 8), (16, 4))  # (channels, side) of layer2, layer3, layer4 levels
    return EpisodeFeatures(
        query_feats=[torch.randn(b, c, s, s, generator=g) for c, s in sizes],
        support_feats=[torch.randn(b, k, c, s, s, generator=g) for c, s in sizes],
        support_masks=(torch.rand(b, k, 64, 64, generator=g) > 0.4).long(),
        query_inputs=torch.zeros(b, 3, 64, 64), support_inputs=torch.zeros(b, k, 3, 64, 64))


def test_kshot_vote_is_hsnets():
    head = _head().eval()
    feats = _feats(k=3)
    with torch.no_grad():
        shots = [F.interpolate(head.one_shot(feats, i), (64, 64), mode='bilinear',
                               align_corners=True) for i in range(3)]
        out = head(feats)
    # HSNet predict_mask_nshot: sum of argmaxes, divided by max(max vote, 1), >= 0.5
    agg = sum(s.argmax(1) for s in shots)
    peak = torch.stack([agg.view(2, -1).max(1)[0], torch.ones(2, dtype=torch.long)]).max(0)[0]
    expected = (agg.float() / peak.view(2, 1, 1) >= 0.5).long()
    assert out.shape == (2, 2, 64, 64)
    torch.testing.assert_close(out.argmax(1), expected, rtol=0, atol=0)
    # mean fusion: the shots' logits averaged; training always averages
    mean = _head(shot_fusion='mean').eval()
    mean.load_state_dict(head.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(
            mean(feats), torch.stack([head.one_shot(feats, i) for i in range(3)]).mean(0))


def test_head_checks_its_levels_and_arguments():
    with pytest.raises(ValueError, match='shot_fusion'):
        _head(shot_fusion='max')
    with pytest.raises(ValueError, match='group_sizes'):
        _head(group_sizes=(4, 6))
    feats = _feats(k=1)
    with pytest.raises(ValueError, match='use HypercolumnResNet'):
        _head(group_sizes=(4, 6, 3))(feats)


def test_hsnet_checkpoint_converts(tmp_path):
    head = _head()
    backbone = MODELS.build(dict(type='HypercolumnResNet', depth=18, stages=(1, 2, 3)))
    state = {f'module.backbone.{k}': v for k, v in backbone.state_dict().items()}
    state['module.backbone.fc.weight'] = torch.zeros(2, 2)  # torchvision's classifier
    state.update({f'module.hpn_learner.{k}': v for k, v in head.state_dict().items()})
    converted = convert_hsnet(state)
    assert set(converted) == {f'backbone.{k}' for k in backbone.state_dict()} | {
        f'decode_head.{k}' for k in head.state_dict()}
    with pytest.raises(ValueError, match="unexpected key 'module2.x'"):
        convert_hsnet({'module2.x': torch.zeros(1)})
    # HSNet's VGG-16 models: torchvision's features.N names, its classifier dropped
    vgg = torchvision.models.vgg16(weights=None)
    state = {f'module.backbone.{k}': v for k, v in vgg.state_dict().items()}
    state.update({f'module.hpn_learner.{k}': v for k, v in head.state_dict().items()})
    converted = convert_hsnet(state)
    ours = MODELS.build(dict(type='HypercolumnVGG'))
    assert {k[len('backbone.'):] for k in converted if k.startswith('backbone.')} == set(
        ours.state_dict())


def test_hypercolumn_vgg_equals_hsnets_features():
    """HypercolumnVGG against HSNet's extract_feat_vgg restated (model/base/feature.py: the
    output of every features module in feat_ids, cloned) on torchvision's VGG-16."""
    ref = _randomise(torchvision.models.vgg16(weights=None)).eval()
    ours = MODELS.build(dict(type='HypercolumnVGG'))
    ours.load_state_dict({k: v for k, v in ref.state_dict().items()
                          if k.startswith('features.')}, strict=True)
    ours.eval()
    x = torch.randn(1, 3, 97, 97, generator=torch.Generator().manual_seed(1))
    expected, feat = [], x
    with torch.no_grad():
        for lid, module in enumerate(ref.features):
            feat = module(feat)
            if lid in (17, 19, 21, 24, 26, 28, 30):
                expected.append(feat.clone())
        got = ours(x)
    assert [tuple(t.shape[1:]) for t in got] == [(512, 12, 12)] * 3 + [(512, 6, 6)] * 3 + [
        (512, 3, 3)]
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    from mmfss.models.utils.backbone_stages import stage_runner
    assert stage_runner(ours) is None
    with pytest.raises(ValueError, match='feature_ids must be increasing'):
        MODELS.build(dict(type='HypercolumnVGG', feature_ids=(30, 17)))


@pytest.mark.parametrize('side,stride', [(2, 4), (3, 4), (2, 2)])
def test_center_pivot_conv4d_with_one_support_output(side, stride):
    """A strided support convolution with one output position (a 2x2 map at stride 4, as
    HSNet's layer2 encoder at small inputs): the stride-1 convolution's first position,
    equal to the strided one in float32, and a finite bfloat16 weight gradient."""
    torch.manual_seed(0)
    conv = CenterPivotConv4d(8, 16, (3, ) * 4, (1, 1, stride, stride), (1, ) * 4)
    x = torch.randn(2, 8, 4, 4, side, side)
    out = conv(x)
    flat = x.permute(0, 2, 3, 1, 4, 5).reshape(-1, 8, side, side)
    strided = F.conv2d(flat, conv.conv2.weight, conv.conv2.bias, stride=stride, padding=1)
    assert strided.shape[-2:] == (1, 1) and out.shape[-2:] == (1, 1)
    pruned = x[..., ::stride, ::stride].permute(0, 4, 5, 1, 2, 3).reshape(-1, 8, 4, 4)
    first = conv.conv1(pruned).view(2, 1, 1, 16, 4, 4).permute(0, 3, 4, 5, 1, 2)
    expected = first + strided.view(2, 4, 4, 16, 1, 1).permute(0, 3, 1, 2, 4, 5)
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-6)
    x = torch.randn(2, 8, 4, 4, side, side, generator=torch.Generator().manual_seed(2))
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = conv(x)
    out.float().sum().backward()
    assert torch.isfinite(conv.conv2.weight.grad).all()
