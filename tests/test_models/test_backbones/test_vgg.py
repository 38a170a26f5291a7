"""mmfss's VGG against torchvision's VGG-16-BN in PFENet's stage split (model/PFENet.py
``get_vgg16_layer``: features[0:7], [7:14], [14:24], [24:34], [34:43]; pooling with
``ceil_mode=True`` as PFENet's ``model/vgg.py``)."""
import pytest
import torch
import torch.nn as nn
import torchvision
from mmseg.registry import MODELS

from mmfss.models.utils.backbone_stages import stage_runner
from mmfss.utils import convert_pfenet, convert_pfenet_vgg

PFENET_SPLIT = ((0, 7), (7, 14), (14, 24), (24, 34), (34, 43))


def _torchvision_vgg(seed=0):
    ref = torchvision.models.vgg16_bn(weights=None)
    for m in ref.features:
        if isinstance(m, nn.MaxPool2d):
            m.ceil_mode = True  # PFENet's make_layers
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in list(ref.named_parameters()) + list(ref.named_buffers()):
            if name.endswith('num_batches_tracked'):
                continue
            t.copy_(torch.rand(t.shape, generator=g) + 0.5 if name.endswith('running_var')
                    else torch.randn(t.shape, generator=g) * 0.05)
    return ref.eval()


def test_stages_equal_pfenets_split_of_torchvision_vgg16_bn():
    ref = _torchvision_vgg()
    ours = MODELS.build(dict(type='VGG', depth=16, out_indices=(0, 1, 2, 3, 4)))
    ours.load_state_dict(convert_pfenet_vgg(ref.state_dict()), strict=True)
    ours.eval()
    x = torch.randn(1, 3, 97, 97)
    with torch.no_grad():
        outs = ours(x)
        for (start, end), out in zip(PFENET_SPLIT, outs):
            x = ref.features[start:end](x)
            assert out.shape == x.shape
            torch.testing.assert_close(out, x, rtol=0, atol=0)
    assert [o.shape[-1] for o in outs] == [49, 25, 13, 7, 7]  # ceil mode: 97 -> 49 -> ...


def test_stage_runner_continues_the_backbone():
    vgg = MODELS.build(dict(type='VGG', depth=16)).eval()
    with torch.no_grad():
        outs = vgg(torch.randn(2, 3, 64, 64))
        run = stage_runner(vgg)
        torch.testing.assert_close(run(outs[2], 3), outs[3], rtol=0, atol=0)
        torch.testing.assert_close(run(outs[1], 2), outs[2], rtol=0, atol=0)
    assert [o.shape[1] for o in outs] == [128, 256, 512, 512]


def test_pfenet_vgg_layout_converts_to_features():
    ref = _torchvision_vgg(1)
    layers = {f'layer{s}': nn.Sequential(*ref.features[a:b])
              for s, (a, b) in enumerate(PFENET_SPLIT)}
    state = {f'module.{name}.{k}': v for name, seq in layers.items()
             for k, v in seq.state_dict().items()}
    converted = convert_pfenet(state)
    expected = {f'backbone.features.{k}': v for k, v in ref.features.state_dict().items()}
    assert converted.keys() == expected.keys()
    assert all(torch.equal(converted[k], expected[k]) for k in expected)
    with pytest.raises(ValueError, match="unexpected key 'avgpool.x' for a VGG"):
        convert_pfenet_vgg({'avgpool.x': torch.zeros(1)})


def test_bad_arguments_and_norm_eval():
    with pytest.raises(ValueError, match='depth must be one of'):
        MODELS.build(dict(type='VGG', depth=17))
    with pytest.raises(ValueError, match='out_indices'):
        MODELS.build(dict(type='VGG', out_indices=(2, 1)))
    vgg = MODELS.build(dict(type='VGG', depth=11, norm_eval=True)).train()
    assert not any(m.training for m in vgg.modules() if isinstance(m, nn.BatchNorm2d))
    plain = MODELS.build(dict(type='VGG', depth=11, norm_cfg=None))
    assert not any(isinstance(m, nn.BatchNorm2d) for m in plain.modules())
