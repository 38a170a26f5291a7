import os

import numpy as np
import pytest
from PIL import Image
from scipy.io import savemat

from ._load import load_converter

voc_aug = load_converter('voc_aug')


def _sbd_mat(path, seg):
    savemat(path, {'GTcls': {'Segmentation': seg.astype(np.uint8),
                             'Boundaries': np.zeros((1, 20), object),
                             'CategoriesPresent': np.unique(seg[seg > 0]).astype(np.uint8)}})


def _voc_png(path, seg):
    img = Image.fromarray(seg.astype(np.uint8), mode='P')
    img.putpalette([v for i in range(256) for v in (i * 3 % 256, i * 5 % 256, i * 7 % 256)])
    img.save(path)


@pytest.fixture
def trees(tmp_path):
    voc, sbd = tmp_path / 'VOC2012', tmp_path / 'sbd'
    (voc / 'SegmentationClass').mkdir(parents=True)
    (sbd / 'cls').mkdir(parents=True)
    segs = {}
    for i in range(4):  # SBD only: 0, 1; both: 2, 3 (the VOC label has a 255 boundary)
        seg = np.zeros((20, 30), np.uint8)
        seg[2:10, 3:12] = i + 1
        _sbd_mat(sbd / 'cls' / f'2008_{i:06d}.mat', seg)
        segs[i] = seg
        if i >= 2:
            voc_seg = seg.copy()
            voc_seg[10, :] = 255
            voc_seg[12:18, 20:28] = 15
            _voc_png(voc / 'SegmentationClass' / f'2008_{i:06d}.png', voc_seg)
            segs[i] = voc_seg
    seg = np.zeros((20, 30), np.uint8)
    seg[5:7, 5:7] = 20
    _voc_png(voc / 'SegmentationClass' / '2007_000001.png', seg)  # VOC only
    segs['2007_000001'] = seg
    return voc, sbd, segs


def _read(path):
    with Image.open(path) as img:
        assert img.mode == 'L'
        return np.asarray(img)


class TestVocAug:

    def test_converts_with_voc_precedence(self, trees, capsys):
        voc, sbd, segs = trees
        assert voc_aug.main([str(voc), str(sbd)]) == 0
        out = voc / 'SegmentationClassAug'
        assert sorted(os.listdir(out)) == ['2007_000001.png'] + [
            f'2008_{i:06d}.png' for i in range(4)]
        for i in range(4):
            np.testing.assert_array_equal(_read(out / f'2008_{i:06d}.png'), segs[i])
        np.testing.assert_array_equal(_read(out / '2007_000001.png'), segs['2007_000001'])
        text = capsys.readouterr().out
        assert 'wrote 5 label maps' in text and '3 from VOC2012' in text and '2 from SBD' in text

    def test_refuses_overwrite_unless_asked(self, trees, capsys):
        voc, sbd, _ = trees
        voc_aug.main([str(voc), str(sbd)])
        out = voc / 'SegmentationClassAug' / '2008_000000.png'
        with pytest.raises(SystemExit, match=r'5 output\(s\) already exist.*--overwrite'):
            voc_aug.main([str(voc), str(sbd)])
        os.remove(out)
        assert voc_aug.main([str(voc), str(sbd), '--skip-existing']) == 0
        assert out.exists() and 'wrote 1 label maps' in capsys.readouterr().out
        Image.fromarray(np.zeros((2, 2), np.uint8)).save(out)
        assert voc_aug.main([str(voc), str(sbd), '--overwrite']) == 0
        assert _read(out).shape == (20, 30)

    def test_bad_inputs_are_named_and_nothing_half_written(self, trees):
        voc, sbd, _ = trees
        (sbd / 'cls' / '2008_000001.mat').write_bytes(b'garbage')
        with pytest.raises(ValueError, match='2008_000001.mat'):
            voc_aug.main([str(voc), str(sbd)])
        out = voc / 'SegmentationClassAug'
        assert not [f for f in os.listdir(out) if 'partial' in f]
        assert not (out / '2008_000001.png').exists()
        _sbd_mat(sbd / 'cls' / '2008_000001.mat', np.full((4, 4), 30))
        with pytest.raises(ValueError, match=r'2008_000001.mat: label values \[30\]'):
            voc_aug.main([str(voc), str(sbd), '--skip-existing'])
        with pytest.raises(SystemExit, match='nothing/cls does not exist'):
            voc_aug.main([str(voc), str(voc.parent / 'nothing')])
