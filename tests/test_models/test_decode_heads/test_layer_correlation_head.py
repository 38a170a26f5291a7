"""LayerCorrelationHead (FoundationFSS's learner) against a statement of FoundationFSS's
depth-wise / point-wise 4D convolutions and learner forward (DUT-CSJ/FoundationFSS
``model/base/conv4d.py``, ``model/dino_fss.py``). FoundationFSS's code itself was run as an
oracle on identical random weights: logits bit-identical (docs/reference_parity.md)."""
import pytest
import torch
import torch.nn.functional as F
from mmseg.registry import MODELS

from mmfss.models import EpisodeFeatures
from mmfss.models.decode_heads.hypercorrelation_head import hypercorrelation


def _dw_pw(x, dw, pw):
    """FoundationFSS's DWConv4d then PWConv4d (stride 1): each a 2D conv over the query
    dimensions at every support position plus one over the support dimensions at every
    query position, summed."""
    def four_d(t, conv1, conv2):
        b, c, ha, wa, hb, wb = t.shape
        o1 = conv1(t.permute(0, 4, 5, 1, 2, 3).reshape(-1, c, ha, wa))
        o1 = o1.view(b, hb, wb, -1, ha, wa).permute(0, 3, 4, 5, 1, 2)
        o2 = conv2(t.permute(0, 2, 3, 1, 4, 5).reshape(-1, c, hb, wb))
        o2 = o2.view(b, ha, wa, -1, hb, wb).permute(0, 3, 1, 2, 4, 5)
        return o1 + o2
    return four_d(four_d(x, dw.conv1, dw.conv2), pw.conv1, pw.conv2)


def _episode(levels=3, k=1, size=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    return EpisodeFeatures(
        query_feats=[torch.randn(2, 6, size, size, generator=g) for _ in range(levels)],
        support_feats=[torch.randn(2, k, 6, size, size, generator=g) for _ in range(levels)],
        support_masks=(torch.rand(2, k, 56, 56, generator=g) > 0.5).long(),
        query_inputs=torch.zeros(2, 3, 56, 56), support_inputs=torch.zeros(2, k, 3, 56, 56))


def test_equals_foundationfss_learner_statement():
    torch.manual_seed(0)
    head = MODELS.build(dict(type='LayerCorrelationHead', num_levels=3))
    head.eval()
    feats = _episode()
    with torch.no_grad():
        ours = head(feats)
        corr = torch.stack(hypercorrelation(feats.query_feats,
                                            [s[:, 0] for s in feats.support_feats]), 1)
        x = head.encoder_layer4(corr)
        for mix in (head.encoder_layer4to3, head.encoder_layer3to2):
            y = x
            for i in range(0, len(mix), 4):  # DW, PW, GroupNorm, ReLU
                y = F.relu(mix[i + 2](_dw_pw(y, mix[i], mix[i + 1])))
            x = y + x
        d = head.decoder1(x.flatten(4).mean(-1))
        d = F.interpolate(d, (d.shape[-1] * 2, ) * 2, mode='bilinear', align_corners=True)
        expected = head.decoder2(d)
    torch.testing.assert_close(ours, expected)
    assert ours.shape == (2, 2, 16, 16)  # the query grid (8) upsampled x2 by the decoder
    assert head.encoder_layer4to3[0].conv1.groups == 128  # depth-wise


def test_levels_masks_and_shots():
    head = MODELS.build(dict(type='LayerCorrelationHead', num_levels=3))
    head.eval()
    with pytest.raises(ValueError, match='num_levels=3.*got 2 levels'):
        feats = _episode()
        feats.query_feats = feats.query_feats[:2]
        head(feats)
    feats = _episode(k=3)
    with torch.no_grad():
        voted = head(feats)
    assert voted.shape == (2, 2, 56, 56) and set(voted.unique().tolist()) <= {0.0, 1.0}
    masked = MODELS.build(dict(type='LayerCorrelationHead', num_levels=3, mask_features=True))
    masked.load_state_dict(head.state_dict())
    masked.eval()
    with torch.no_grad():
        assert not torch.allclose(masked.one_shot(feats, 0), head.one_shot(feats, 0))


def test_foundationfss_checkpoint_converts_exactly(tmp_path):
    """FoundationFSS's best_model.pt layout ({'net': ...}, module.backbone.* as DINOv2's hub
    ViT with its mask_token, module.hpn_learner.*) -> the config's model, strict load."""
    from mmengine.config import Config

    from mmfss.utils import convert_foundationfss
    from ...conftest import REPO
    cfg = Config.fromfile(f'{REPO}/configs/foundationfss/'
                          'foundationfss_vit-w64_1xb8-2k_shapes5i-fold0-1shot.py')
    model = MODELS.build(cfg.model)
    ours = {k: v.clone() for k, v in model.state_dict().items()}
    net = {f'module.backbone.{k[9:]}': v.clone() for k, v in ours.items()
           if k.startswith('backbone.')}
    net['module.backbone.mask_token'] = torch.zeros(1, 64)
    net.update({f'module.hpn_learner.{k[12:]}': v.clone() + 1 for k, v in ours.items()
                if k.startswith('decode_head.')})
    converted = convert_foundationfss({'net': net, 'epoch': 3})
    model.load_state_dict(converted, strict=True)
    assert torch.equal(model.state_dict()['decode_head.decoder2.2.bias'],
                       ours['decode_head.decoder2.2.bias'] + 1)
    with pytest.raises(ValueError, match="unexpected key 'extra.weight'"):
        convert_foundationfss({'net': dict(net, **{'module.extra.weight': torch.zeros(1)})})
