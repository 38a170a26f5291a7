import hashlib
import os
import os.path as osp
from collections import Counter

import numpy as np
import pytest
from mmseg.registry import DATASETS
from PIL import Image

from mmfss.datasets import SHAPES5I_CLASSES, Shapes5iDataset, generate_shapes5i
from mmfss.datasets.shapes5i_generator import shapes5i_class_attributes

from ..conftest import small_shapes_cfg


def _tree_digest(root):
    h = hashlib.sha256()
    for dirpath, _, files in sorted(os.walk(root)):
        for name in sorted(files):
            with open(osp.join(dirpath, name), 'rb') as f:
                h.update(name.encode() + f.read())
    return h.hexdigest()


class TestGenerator:

    def test_deterministic_and_reused(self, tmp_path):
        a, b = str(tmp_path / 'a'), str(tmp_path / 'b')
        generate_shapes5i(a, seed=3, num_train=12, num_val=6)
        generate_shapes5i(b, seed=3, num_train=12, num_val=6)
        assert _tree_digest(a) == _tree_digest(b)
        label = osp.join(a, 'SegmentationClassAug', 'train_00000.png')
        mtime = os.stat(label).st_mtime_ns
        generate_shapes5i(a, seed=3, num_train=12, num_val=6)  # second run reuses the copy
        assert os.stat(label).st_mtime_ns == mtime
        c = str(tmp_path / 'c')
        generate_shapes5i(c, seed=4, num_train=12, num_val=6)
        assert _tree_digest(a) != _tree_digest(c)

    def test_other_parameters_refused(self, tmp_path):
        root = str(tmp_path / 's')
        generate_shapes5i(root, seed=0, num_train=4, num_val=4)
        with pytest.raises(FileExistsError, match='other parameters'):
            generate_shapes5i(root, seed=1, num_train=4, num_val=4)
        other = tmp_path / 'busy'
        other.mkdir()
        (other / 'x.txt').write_text('user data')
        with pytest.raises(FileExistsError, match='not empty'):
            generate_shapes5i(str(other), seed=0, num_train=4, num_val=4)
        assert (other / 'x.txt').read_text() == 'user data'

    def test_voc_layout_and_labels(self, shapes_root):
        with open(osp.join(shapes_root, 'lists', 'train.txt')) as f:
            lines = f.read().split('\n')[:-1]
        assert len(lines) == 160
        img_rel, seg_rel = lines[0].split()
        assert img_rel == 'JPEGImages/train_00000.jpg'
        assert seg_rel == 'SegmentationClassAug/train_00000.png'
        img = Image.open(osp.join(shapes_root, img_rel))
        seg = Image.open(osp.join(shapes_root, seg_rel))
        assert img.format == 'JPEG' and img.mode == 'RGB'
        assert seg.format == 'PNG' and seg.mode == 'L'
        objects = Counter()
        for line in lines:
            label = np.asarray(Image.open(osp.join(shapes_root, line.split()[1])))
            values = set(np.unique(label).tolist())
            assert values <= set(range(21)) | {255}
            assert 255 in values  # object borders are ignored
            objects[len(values - {0, 255})] += 1
        # one to three objects per image, and all three counts occur
        assert set(objects) <= {1, 2, 3} and len(objects) == 3

    def test_classes_share_attributes(self):
        assert len(SHAPES5I_CLASSES) == 20
        attrs = [shapes5i_class_attributes(c) for c in range(1, 21)]
        assert len(set(attrs)) == 20
        shapes = Counter(a[0] for a in attrs)
        patterns = Counter(a[1] for a in attrs)
        assert set(shapes.values()) == {4} and set(patterns.values()) == {5}
        # each fold's novel classes share a shape family or a pattern with base classes
        for fold in range(4):
            novel = [attrs[c - 1] for c in range(5 * fold + 1, 5 * fold + 6)]
            base = [attrs[c - 1] for c in range(1, 21) if not 5 * fold < c <= 5 * fold + 5]
            for shape, pattern in novel:
                assert any(s == shape for s, _ in base) or any(p == pattern for _, p in base)

    def test_distractors_share_attributes(self, shapes_root):
        """Multi-object images mostly pair classes sharing a shape or a pattern."""
        shared = total = 0
        for i in range(160):
            label = np.asarray(
                Image.open(osp.join(shapes_root, 'SegmentationClassAug', f'train_{i:05d}.png')))
            present = sorted(set(np.unique(label).tolist()) - {0, 255})
            for a in present:
                for b in present:
                    if a < b:
                        total += 1
                        sa, pa = shapes5i_class_attributes(a)
                        sb, pb = shapes5i_class_attributes(b)
                        shared += sa == sb or pa == pb
        assert total > 50
        assert shared / total > 0.6


