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
                           query_class_names=['person', 'aeroplane'], base_label=1))
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
        # as mmseg's preprocessor, size pads training batches only: (96, 96) in training
        h, w = data['inputs']['query'].shape[-2:]
        assert (h, w) == (48, 40) and logits.shape == (2, 2, h // 8, w // 8)
        train = model.data_preprocessor(_batch(k=k), True)
        assert train['inputs']['query'].shape[-2:] == (96, 96)
        assert train['inputs']['support'].shape[-2:] == (96, 96)

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

    def test_protocol_score_frame(self):
        """score_shape: logits (cropped of batch padding) resized there, align_corners=True."""
        model = MODELS.build(_model_cfg()).eval()
        data = _batch(b=2, h=48, w=40)
        data['data_samples'][0].set_metainfo(dict(score_shape=(70, 70), score_align_corners=True))
        with torch.no_grad():
            data = model.data_preprocessor(data, False)
            logits = model(**data, mode='tensor')
            out = model(**data, mode='predict')
        full = torch.nn.functional.interpolate(logits, (48, 40), mode='bilinear',
                                               align_corners=model.align_corners)
        expected = torch.nn.functional.interpolate(full[:1], (70, 70), mode='bilinear',
                                                   align_corners=True)[0]
        torch.testing.assert_close(out[0].seg_logits.data, expected)
        assert torch.equal(out[0].pred_sem_seg.data[0], expected.argmax(0))
        assert out[1].pred_sem_seg.data.shape == (1, 60, 50)  # no score_shape: ori_shape

    def test_hsnet_original_size_is_one_resize(self):
        """HSNet use_original_imgsize (score_from_features): the head's logits are resized
        once, straight to the original size (HSNet predict_mask_nshot), not first to the
        input size."""
        model = MODELS.build(_model_cfg()).eval()
        data = _batch(b=2, h=48, w=48)
        for sample in data['data_samples']:
            sample.set_metainfo(dict(score_shape=(61, 37), score_align_corners=True,
                                     score_from_features=True))
        with torch.no_grad():
            data = model.data_preprocessor(data, False)
            logits = model(**data, mode='tensor')
            out = model(**data, mode='predict')
        once = torch.nn.functional.interpolate(logits, (61, 37), mode='bilinear',
                                               align_corners=True)
        twice = torch.nn.functional.interpolate(torch.nn.functional.interpolate(
            logits, (48, 48), mode='bilinear', align_corners=model.align_corners), (61, 37),
            mode='bilinear', align_corners=True)
        for i in range(2):
            torch.testing.assert_close(out[i].seg_logits.data, once[i])
        assert not torch.allclose(once, twice)
        data['data_samples'][1].set_metainfo(dict(score_from_features=False))
        with pytest.raises(ValueError, match='mixes queries'):
            model(**data, mode='predict')

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


class _CountingBackbone(torch.nn.Module):
    """Wraps a backbone and counts the images it encodes."""

    def __init__(self, backbone):
        super().__init__()
        self.inner = backbone
        self.images = 0

    def forward(self, x):
        self.images += x.shape[0]
        return self.inner(x)

    def __getattr__(self, name):  # the stages (res_layers, layer4, ...) of the wrapped one
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.inner, name)


