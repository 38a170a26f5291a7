import copy

import pytest
import torch
from mmengine.config import Config
from mmengine.model import BaseModule
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from ...conftest import REPO

CONFIG = f'{REPO}/configs/baseline/fss-baseline_r18-d8_1xb8-2k_shapes5i-fold0-1shot.py'


@MODELS.register_module(force=True)
class _AuxLossNeck(BaseModule):
    """Test neck: adds a prior and an auxiliary loss that depends on the features."""

    def __init__(self, key='aux', init_cfg=None):
        super().__init__(init_cfg)
        self.key = key
        self.scale = torch.nn.Parameter(torch.ones(1))

    def forward(self, feats):
        q = feats.query_feats[-1]
        feats.priors[self.key] = torch.sigmoid(self.scale * q.mean(1, keepdim=True))
        if feats.query_masks is not None:
            feats.aux_losses[f'loss_{self.key}'] = (self.scale * q.mean()).abs()
        return feats


def _model_cfg(**kw):
    cfg = copy.deepcopy(Config.fromfile(CONFIG).model)
    cfg.backbone.update(stem_channels=8, base_channels=8)
    cfg.decode_head.update(in_channels=[16, 32], channels=16)
    cfg.update(kw)
    return cfg


def _batch(b=2, k=1, h=48, w=40, ori=(60, 50)):
    samples = []
    for i in range(b):
        s = SegDataSample()
        s.gt_sem_seg = PixelData(data=torch.randint(0, 2, (1, h, w)))
        s.support_masks = PixelData(data=torch.randint(0, 2, (k, h, w)))
        s.set_metainfo(dict(img_shape=(h, w), ori_shape=ori, class_id=1, class_name='aeroplane',
                           base_label=1))
        samples.append(s)
    inputs = dict(query=[torch.randint(0, 255, (3, h, w), dtype=torch.uint8) for _ in range(b)],
                  support=[torch.randint(0, 255, (k, 3, h, w), dtype=torch.uint8)
                           for _ in range(b)])
    return dict(inputs=inputs, data_samples=samples)


class TestFewShotSegmentor:

    @pytest.mark.parametrize('k', [1, 3])
    def test_loss_and_predict(self, k):
        model = MODELS.build(_model_cfg())
        data = model.data_preprocessor(_batch(k=k), True)
        losses = model(**data, mode='loss')
        assert set(losses) == {'decode.loss_ce', 'decode.acc_seg'}
        losses['decode.loss_ce'].backward()
        assert model.backbone.stem[0].weight.grad is not None
        model.eval()
        with torch.no_grad():
            data = model.data_preprocessor(_batch(k=k), False)
            results = model(**data, mode='predict')
        assert len(results) == 2
        for r in results:
            assert r.pred_sem_seg.data.shape == (1, 60, 50)  # original size
            assert set(r.pred_sem_seg.data.unique().tolist()) <= {0, 1}
            assert r.seg_logits.data.shape == (2, 60, 50)
        with torch.no_grad():
            logits = model(**data, mode='tensor')
        h, w = data['inputs']['query'].shape[-2:]  # padded to the config's size (96, 96)
        assert (h, w) == (96, 96) and logits.shape == (2, 2, h // 8, w // 8)

    def test_necks_compose_and_aux_losses(self):
        cfg = _model_cfg(necks=[dict(type='PriorMaskNeck', in_index=3, prior_key='prior'),
                                dict(type='_AuxLossNeck', key='aux')])
        cfg.decode_head.prior_keys = ('prior', 'aux')
        model = MODELS.build(cfg)
        data = model.data_preprocessor(_batch(), True)
        losses = model(**data, mode='loss')
        assert set(losses) == {'decode.loss_ce', 'decode.acc_seg', 'loss_aux'}
        sum(v for k, v in losses.items() if 'loss' in k).backward()
        assert model.necks[1].scale.grad is not None

    def test_frozen_backbone(self):
        model = MODELS.build(_model_cfg(freeze_backbone=True))
        model.train()
        assert not model.backbone.training and model.decode_head.training
        bn = model.backbone.stem[1]
        before = bn.running_mean.clone()
        data = model.data_preprocessor(_batch(), True)
        losses = model(**data, mode='loss')
        losses['decode.loss_ce'].backward()
        assert all(p.grad is None for p in model.backbone.parameters())
        assert model.decode_head.conv_seg.weight.grad is not None
        torch.testing.assert_close(bn.running_mean, before)

    def test_padding_is_cropped(self):
        """A query padded to its batch's largest size is cropped back to its own size."""
        cfg = _model_cfg()
        cfg.data_preprocessor.size = None  # pad to the batch maximum
        model = MODELS.build(cfg).eval()
        torch.manual_seed(0)
        small = _batch(b=1, h=32, w=32, ori=(32, 32))
        big = _batch(b=1, h=48, w=48, ori=(48, 48))
        both = dict(inputs=dict(query=big['inputs']['query'] + small['inputs']['query'],
                                support=big['inputs']['support'] + small['inputs']['support']),
                    data_samples=big['data_samples'] + copy.deepcopy(small['data_samples']))
        with torch.no_grad():
            out = model(**model.data_preprocessor(both), mode='predict')
        assert out[1].pred_sem_seg.data.shape == (1, 32, 32)
        assert out[1].metainfo['padding_size'] == (0, 16, 0, 16)

    def test_errors(self):
        model = MODELS.build(_model_cfg())
        with pytest.raises(KeyError, match='support_masks'):
            model.extract_feat(dict(query=torch.zeros(1, 3, 8, 8),
                                    support=torch.zeros(1, 1, 3, 8, 8)))
        with pytest.raises(ValueError, match='needs data_samples'):
            model.predict(dict(query=torch.zeros(1, 3, 8, 8), support=torch.zeros(1, 1, 3, 8, 8),
                               support_masks=torch.zeros(1, 1, 8, 8)))