class TestShapes5iDataset:

    def test_registered_and_pools(self, shapes_root):
        ds = DATASETS.build(small_shapes_cfg(shapes_root, split='train', fold=1))
        assert isinstance(ds, Shapes5iDataset)
        assert ds.novel_classes == [6, 7, 8, 9, 10]
        assert set(ds.class_pools) == set(range(1, 21)) - {6, 7, 8, 9, 10}
        assert ds.metainfo['classes'][0] == 'background'
        for c, names in ds.class_pools.items():
            assert names == sorted(names)
            for name in names[:5]:
                label = np.asarray(Image.open(
                    osp.join(shapes_root, 'SegmentationClassAug', f'{name}.png')))
                assert (label == c).sum() >= 128
        # every image with an eligible base class is a query
        assert len(ds) == len({n for v in ds.class_pools.values() for n in v})
        assert ds.episodes is None

    def test_training_episodes(self, shapes_root):
        ds = DATASETS.build(small_shapes_cfg(shapes_root, split='train', fold=0, shot=3))
        np.random.seed(0)
        seen = set()
        for idx in range(0, len(ds), 7):
            query, supports, c = ds.get_episode(idx)
            assert c in ds.base_classes
            assert query in ds.class_pools[c]
            assert len(supports) == 3 and len(set(supports)) == 3 and query not in supports
            assert all(s in ds.class_pools[c] for s in supports)
            seen.add((idx, tuple(supports)))
        # resampled: drawing the same items again gives other supports
        again = {(idx, tuple(ds.get_episode(idx)[1])) for idx in range(0, len(ds), 7)}
        assert again != seen

    def test_filter_novel_images(self, shapes_root):
        keep = DATASETS.build(small_shapes_cfg(shapes_root, split='train', fold=0))
        drop = DATASETS.build(small_shapes_cfg(shapes_root, split='train', fold=0,
                                               filter_novel_images=True))
        assert len(drop) < len(keep)
        for names in drop.class_pools.values():
            for name in names:
                info = drop.data_list[drop._name_to_index[name]]
                assert not set(info['classes']) & set(drop.novel_classes)

    def test_fixed_val_episodes(self, shapes_root):
        kw = dict(split='val', fold=0, shot=2, num_episodes=50, seed=5)
        a = DATASETS.build(small_shapes_cfg(shapes_root, **kw))
        b = DATASETS.build(small_shapes_cfg(shapes_root, **kw))
        c = DATASETS.build(small_shapes_cfg(shapes_root, **dict(kw, seed=6)))
        assert len(a) == 50 and a.episodes == b.episodes and a.episodes != c.episodes
        for query, supports, cls in a.episodes:
            assert cls in a.novel_classes
            assert query in a.class_pools[cls]
            assert len(set(supports)) == 2 and query not in supports
        # items follow the episodes exactly
        item = a.get_data_info(3)
        assert osp.basename(item['query']['img_path']) == f'{a.episodes[3][0]}.jpg'
        assert item['class_id'] == a.episodes[3][2]

    @pytest.mark.parametrize('kwargs, match', [
        (dict(fold=4), 'fold must be'),
        (dict(fold=-1), 'fold must be'),
        (dict(shot=0), 'shot must be'),
        (dict(split='test'), 'split must be one of'),
        (dict(split='val', num_episodes=0), 'num_episodes must be'),
    ])
    def test_bad_arguments(self, shapes_root, kwargs, match):
        with pytest.raises(ValueError, match=match):
            DATASETS.build(small_shapes_cfg(shapes_root, **kwargs))

    def test_too_few_images_for_shot(self, shapes_root):
        with pytest.raises(ValueError, match=r'fewer than shot\+1'):
            DATASETS.build(small_shapes_cfg(shapes_root, split='val', shot=40))

    def test_missing_and_bad_files_are_named(self, tmp_path):
        root = tmp_path / 's'
        generate_shapes5i(str(root), seed=0, num_train=20, num_val=20)
        os.remove(root / 'JPEGImages' / 'val_00003.jpg')
        with pytest.raises(FileNotFoundError, match='val_00003.jpg'):
            Shapes5iDataset(data_root=str(root), split='val', num_train=20, num_val=20)
        root2 = tmp_path / 't'
        generate_shapes5i(str(root2), seed=0, num_train=20, num_val=20)
        Image.fromarray(np.full((96, 96), 42, np.uint8)).save(
            root2 / 'SegmentationClassAug' / 'val_00004.png')
        with pytest.raises(ValueError, match=r'val_00004.png holds values \[42\]'):
            Shapes5iDataset(data_root=str(root2), split='val', num_train=20, num_val=20)