class TestSupportReuseAndWays:

    def _model(self):
        torch.manual_seed(0)
        model = MODELS.build(_model_cfg())
        model.eval()
        return model

    def test_encoded_support_matches_predict(self):
        """One-way prediction with an encoding equals the ordinary episode prediction."""
        model = self._model()
        data = model.data_preprocessor(_batch(b=3, k=2), False)
        inputs = data['inputs']
        # give the three episodes the same supports, as the inferencer does
        inputs['support'] = inputs['support'][:1].expand_as(inputs['support']).clone()
        inputs['support_masks'] = inputs['support_masks'][:1].expand_as(
            inputs['support_masks']).clone()
        with torch.no_grad():
            expected = model.predict(inputs, copy.deepcopy(data['data_samples']))
            encoding = model.encode_support(inputs['support'][0][None],
                                            inputs['support_masks'][0][None],
                                            class_ids=[1], class_names=['aeroplane'])
            got = model.predict_with_support(inputs['query'], encoding,
                                             copy.deepcopy(data['data_samples']))
        for e, g in zip(expected, got):
            torch.testing.assert_close(g.seg_logits.data, e.seg_logits.data, rtol=1e-4,
                                       atol=1e-4)
            assert torch.equal(g.pred_sem_seg.data, e.pred_sem_seg.data)

    def test_supports_encoded_once(self):
        model = self._model()
        model.backbone = _CountingBackbone(model.backbone)
        data = model.data_preprocessor(_batch(b=4, k=2), False)
        inputs = data['inputs']
        with torch.no_grad():
            hw = inputs['support'].shape[-2:]
            encoding = model.encode_support(inputs['support'][:3].reshape(1, 3, 2, 3, *hw)[0],
                                            inputs['support_masks'][:3].reshape(3, 2, *hw))
            assert model.backbone.images == 6
            for _ in range(3):  # three query batches of 4
                out = model.predict_with_support(inputs['query'], encoding,
                                                 copy.deepcopy(data['data_samples']))
        assert model.backbone.images == 6 + 3 * 4  # supports once, every query once
        assert all(set(o.pred_sem_seg.data.unique().tolist()) <= {0, 1, 2, 3} for o in out)
        assert out[0].seg_logits.data.shape == (4, 60, 50)  # background + 3 ways

    def test_ways_are_the_one_way_episodes(self):
        """Each way's probability is that of the one-way episode with its supports."""
        model = self._model()
        data = model.data_preprocessor(_batch(b=2, k=1), False)
        inputs = data['inputs']
        sup = torch.randn(3, 1, 3, 96, 96)
        masks = torch.randint(0, 2, (3, 1, 96, 96))
        with torch.no_grad():
            multi = model.predict_with_support(
                inputs['query'], model.encode_support(sup, masks),
                copy.deepcopy(data['data_samples']))
            for n in range(3):
                single = model.predict_with_support(
                    inputs['query'], model.encode_support(sup[n:n + 1], masks[n:n + 1]),
                    copy.deepcopy(data['data_samples']))
                for m, s in zip(multi, single):
                    p = s.seg_logits.data.softmax(0)[1]
                    # fused scores hold each way's log-probability, resized like the logits
                    assert (m.seg_logits.data[n + 1].exp() - p).abs().max() < 0.05
        for m in multi:
            assert torch.equal(m.pred_sem_seg.data[0], m.seg_logits.data.argmax(0))

    def test_multiway_dataset_episodes(self):
        """predict() on an N-way episode (supports way by way) uses the N-way path."""
        model = self._model()
        batch = _batch(b=2, k=4)  # 4 supports = 2 ways x 2 shots
        for s in batch['data_samples']:
            s.set_metainfo(dict(ways=2, class_ids=[1, 2], class_names=['a', 'b']))
        data = model.data_preprocessor(batch, False)
        with torch.no_grad():
            out = model.predict(data['inputs'], data['data_samples'])
            hw = data['inputs']['support'].shape[-2:]
            sup = data['inputs']['support'].view(2, 2, 2, 3, *hw)
            masks = data['inputs']['support_masks'].view(2, 2, 2, *hw)
            ref = model.predict_with_support(data['inputs']['query'],
                                             model.encode_support(sup, masks, [[1, 2]] * 2),
                                             copy.deepcopy(data['data_samples']))
        for o, r in zip(out, ref):
            assert o.seg_logits.data.shape == (3, 60, 50)
            assert torch.equal(o.pred_sem_seg.data, r.pred_sem_seg.data)

    def test_errors(self):
        model = self._model()
        with pytest.raises(ValueError, match='support_masks'):
            model.encode_support(torch.zeros(1, 1, 3, 8, 8), torch.zeros(1, 1, 8, 9))
        with pytest.raises(ValueError, match='class_names'):
            model.encode_support(torch.zeros(2, 1, 3, 8, 8), torch.zeros(2, 1, 8, 8),
                                 class_names=['a'])
        encoding = model.encode_support(torch.zeros(2, 2, 1, 3, 32, 32),
                                        torch.zeros(2, 2, 1, 32, 32))
        with pytest.raises(ValueError, match='2 support sets for 3 queries'):
            model.predict_with_support(torch.zeros(3, 3, 32, 32), encoding)
        model.train()
        with pytest.raises(RuntimeError, match='model.eval'):
            model.predict_with_support(torch.zeros(2, 3, 32, 32), encoding)
        with pytest.raises(ValueError, match='background_rule'):
            MODELS.build(_model_cfg(test_cfg=dict(mode='whole', background_rule='max')))
        with pytest.raises(ValueError, match='fg_threshold'):
            MODELS.build(_model_cfg(test_cfg=dict(mode='whole', fg_threshold=1.5)))


