"""mmfss.datasets.mask_reader: every mask format people save, and the ambiguous ones."""
import warnings

import numpy as np
import pytest
from PIL import Image

from mmfss.datasets.mask_reader import (MaskReadingWarning, parse_mask_value, read_mask)

H, W = 60, 80


@pytest.fixture(scope='module')
def obj():
    """The intended object: a blob covering about 13% of the image."""
    yy, xx = np.mgrid[:H, :W]
    return ((yy - 25) ** 2 / 100 + (xx - 40) ** 2 / 200) < 1.4


def _iou(mask, obj):
    fg = mask == 1
    return (fg & obj).sum() / (fg | obj).sum()


def _read(path, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        reading = read_mask(str(path), **kwargs)
    return reading, [str(w.message) for w in caught if w.category is MaskReadingWarning]


@pytest.mark.parametrize('value', [1, 255, 7])
def test_single_value_masks(tmp_path, obj, value):
    Image.fromarray(obj.astype(np.uint8) * value).save(tmp_path / 'm.png')
    reading, warned = _read(tmp_path / 'm.png')
    assert _iou(reading.mask, obj) == 1 and not warned
    assert reading.mask.dtype == np.uint8 and set(np.unique(reading.mask)) == {0, 1}
    assert f'value {value} = object' in reading.rule


def test_voc_style_palette_with_border(tmp_path, obj):
    label = obj.astype(np.uint8) * 12
    ring = np.zeros_like(obj)
    ring[1:, :] |= obj[:-1, :]
    ring[:, 1:] |= obj[:, :-1]
    label[ring & ~obj] = 255
    img = Image.fromarray(label, 'P')
    img.putpalette([0, 0, 0] * 12 + [128, 0, 0] + [0, 0, 0] * 242 + [224, 224, 192])
    img.save(tmp_path / 'voc.png')
    reading, _ = _read(tmp_path / 'voc.png')
    assert _iou(reading.mask, obj) == 1
    assert (reading.mask == 255).sum() == (ring & ~obj).sum() > 0
    assert 'VOC style' in reading.rule and reading.coverage == pytest.approx(
        obj.sum() / (H * W - (ring & ~obj).sum()))


def test_alpha_channel_is_the_mask(tmp_path, obj):
    rng = np.random.default_rng(0)
    rgba = rng.integers(0, 256, (H, W, 4), dtype=np.uint8)  # colours carry nothing
    rgba[..., 3] = np.where(obj, 255, 0)
    Image.fromarray(rgba, 'RGBA').save(tmp_path / 'cut.png')
    reading, _ = _read(tmp_path / 'cut.png')
    assert _iou(reading.mask, obj) == 1 and 'alpha' in reading.rule
    la = np.stack([rgba[..., 0], rgba[..., 3]], -1)
    Image.fromarray(la, 'LA').save(tmp_path / 'la.png')
    assert _iou(_read(tmp_path / 'la.png')[0].mask, obj) == 1


def test_opaque_rgba_cutout_reads_non_black(tmp_path, obj):
    """The issue's first row: opaque black background, object in (many) colours."""
    rng = np.random.default_rng(1)
    rgba = np.zeros((H, W, 4), np.uint8)
    rgba[..., 3] = 255
    rgba[obj, :3] = rng.integers(1, 256, (obj.sum(), 3))
    Image.fromarray(rgba, 'RGBA').save(tmp_path / 'opaque.png')
    reading, warned = _read(tmp_path / 'opaque.png')
    assert _iou(reading.mask, obj) == 1 and reading.rule.startswith('colour')
    assert not warned  # hundreds of colours: a cut-out, not a label map


def test_colour_masks_in_either_channel_order(tmp_path, obj):
    rgb = np.zeros((H, W, 3), np.uint8)
    rgb[obj] = (0, 0, 255)  # pure blue: grey level 29, background under luminance weights
    Image.fromarray(rgb).save(tmp_path / 'blue.png')
    assert _iou(_read(tmp_path / 'blue.png')[0].mask, obj) == 1
    # arrays: BGR (mmcv) and RGB give the same mask
    assert np.array_equal(read_mask(rgb).mask, read_mask(rgb[..., ::-1].copy()).mask)
    bgra = np.concatenate([rgb[..., ::-1], np.full((H, W, 1), 255, np.uint8)], -1)
    assert _iou(read_mask(bgra).mask, obj) == 1


def test_colour_label_map_warns_and_mask_value_picks(tmp_path, obj):
    rgb = np.zeros((H, W, 3), np.uint8)
    rgb[obj] = (128, 0, 0)
    rgb[:8, :8] = (0, 128, 0)
    rgb[-3:, :] = (224, 224, 192)  # VOC border colour: ignore
    Image.fromarray(rgb).save(tmp_path / 'colours.png')
    reading, warned = _read(tmp_path / 'colours.png')
    assert len(warned) == 1 and '2 object colours' in warned[0] and '--mask-value' in warned[0]
    assert (reading.mask[-3:] == 255).all()
    picked, warned = _read(tmp_path / 'colours.png', mask_value=(128, 0, 0))
    assert _iou(picked.mask, obj) == 1 and not warned


def test_jpeg_is_thresholded_at_mid_grey(tmp_path, obj):
    Image.fromarray(obj.astype(np.uint8) * 255).save(tmp_path / 'm.jpg', quality=75)
    noisy = np.asarray(Image.open(tmp_path / 'm.jpg'))
    assert (noisy[~obj] > 0).any()  # the JPEG has non-zero background pixels
    reading, _ = _read(tmp_path / 'm.jpg')
    assert _iou(reading.mask, obj) > 0.97 and 'lossy' in reading.rule
    rgb = np.zeros((H, W, 3), np.uint8)
    rgb[obj] = (255, 40, 40)
    Image.fromarray(rgb).save(tmp_path / 'c.jpg', quality=75)
    assert _iou(_read(tmp_path / 'c.jpg')[0].mask, obj) > 0.97


def test_16_bit_and_1_bit(tmp_path, obj):
    Image.fromarray(obj.astype(np.uint16) * 65535).save(tmp_path / 'm16.png')
    assert Image.open(tmp_path / 'm16.png').mode.startswith('I')
    assert _iou(_read(tmp_path / 'm16.png')[0].mask, obj) == 1
    soft = (obj * 60000 + np.arange(W)[None, :] * 40).astype(np.uint16)  # many levels
    Image.fromarray(soft).save(tmp_path / 'soft16.png')
    reading, _ = _read(tmp_path / 'soft16.png')
    assert _iou(reading.mask, obj) == 1 and '>= 32768' in reading.rule
    Image.fromarray(obj).save(tmp_path / 'm1.png')
    assert Image.open(tmp_path / 'm1.png').mode == '1'
    assert _iou(_read(tmp_path / 'm1.png')[0].mask, obj) == 1


def test_grey_ramp_and_antialiased_edge(tmp_path, obj):
    ramp = np.tile(np.linspace(0, 95, W).astype(np.uint8), (H, 1))
    ramp[obj] = 255
    Image.fromarray(ramp).save(tmp_path / 'ramp.png')
    reading, _ = _read(tmp_path / 'ramp.png')
    assert _iou(reading.mask, obj) == 1 and 'many grey levels' in reading.rule
    edge = obj.astype(np.uint8) * 255
    edge[0, :4] = (64, 128, 191, 30)  # a few anti-aliased pixels
    Image.fromarray(edge).save(tmp_path / 'edge.png')
    reading, _ = _read(tmp_path / 'edge.png')
    assert 'anti-aliased' in reading.rule and reading.mask[0, 1:3].tolist() == [1, 1]


def test_label_maps_are_ambiguous_until_a_value_is_chosen(tmp_path, obj):
    label = obj.astype(np.uint8) * 3
    label[:10, :10] = 5
    label[-5:, -5:] = 255
    Image.fromarray(label).save(tmp_path / 'labels.png')
    with pytest.raises(ValueError, match=r'labels\.png holds several object values \(3, 5, '
                       r'255.*--mask-value V'):
        read_mask(str(tmp_path / 'labels.png'))
    reading = read_mask(str(tmp_path / 'labels.png'), mask_value=3)
    assert _iou(reading.mask, obj) == 1 and (reading.mask[-5:, -5:] == 255).all()
    reading = read_mask(str(tmp_path / 'labels.png'), threshold=4)
    assert (reading.mask[:10, :10] == 1).all() and not reading.mask[obj].any()
    pal = Image.fromarray(label, 'P')
    pal.putpalette([v for i in range(256) for v in (i, 255 - i, i // 2)])
    pal.save(tmp_path / 'pal.png')
    assert sorted(np.unique(np.asarray(Image.open(tmp_path / 'pal.png')))) == [0, 3, 5, 255]
    with pytest.raises(ValueError, match='several object values'):
        read_mask(str(tmp_path / 'pal.png'))


def test_coverage_warning_and_empty_masks(tmp_path, obj):
    inverted = np.full((H, W), 255, np.uint8)
    inverted[:12, :20] = 0  # 95% object
    Image.fromarray(inverted).save(tmp_path / 'inverted.png')
    reading, warned = _read(tmp_path / 'inverted.png')
    assert len(warned) == 1 and 'inverted.png' in warned[0] and 'covers 95%' in warned[0]
    assert not _read(tmp_path / 'inverted.png', max_coverage=0.96)[1]
    assert 'value 255 = object' in warned[0] and '--mask-value' in warned[0]
    Image.fromarray(np.zeros((H, W), np.uint8)).save(tmp_path / 'empty.png')
    with pytest.raises(ValueError, match=r'empty\.png is empty'):
        read_mask(str(tmp_path / 'empty.png'))
    assert not read_mask(str(tmp_path / 'empty.png'), allow_empty=True).mask.any()
    with pytest.raises(ValueError, match=r'support 2 of way 1: mask .*empty\.png is empty'):
        read_mask(str(tmp_path / 'empty.png'), what='support 2 of way 1')


def test_arrays_and_bad_files(tmp_path, obj):
    assert _iou(read_mask(obj).mask, obj) == 1
    assert _iou(read_mask(obj * 0.9 + 0.05).mask, obj) == 1  # probabilities
    assert _iou(read_mask(obj.astype(np.uint8)[..., None]).mask, obj) == 1
    with pytest.raises(FileNotFoundError, match='nope.png does not exist'):
        read_mask(str(tmp_path / 'nope.png'))
    (tmp_path / 'text.png').write_text('not an image')
    with pytest.raises(ValueError, match=r'text\.png cannot be read as an image'):
        read_mask(str(tmp_path / 'text.png'))
    with pytest.raises(ValueError, match=r'must be \[H, W\]'):
        read_mask(np.zeros((4, 4, 5), np.uint8))
    with pytest.raises(ValueError, match='mask_value or threshold, not both'):
        read_mask(obj, mask_value=1, threshold=1)


def test_parse_mask_value():
    assert parse_mask_value('7') == 7 and parse_mask_value('255, 0, 0') == (255, 0, 0)
    for bad in ('red', '1,2', '1,2,300'):
        with pytest.raises(ValueError, match='--mask-value'):
            parse_mask_value(bad)
