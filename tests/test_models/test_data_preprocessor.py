import copy
import pytest
import torch
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample


def _sample(h, w, k, hs, ws):
    s = SegDataSample()
    s.gt_sem_seg = PixelData(data=torch.ones(1, h, w, dtype=torch.int64))
    s.support_masks = PixelData(data=torch.ones(k, hs, ws, dtype=torch.int64))
    s.set_metainfo(dict(img_shape=(h, w), ori_shape=(h, w)))
    return s


def _build(**kw):
    return MODELS.build(dict(type='FewShotDataPreProcessor', mean=[10., 20., 30.],
                             std=[2., 4., 5.], bgr_to_rgb=True, **kw))


class TestFewShotDataPreProcessor:

    def test_normalise_and_pad(self):
        pre = _build()
        q1 = torch.zeros(3, 8, 10, dtype=torch.uint8)
        q1[0] = 30  # B channel (BGR) -> last after conversion
        q2 = torch.zeros(3, 6, 6, dtype=torch.uint8)
        s1 = torch.full((2, 3, 5, 7), 20, dtype=torch.uint8)
        s2 = torch.full((2, 3, 9, 4), 20, dtype=torch.uint8)
        data = dict(inputs=dict(query=[q1, q2], support=[s1, s2]),
                    data_samples=[_sample(8, 10, 2, 5, 7), _sample(6, 6, 2, 9, 4)])
        out = pre(data, training=True)
        inputs, samples = out['inputs'], out['data_samples']
        assert inputs['query'].shape == (2, 3, 8, 10)
        # channel flip then (x - mean) / std: the B value 30 lands in channel 2
        assert torch.allclose(inputs['query'][0, 2, 0, 0], torch.tensor((30. - 30.) / 5.))
        assert torch.allclose(inputs['query'][0, 0, 0, 0], torch.tensor((0. - 10.) / 2.))
        assert inputs['support'].shape == (2, 2, 3, 9, 7)
        assert inputs['support_masks'].shape == (2, 2, 9, 7)
        # support padding: masks 255, images pad_val (0 after normalisation)
        assert (inputs['support_masks'][0, :, 5:, :] == 255).all()
        assert (inputs['support_masks'][1, :, :, 4:] == 255).all()
        assert (inputs['support_masks'][0, :, :5, :7] == 1).all()
        assert (inputs['support'][0, :, :, 5:, :] == 0).all()
        # query gt padded by stack_batch, with the padding recorded
        assert samples[1].gt_sem_seg.data.shape == (1, 8, 10)
        assert (samples[1].gt_sem_seg.data[0, 6:, :] == 255).all()
        assert samples[1].padding_size == (0, 4, 0, 2)
        assert samples[0].support_masks.data.shape == (2, 9, 7)

    def test_fixed_size(self):
        pre = _build(size=(12, 12))
        data = dict(inputs=[dict(query=torch.zeros(3, 8, 8, dtype=torch.uint8),
                                 support=torch.zeros(1, 3, 8, 8, dtype=torch.uint8))],
                    data_samples=[_sample(8, 8, 1, 8, 8)])
        out = pre(data, True)
        assert out['inputs']['query'].shape == (1, 3, 12, 12)
        assert out['inputs']['support'].shape == (1, 1, 3, 12, 12)
        # as mmseg's SegDataPreProcessor, size pads training batches only: evaluation
        # inputs reach the model at their own size (a protocol's test geometry)
        out = pre(copy.deepcopy(data), False)
        assert out['inputs']['query'].shape == (1, 3, 8, 8)
        assert out['inputs']['support'].shape == (1, 1, 3, 8, 8)

    def test_errors(self):
        pre = _build()
        s = [torch.zeros(1, 3, 4, 4), torch.zeros(2, 3, 4, 4)]
        q = [torch.zeros(3, 4, 4)] * 2
        with pytest.raises(ValueError, match='same number of supports'):
            pre(dict(inputs=dict(query=q, support=s),
                     data_samples=[_sample(4, 4, 1, 4, 4), _sample(4, 4, 2, 4, 4)]))
        with pytest.raises(ValueError, match='one data sample per episode'):
            pre(dict(inputs=dict(query=q[:1], support=s[:1])))
        with pytest.raises(ValueError, match='do not match'):
            pre(dict(inputs=dict(query=q[:1], support=s[:1]),
                     data_samples=[_sample(4, 4, 1, 5, 5)]))
