import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from mmfss.datasets.transforms import ProtocolTestResize


def _sample(h=375, w=500, seed=0):
    rng = np.random.default_rng(seed)
    label = rng.choice(np.array([0, 1, 255], np.uint8), size=(h, w), p=[0.6, 0.3, 0.1])
    return dict(img=rng.integers(0, 256, (h, w, 3), dtype=np.uint8), gt_seg_map=label,
                img_shape=(h, w), ori_shape=(h, w), img_path=f'x_{h}x{w}.jpg')


@pytest.mark.parametrize('protocol', ['pfenet', 'bam'])
def test_pfenet_geometry_query(protocol):
    s = _sample()
    img0, label0 = s['img'].copy(), s['gt_seg_map'].copy()
    out = ProtocolTestResize(protocol=protocol, size=473)(s)
    # long side 500 -> 473 -> floored 472; short 375 * 473 / 500 = 354.75 -> 354 -> 352
    assert out['img'].shape == (473, 473, 3) and out['img'].dtype == np.float32
    assert (out['img'][352:] == 0).all() and (out['img'][:, 472:] == 0).all()
    import cv2
    expected = cv2.resize(img0.astype(np.float32), (472, 352), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_array_equal(out['img'][:352, :472], expected)
    # the query is scored in its original label, top-left in a 255-filled 500x500 square
    assert out['gt_seg_map'].shape == (500, 500)
    np.testing.assert_array_equal(out['gt_seg_map'][:375, :500], label0)
    assert (out['gt_seg_map'][375:] == 255).all()
    assert out['score_shape'] == (500, 500) and out['score_align_corners'] is True
    assert out['img_shape'] == (473, 473)


def test_pfenet_geometry_support():
    s = _sample(h=500, w=333)
    label0 = s['gt_seg_map'].copy()
    out = ProtocolTestResize(protocol='pfenet', size=473, role='support')(s)
    new_h, new_w = 472, 312  # 333 * 473 / 500 = 315.0 -> 312
    assert out['gt_seg_map'].shape == (473, 473)
    import cv2
    np.testing.assert_array_equal(out['gt_seg_map'][:new_h, :new_w],
                                  cv2.resize(label0, (new_w, new_h),
                                             interpolation=cv2.INTER_NEAREST))
    assert (out['gt_seg_map'][new_h:] == 255).all() and (out['gt_seg_map'][:, new_w:] == 255).all()
    assert 'score_shape' not in out


def test_hsnet_geometry():
    s = _sample(h=300, w=450)
    img0, label0 = s['img'].copy(), s['gt_seg_map'].copy()
    out = ProtocolTestResize(protocol='hsnet', size=400)(s)
    # torchvision Resize on a PIL image = PIL's bilinear resize
    expected = np.array(Image.fromarray(img0).resize((400, 400), Image.BILINEAR))
    np.testing.assert_array_equal(out['img'], expected)
    ref = F.interpolate(torch.from_numpy(label0.astype(np.float32))[None, None], (400, 400),
                        mode='nearest')[0, 0].numpy()
    np.testing.assert_array_equal(out['gt_seg_map'], ref.astype(np.uint8))
    assert out['score_shape'] == (400, 400)

    s = _sample(h=300, w=450)
    out = ProtocolTestResize(protocol='hsnet', size=400, use_original_imgsize=True)(s)
    assert out['gt_seg_map'].shape == (300, 450) and out['score_shape'] == (300, 450)
    assert out['score_from_features'] is True  # one resize, from the model's own logits
    sup = ProtocolTestResize(protocol='hsnet', size=400, role='support')(_sample(h=300, w=450))
    assert sup['gt_seg_map'].shape == (400, 400) and 'score_shape' not in sup


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match='protocol must be one of'):
        ProtocolTestResize(protocol='voc', size=473)
    with pytest.raises(KeyError, match=r'no protocol for x_375x500.jpg.*protocol=None'):
        ProtocolTestResize()(_sample())
    with pytest.raises(ValueError, match="role must be one of .* got 'key'"):
        ProtocolTestResize(role='key')
    with pytest.raises(ValueError, match='use_original_imgsize is an option of HSNet'):
        ProtocolTestResize(protocol='pfenet', size=473, use_original_imgsize=True)
    s = _sample()
    del s['gt_seg_map']
    with pytest.raises(KeyError, match=r'support mask gt_seg_map \(x_375x500.jpg\)'):
        ProtocolTestResize(protocol='pfenet', size=473, role='support')(s)


def test_unlabelled_query_for_inference():
    """No label: the image geometry and mmseg's img_padding_size (left, right, top, bottom)."""
    s = _sample()
    del s['gt_seg_map']
    out = ProtocolTestResize(protocol='pfenet', size=473)(s)
    assert out['img'].shape == (473, 473, 3) and 'score_shape' not in out
    assert out['img_padding_size'] == (0, 1, 0, 121) and 'gt_seg_map' not in out
    s = _sample()
    del s['gt_seg_map']
    out = ProtocolTestResize(protocol='hsnet', size=400)(s)
    assert out['img'].shape == (400, 400, 3) and 'img_padding_size' not in out


def test_protocol_and_size_come_with_the_episode():
    """Without arguments the episode's protocol and test_size decide (what datasets send)."""
    s = dict(_sample(), protocol='hsnet', test_size=400)
    out = ProtocolTestResize()(s)
    assert out['img'].shape == (400, 400, 3) and out['score_shape'] == (400, 400)
    s = dict(_sample(), protocol='bam', test_size=641)
    out = ProtocolTestResize(role='support')(s)
    assert out['img'].shape == (641, 641, 3) and (out['gt_seg_map'][:480, :640] != 255).any()