# ------------------------------------------------------------- speed levers keep results
LEVER_FAMILIES = ('baseline', 'cmnet', 'dotgraph', 'pfenet', 'bam', 'hsnet', 'hdmnet', 'piclip',
                  'foundationfss')


def _losses_and_logits(family, shot, **levers):
    """Training losses (one step's forward, fixed dropout seed) and test logits of a family's
    Shapes-5i model (small widths) built with ``levers``; also the deferred level's reads."""
    import copy

    from mmfss.models.utils import LazyLevels
    from ...test_paper_scale import family_config
    cfg = copy.deepcopy(family_config(family).model)
    if shot > 1 and ('shot' in cfg.decode_head or cfg.decode_head.type == 'EnsembleFewShotHead'):
        cfg.decode_head.shot = shot
    if family == 'piclip':  # the visual-text prior twice, one visual-visual map per block/shot
        cfg.decode_head.meta_head.prior_channels = 2 + 2 * shot
    torch.manual_seed(0)
    model = MODELS.build(dict(cfg, **levers))
    model.init_weights()
    data = _batch(2, shot, 96, 96, (96, 96))
    reads = []
    get = LazyLevels.__getitem__

    def spy(self, i):
        if isinstance(i, int) and not self.computed(i):
            reads.append(i)
        return get(self, i)

    LazyLevels.__getitem__ = spy
    try:
        model.train()
        torch.manual_seed(5)
        losses = model(**model.data_preprocessor(copy.deepcopy(data), True), mode='loss')
        model.eval()
        with torch.no_grad():
            out = model(**model.data_preprocessor(copy.deepcopy(data), False), mode='predict')
    finally:
        LazyLevels.__getitem__ = get
    losses = {k: v.detach() for k, v in losses.items() if 'loss' in k}
    return losses, torch.stack([o.seg_logits.data for o in out]), reads, model


@pytest.mark.parametrize('shot', [1, 2])
@pytest.mark.parametrize('family', LEVER_FAMILIES)
def test_levers_keep_losses_and_logits(family, shot):
    """The supports' last backbone stage deferred (and never computed: every family reads
    it masked), and the opt-in channels-last backbone: losses and logits equal the joint
    NCHW pass to 1e-5 (issue: faster than the references, every change keeps results)."""
    off, off_logits, _, _ = _losses_and_logits(family, shot, defer_support_stage=False,
                                               backbone_channels_last=False)
    on, on_logits, reads, model = _losses_and_logits(family, shot)
    assert model.defer_support_stage and not model.backbone_channels_last  # the defaults
    for key in off:  # the deferral alone: the same numbers
        assert torch.allclose(on[key], off[key], rtol=1e-6, atol=1e-7), key
    assert float((on_logits - off_logits).abs().max() / off_logits.abs().max()) < 1e-6
    on, on_logits, _, _ = _losses_and_logits(family, shot, backbone_channels_last=True)
    assert set(on) == set(off)
    for key in off:
        assert torch.allclose(on[key], off[key], rtol=1e-5, atol=1e-6), key
    scale = off_logits.abs().max()
    assert float((on_logits - off_logits).abs().max() / scale) < 1e-5
    if family in ('hsnet', 'foundationfss'):  # hypercolumn / ViT backbones are read whole
        assert not model._can_defer_support_stage()
    elif family == 'hdmnet':  # its prior and the PSP level read the input-masked supports'
        assert model._can_defer_support_stage() and reads  # last stage: computed on read
    else:
        assert model._can_defer_support_stage() and reads == []


def test_no_deferral_with_batch_statistics_in_training():
    """A backbone whose batch norm is in training mode sees query and supports together, as
    before: the deferral would change its statistics."""
    model = MODELS.build(_model_cfg())  # freeze_backbone False: BN trains
    model.train()
    assert not model._can_defer_support_stage()
    model.eval()
    assert model._can_defer_support_stage()
    assert not MODELS.build(_model_cfg(defer_support_stage=False))._can_defer_support_stage()


