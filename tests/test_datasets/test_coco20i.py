import os

import numpy as np
import pytest
from mmseg.registry import DATASETS
from PIL import Image

from mmfss.datasets import COCO_CLASSES, COCO20iDataset
from tests.data_trees import coco_name, coco_tree


def _build(root, **kwargs):
    cfg = dict(type='COCO20iDataset', data_root=str(root), split='val')
    cfg.update(kwargs)
    return DATASETS.build(cfg)


class TestCOCO20iDataset:

    def test_fold_conventions(self, tmp_path):
        coco_tree(tmp_path)
        inter = _build(tmp_path, fold=1, num_episodes=50)
        assert isinstance(inter, COCO20iDataset)
        assert inter.novel_classes == [2 + 4 * k for k in range(20)]
        assert inter.novel_classes[0] == 1 + 1 and inter.novel_classes[-1] == 1 + 77
        contiguous = _build(tmp_path, fold=1, split_style='contiguous', num_episodes=50)
        assert contiguous.novel_classes == list(range(21, 41))
        for ds in (inter, contiguous):
            assert sorted(ds.class_pools) == ds.novel_classes
            assert len(ds.base_classes) == 60
            assert not set(ds.base_classes) & set(ds.novel_classes)
        # the four folds partition the 80 classes in both conventions
        for style in ('interleaved', 'contiguous'):
            all_novel = sorted(c for f in range(4) for c in
                               _build(tmp_path, fold=f, split_style=style).novel_classes)
            assert all_novel == list(range(1, 81))
        assert inter.metainfo['classes'][1] == 'person' and len(COCO_CLASSES) == 80
        assert inter.metainfo['classes'][80] == 'toothbrush'

    def test_pools_episodes_and_default_count(self, tmp_path):
        coco_tree(tmp_path)
        # PFENet's protocol (the default): 20001 episodes, but at most 20 passes over the 40
        # images holding a fold-0 class
        assert _build(tmp_path, fold=0).protocol == 'pfenet'
        assert len(_build(tmp_path, fold=0)) == 20 * 40
        ds = _build(tmp_path, fold=0, protocol=None)  # mmfss's sampler
        assert len(ds) == 1000  # its default num_episodes
        for c, names in ds.class_pools.items():
            assert names == sorted(coco_name('val', i) for i in range(160) if i % 80 + 1 == c)
        for query, supports, cls in ds.episodes:
            assert query not in supports and supports[0] in ds.class_pools[cls]
        again = _build(tmp_path, fold=0, protocol=None)
        assert again.episodes == ds.episodes
        item = ds.get_data_info(0)
        assert item['query']['img_path'].endswith(f'val2014/{ds.episodes[0][0]}.jpg')

    def test_training_split(self, tmp_path):
        coco_tree(tmp_path, split='train')
        ds = _build(tmp_path, split='train', fold=2)
        assert sorted(ds.class_pools) == ds.base_classes and len(ds.class_pools) == 60
        assert len(ds) == 120  # two images per base class

    def test_pixel_threshold(self, tmp_path):
        coco_tree(tmp_path)
        label = np.zeros((60, 64), np.uint8)
        label[:40, :40] = 1  # 1600 px < 2048
        Image.fromarray(label).save(tmp_path / 'annotations' / 'val2014' /
                                    f'{coco_name("val", 0)}.png')
        with pytest.raises(ValueError, match=r"1 \(person\)': 1"):
            _build(tmp_path, fold=0, protocol=None)
        with pytest.raises(ValueError, match=r'class 1 has 1 pool images: too few'):
            _build(tmp_path, fold=0)  # PFENet's sampler: the query class may be small
        ds = _build(tmp_path, fold=0, min_class_pixels=1000)
        assert coco_name('val', 0) in ds.class_pools[1]

    def test_bad_input(self, tmp_path):
        with pytest.raises(FileNotFoundError, match='annotations/val2014 does not exist'):
            _build(tmp_path)
        coco_tree(tmp_path)
        with pytest.raises(ValueError, match='split_style must be one of'):
            _build(tmp_path, split_style='random')
        with pytest.raises(ValueError, match='split must be one of'):
            _build(tmp_path, split='test')
        os.remove(tmp_path / 'val2014' / f'{coco_name("val", 3)}.jpg')
        with pytest.raises(FileNotFoundError, match=f'{coco_name("val", 3)}.jpg'):
            _build(tmp_path)

    def test_values_outside_80_classes(self, tmp_path):
        coco_tree(tmp_path)
        label = np.full((60, 64), 81, np.uint8)
        Image.fromarray(label).save(tmp_path / 'annotations' / 'val2014' /
                                    f'{coco_name("val", 9)}.png')
        with pytest.raises(ValueError, match=rf'{coco_name("val", 9)}.png holds values \[81\]'):
            _build(tmp_path)
