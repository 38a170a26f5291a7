import os.path as osp

import numpy as np
import pytest
from mmseg.registry import DATASETS
from PIL import Image

from mmfss.datasets import PASCAL5iDataset
from tests.data_trees import voc_tree as _voc_tree


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

    def _build(self, root, **kwargs):
        cfg = dict(type='PASCAL5iDataset', data_root=str(root), ann_file='list.txt')
        cfg.update(kwargs)
        return DATASETS.build(cfg)

    def test_training_pools_and_novel_filter(self, tmp_path):
        _voc_tree(tmp_path, n=60)
        keep = self._build(tmp_path, split='train', fold=0)
        assert sorted(keep.class_pools) == list(range(6, 21))
        # query images are those with an eligible base class: classes 1..5 (novel) are not
        names = {f'2008_{i:06d}' for i in range(60) if i % 20 + 1 > 5}
        assert len(keep) == len(names)
        # BAM's filter drops an image holding any novel pixel, even under the threshold:
        # the 1600-pixel block of image i is class (i + 7) % 20 + 1
        # (which empties the pools of classes 14..18 here)
        with pytest.warns(UserWarning, match=r"14 \(motorbike\)': 0"):
            drop = self._build(tmp_path, split='train', fold=0, filter_novel_images=True,
                               small_classes='exclude')
        assert sorted(drop.excluded_classes) == [14, 15, 16, 17, 18]
        kept = {n for v in drop.class_pools.values() for n in v}
        expected = {f'2008_{i:06d}' for i in range(60)
                    if i % 20 + 1 > 5 and (i + 7) % 20 + 1 > 5}
        assert kept == expected and len(drop) == len(expected)

    def test_training_episode_sampling(self, tmp_path):
        _voc_tree(tmp_path, n=80)
        ds = self._build(tmp_path, split='train', fold=1, shot=3)
        assert ds.episodes is None
        np.random.seed(0)
        first = []
        for idx in range(len(ds)):
            query, supports, cls = ds.get_episode(idx)
            assert cls in ds.base_classes and query in ds.class_pools[cls]
            assert len(set(supports)) == 3 and query not in supports
            assert all(s in ds.class_pools[cls] for s in supports)
            first.append(supports)
        # resampled on every draw, reproducible from the global seed
        second = [ds.get_episode(i)[1] for i in range(len(ds))]
        assert second != first
        np.random.seed(0)
        assert [ds.get_episode(i)[1] for i in range(len(ds))] == first

    def test_val_episodes_fixed_by_seed(self, tmp_path):
        _voc_tree(tmp_path, n=60)
        a = self._build(tmp_path, split='val', fold=3, shot=2, num_episodes=40, seed=3)
        b = self._build(tmp_path, split='val', fold=3, shot=2, num_episodes=40, seed=3)
        c = self._build(tmp_path, split='val', fold=3, shot=2, num_episodes=40, seed=4)
        assert a.episodes == b.episodes != c.episodes
        assert {cls for _, _, cls in a.episodes} == {16, 17, 18, 19, 20}
        for query, supports, cls in a.episodes:
            assert len(set(supports)) == 2 and query not in supports
            assert set(supports) <= set(a.class_pools[cls])
        # every (image, class) pair once with num_episodes=None
        every = self._build(tmp_path, split='val', fold=3, num_episodes=None)
        assert sorted((q, c) for q, _, c in every.episodes) == sorted(
            (n, c) for c, v in every.class_pools.items() for n in v)

    def test_bbox_supports(self, tmp_path):
        _voc_tree(tmp_path, n=60)
        ds = self._build(tmp_path, split='val', fold=0, num_episodes=4,
                         support_annotation='bbox')
        item = ds.get_data_info(0)
        assert item['supports'][0]['mask_annotation'] == 'bbox'
        assert 'mask_annotation' not in item['query']
        with pytest.raises(ValueError, match='support_annotation must be one of'):
            self._build(tmp_path, split='val', support_annotation='points')

    def test_label_stats_cached_and_rechecked(self, tmp_path):
        _voc_tree(tmp_path, n=40)
        cache = tmp_path / 'cache'
        a = self._build(tmp_path, split='val', fold=0, stats_cache_dir=str(cache))
        files = list((cache / 'label_stats').iterdir())
        assert len(files) == 1 and files[0].suffix == '.json'
        b = self._build(tmp_path, split='val', fold=0, stats_cache_dir=str(cache))
        assert a.class_pools == b.class_pools and a.episodes == b.episodes
        # an edited label map invalidates the cache and is checked again
        label = np.zeros((100, 120), np.uint8)
        label[:10, :10] = 33
        Image.fromarray(label).save(tmp_path / 'SegmentationClassAug' / '2008_000007.png')
        with pytest.raises(ValueError, match=r'2008_000007.png holds values \[33\].*list.txt'):
            self._build(tmp_path, split='val', fold=0, stats_cache_dir=str(cache))

    def test_unreadable_image_is_named(self, tmp_path):
        _voc_tree(tmp_path, n=40)
        (tmp_path / 'JPEGImages' / '2008_000005.jpg').write_bytes(b'not a jpeg')
        with pytest.raises(OSError, match=r'cannot read image .*2008_000005\.jpg'):
            self._build(tmp_path, split='val', fold=0)

    def test_unreadable_label_is_named(self, tmp_path):
        _voc_tree(tmp_path, n=40)
        (tmp_path / 'SegmentationClassAug' / '2008_000009.png').write_bytes(b'not a png')
        with pytest.raises(OSError, match=r'cannot read label map .*2008_000009\.png.*list\.txt'):
            self._build(tmp_path, split='val', fold=0)

    def test_small_classes_error_or_exclude(self, tmp_path):
        _voc_tree(tmp_path, n=24)  # classes 1..4 have 2 images, class 5 has 1
        # mmfss's sampler (protocol=None); the reference protocols name the class instead
        with pytest.raises(ValueError, match=r"5 \(bottle\)': 1.*small_classes='exclude'"):
            self._build(tmp_path, split='val', fold=0, protocol=None)
        with pytest.warns(UserWarning, match=r'5 \(bottle\)'):
            ds = self._build(tmp_path, split='val', fold=0, small_classes='exclude',
                             protocol=None)
        assert sorted(ds.class_pools) == [1, 2, 3, 4] and ds.excluded_classes == {5: 1}
        assert {c for _, _, c in ds.episodes} == {1, 2, 3, 4}
        with pytest.raises(ValueError, match='small_classes must be one of'):
            self._build(tmp_path, split='val', small_classes='drop')
