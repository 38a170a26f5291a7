import os.path as osp

import numpy as np
import pytest
from mmseg.registry import DATASETS
from PIL import Image

from mmfss.datasets import PASCAL5iDataset


def _voc_tree(root, n=24, size=(100, 120)):
    """A small VOC2012 tree: image i holds class (i % 20) + 1 on a 50x50 block (2500 px) and
    class ((i + 7) % 20) + 1 on a 40x40 block (1600 px, below the 2048 threshold)."""
    (root / 'JPEGImages').mkdir(parents=True)
    (root / 'SegmentationClassAug').mkdir()
    lines = []
    rng = np.random.default_rng(0)
    for i in range(n):
        name = f'2008_{i:06d}'
        img = rng.integers(0, 255, (*size, 3), dtype=np.uint8)
        label = np.zeros(size, np.uint8)
        label[:50, :50] = i % 20 + 1
        label[60:100, 60:100] = (i + 7) % 20 + 1
        label[50, :] = 255
        Image.fromarray(img).save(root / 'JPEGImages' / f'{name}.jpg')
        Image.fromarray(label).save(root / 'SegmentationClassAug' / f'{name}.png')
        lines.append(f'JPEGImages/{name}.jpg SegmentationClassAug/{name}.png')
    (root / 'list.txt').write_text('\n'.join(lines) + '\n')
    return lines


class TestPASCAL5iDataset:

    def test_shipped_lists(self):
        from mmfss.datasets.pascal5i import DEFAULT_LISTS, LIST_DIR
        counts = {}
        for split, name in DEFAULT_LISTS.items():
            with open(osp.join(LIST_DIR, name)) as f:
                lines = [line for line in f.read().splitlines() if line]
            counts[split] = len(lines)
            assert lines[0].startswith('JPEGImages/') and ' SegmentationClassAug/' in lines[0]
        assert counts == dict(train=5953, val=1449)

    def test_pools_threshold_and_folds(self, tmp_path):
        _voc_tree(tmp_path, n=60)
        ds = DATASETS.build(dict(type='PASCAL5iDataset', data_root=str(tmp_path),
                                 ann_file='list.txt', split='val', fold=2, shot=1,
                                 num_episodes=30))
        assert isinstance(ds, PASCAL5iDataset)
        assert ds.novel_classes == [11, 12, 13, 14, 15]
        assert ds.metainfo['classes'][11] == 'diningtable'
        # only the 2500-pixel block counts (the 1600-pixel one is under 2*32*32)
        for c, names in ds.class_pools.items():
            expected = sorted(f'2008_{i:06d}' for i in range(60) if i % 20 + 1 == c)
            assert names == expected
        assert all(cls in ds.novel_classes for _, _, cls in ds.episodes)

    def test_default_list_with_missing_tree_names_the_file(self, tmp_path):
        with pytest.raises(FileNotFoundError, match=r'JPEGImages/2007_000033\.jpg'):
            PASCAL5iDataset(data_root=str(tmp_path), split='val')