def test_mask_support_input_masks_the_images_everywhere():
    """mask_support_input: the backbone and every module reading the support images see
    them times the foreground (label 1; background and ignore 0), in the episode path and
    in encode_support; off, the images are untouched."""
    torch.manual_seed(0)
    model = MODELS.build(_model_cfg(mask_support_input=True))
    model.eval()
    data = model.data_preprocessor(_batch(b=2, k=2), False)
    inputs = data['inputs']
    inputs['support_masks'][:, :, :3] = 255
    with torch.no_grad():
        feats = model.extract_feat(inputs)
        fg = (inputs['support_masks'] == 1).unsqueeze(2)
        expected = inputs['support'] * fg
        torch.testing.assert_close(feats.support_inputs, expected)
        levels = model._backbone(expected.flatten(0, 1))
        for ours, theirs in zip(feats.support_feats, levels):
            torch.testing.assert_close(ours.flatten(0, 1), theirs, rtol=1e-5, atol=1e-5)
    encoding = model.encode_support(inputs['support'][:1], inputs['support_masks'][:1])
    torch.testing.assert_close(encoding.support_inputs[0], expected[:1])
    model.mask_support_input = False
    with torch.no_grad():
        assert torch.equal(model.extract_feat(inputs).support_inputs, inputs['support'])


def _mmseg_resizes(monkeypatch):
    """The implementation before ``resize_to``: every resize through mmseg's ``resize``
    (a copy even to the same size) and mmseg's ``_transform_inputs``."""
    import importlib

    from mmseg.models.decode_heads.decode_head import BaseDecodeHead
    from mmseg.models.utils import resize

    from mmfss.models.utils import ResizeConcatInputsMixin

    def always(x, size, align_corners=False):
        return resize(x, size=tuple(size), mode='bilinear', align_corners=align_corners)

    for name in ('decode_heads.aspp_few_shot_head', 'decode_heads.ensemble_few_shot_head',
                 'decode_heads.feature_enrichment_head', 'decode_heads.ppm_few_shot_head',
                 'decode_heads.hierarchical_matching_head', 'necks.ot_graph_neck',
                 'utils.resize_concat'):
        module = importlib.import_module(f'mmfss.models.{name}')
        assert hasattr(module, 'resize_to'), name
        monkeypatch.setattr(module, 'resize_to', always)
    monkeypatch.setattr(ResizeConcatInputsMixin, '_transform_inputs',
                        BaseDecodeHead._transform_inputs)


@pytest.mark.parametrize('family', LEVER_FAMILIES)
def test_same_size_resizes_skipped_keep_losses_and_logits(family, monkeypatch):
    """Levels and priors already at the target grid are not interpolated (no copy): losses
    and logits bit-identical to resizing everything (issue: faster than the references)."""
    new, new_logits, _, _ = _losses_and_logits(family, 1)
    with monkeypatch.context() as m:
        _mmseg_resizes(m)
        old, old_logits, _, _ = _losses_and_logits(family, 1)
    assert set(new) == set(old)
    for key in old:
        assert torch.equal(new[key], old[key]), key
    assert torch.equal(new_logits, old_logits)


@pytest.mark.parametrize('flip', [None, 'horizontal', 'vertical'])
def test_postprocess_result_equals_mmseg(flip):
    """The post-processing (padding crop, flip back, resize to the original size, argmax by
    :func:`class_argmax`) gives mmseg's ``BaseSegmentor.postprocess_result`` exactly; a
    protocol's scored frame is left to its own path."""
    from mmseg.models.segmentors import BaseSegmentor

    from mmfss.models.utils import class_argmax
    model = MODELS.build(_model_cfg())
    torch.manual_seed(0)
    logits = torch.randn(3, 2, 48, 40)
    logits[0, :, :4, :4] = 0.0  # ties: the first class, as argmax
    metas = [dict(ori_shape=(61, 50), padding_size=(0, 3, 0, 5)),
             dict(ori_shape=(48, 40), img_padding_size=(2, 0, 1, 0)),
             dict(ori_shape=(30, 77), padding_size=(0, 0, 0, 0))]

    def samples():
        out = []
        for meta in metas:
            s = SegDataSample()
            s.set_metainfo(dict(meta, flip=flip is not None, flip_direction=flip))
            out.append(s)
        return out

    ours = model.postprocess_result(logits, samples())
    theirs = BaseSegmentor.postprocess_result(model, logits, samples())
    for a, b in zip(ours, theirs):
        assert torch.equal(a.seg_logits.data, b.seg_logits.data)
        assert torch.equal(a.pred_sem_seg.data, b.pred_sem_seg.data)
        assert a.pred_sem_seg.data.dtype == b.pred_sem_seg.data.dtype
    x = torch.randn(2, 33, 17)
    x[:, 0, 0] = float('nan')
    x[1, 1, 1] = float('nan')
    assert torch.equal(class_argmax(x)[None], x.argmax(0, keepdim=True))
