import os

import numpy as np
import pytest
from PIL import Image

from mmfss.datasets import COCO20iDataset
from tests.data_trees import coco_instances_json
from ._load import load_converter

coco20i = load_converter('coco20i')

# COCO's 80 category ids: 1..90 with 10 unused
CAT_IDS = [c for c in range(1, 91) if c not in {12, 26, 29, 30, 45, 66, 68, 69, 71, 83}]


def _box_polygon(x0, y0, x1, y1):
    return [[x0, y0, x1, y0, x1, y1, x0, y1]]


def _write(root, split='val', cats=CAT_IDS):
    images = [dict(id=i + 1, file_name=f'COCO_{split}2014_{i + 1:012d}.jpg', height=40,
                   width=50) for i in range(4)]
    anns = [
        # image 1: a large person (cat 1 -> 1) with a small toothbrush (cat 90 -> 80) on it
        dict(id=1, image_id=1, category_id=1, segmentation=_box_polygon(0, 0, 30, 30),
             area=900.0, iscrowd=0, bbox=[0, 0, 30, 30]),
        dict(id=2, image_id=1, category_id=90, segmentation=_box_polygon(10, 10, 20, 20),
             area=100.0, iscrowd=0, bbox=[10, 10, 10, 10]),
        # image 2: a crowd of cars (cat 3 -> 3) partly under a bus (cat 6 -> 6)
        dict(id=3, image_id=2, category_id=3,
             segmentation=dict(counts=[40 * 5, 40 * 20, 40 * 25], size=[40, 50]),  # cols 5..24
             area=800.0, iscrowd=1, bbox=[5, 0, 20, 40]),
        dict(id=4, image_id=2, category_id=6, segmentation=_box_polygon(20, 0, 40, 10),
             area=200.0, iscrowd=0, bbox=[20, 0, 20, 10]),
        # image 3: a person; image 4: no annotations
        dict(id=5, image_id=3, category_id=1, segmentation=_box_polygon(0, 0, 20, 20),
             area=400.0, iscrowd=0, bbox=[0, 0, 20, 20]),
    ]
    os.makedirs(root / 'annotations', exist_ok=True)
    os.makedirs(root / f'{split}2014', exist_ok=True)
    for info in images[:2]:
        Image.fromarray(np.zeros((40, 50, 3), np.uint8)).save(
            root / f'{split}2014' / info['file_name'])
    coco_instances_json(root / 'annotations' / f'instances_{split}2014.json', images, anns,
                        [dict(id=c, name=f'cat{c}', supercategory='x') for c in cats])


def _read(path):
    with Image.open(path) as img:
        return np.asarray(img)


class TestCOCO20iConverter:

    def test_label_maps(self, tmp_path, capsys):
        _write(tmp_path)
        assert coco20i.main([str(tmp_path), '--splits', 'val']) == 0
        out = tmp_path / 'annotations' / 'val2014'
        one = _read(out / 'COCO_val2014_000000000001.png')
        assert one.dtype == np.uint8 and one.shape == (40, 50)
        assert one[5, 5] == 1 and one[15, 15] == 80 and one[35, 45] == 0
        two = _read(out / 'COCO_val2014_000000000002.png')
        assert two[20, 10] == 255  # crowd only
        assert two[5, 22] == 6  # the bus covers the crowd
        assert two[20, 30] == 0
        assert _read(out / 'COCO_val2014_000000000003.png')[10, 10] == 1
        assert (_read(out / 'COCO_val2014_000000000004.png') == 0).all()
        text = capsys.readouterr().out
        assert 'wrote 4 label maps' in text and '1 images without annotations' in text
        assert '2 images missing' in text and 'COCO_val2014_000000000003.jpg' in text

    def test_refuses_overwrite_and_bad_json(self, tmp_path):
        _write(tmp_path)
        coco20i.main([str(tmp_path), '--splits', 'val'])
        with pytest.raises(SystemExit, match=r'4 output\(s\) already exist'):
            coco20i.main([str(tmp_path), '--splits', 'val'])
        assert coco20i.main([str(tmp_path), '--splits', 'val', '--overwrite']) == 0
        with pytest.raises(SystemExit, match='instances_train2014.json does not exist'):
            coco20i.main([str(tmp_path), '--splits', 'train'])
        bad = tmp_path / 'bad'
        _write(bad, cats=CAT_IDS[:79])
        with pytest.raises(SystemExit, match='has 79 categories'):
            coco20i.main([str(bad), '--splits', 'val'])

    def test_output_feeds_the_dataset(self, tmp_path):
        _write(tmp_path)
        coco20i.main([str(tmp_path), '--splits', 'val'])
        for i in (3, 4):
            Image.fromarray(np.zeros((40, 50, 3), np.uint8)).save(
                tmp_path / 'val2014' / f'COCO_val2014_{i:012d}.jpg')
        with pytest.warns(UserWarning, match='excluded'):
            ds = COCO20iDataset(data_root=str(tmp_path), split='val', fold=0, shot=1,
                                min_class_pixels=50, small_classes='exclude', num_episodes=2,
                                protocol=None)
        # of fold 0's classes (interleaved: 1, 5, ...), only the person is in two images
        assert ds.class_pools == {1: ['COCO_val2014_000000000001', 'COCO_val2014_000000000003']}
