import cv2
import numpy as np
import pytest
from mmseg.registry import TRANSFORMS


def _results(h=30, w=50):
    rng = np.random.default_rng(0)
    label = np.zeros((h, w), np.uint8)
    label[5:20, 10:40] = 1
    label[0] = 255
    return dict(img=rng.integers(0, 255, (h, w, 3), dtype=np.uint8), gt_seg_map=label,
                seg_fields=['gt_seg_map'])


def test_random_rescale_is_pfenet_randscale():
    """The image and its label are scaled by one factor of their own size (as OpenCV's
    resize with fx = fy = s: bilinear image, nearest label); not towards a target size."""
    t = TRANSFORMS.build(dict(type='RandomRescale', ratio_range=(0.5, 2.0)))
    np.random.seed(3)
    ratio = np.random.uniform(0.5, 2.0)
    np.random.seed(3)
    out = t(_results())
    size = (round(50 * ratio), round(30 * ratio))
    assert out['img'].shape[:2] == out['gt_seg_map'].shape == out['img_shape'] == size[::-1]
    src = _results()
    expected_img = cv2.resize(src['img'], size, interpolation=cv2.INTER_LINEAR)
    expected_label = cv2.resize(src['gt_seg_map'], size, interpolation=cv2.INTER_NEAREST)
    np.testing.assert_array_equal(out['gt_seg_map'], expected_label)
    np.testing.assert_array_equal(out['img'], expected_img)
    assert set(np.unique(out['gt_seg_map'])) == {0, 1, 255}
    scales = set()
    for seed in range(20):
        np.random.seed(seed)
        scales.add(t(_results())['img'].shape[1] / 50)
    assert min(scales) >= 0.5 - 0.01 and max(scales) <= 2.0 + 0.01 and len(scales) > 10


@pytest.mark.parametrize('ratio_range', [(0, 1), (2.0, 1.0), (1.0, )])
def test_random_rescale_bad_range(ratio_range):
    with pytest.raises(ValueError, match='ratio_range must be'):
        TRANSFORMS.build(dict(type='RandomRescale', ratio_range=ratio_range))


def test_random_gaussian_blur():
    t = TRANSFORMS.build(dict(type='RandomGaussianBlur', kernel_size=5, prob=1.0))
    src = _results()
    out = t(_results())
    np.testing.assert_array_equal(out['img'], cv2.GaussianBlur(src['img'], (5, 5), 0))
    np.testing.assert_array_equal(out['gt_seg_map'], src['gt_seg_map'])
    never = TRANSFORMS.build(dict(type='RandomGaussianBlur', prob=0.0))
    np.testing.assert_array_equal(never(_results())['img'], src['img'])
    blurred = 0
    half = TRANSFORMS.build(dict(type='RandomGaussianBlur'))
    np.random.seed(0)
    for _ in range(200):
        blurred += not np.array_equal(half(_results())['img'], src['img'])
    assert 70 < blurred < 130  # p = 0.5
    with pytest.raises(ValueError, match='kernel_size must be an odd int'):
        TRANSFORMS.build(dict(type='RandomGaussianBlur', kernel_size=4))
