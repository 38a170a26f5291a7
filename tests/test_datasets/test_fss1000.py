import shutil

import numpy as np
import pytest
from mmcv.transforms import Compose
from mmseg.registry import DATASETS

from mmfss.datasets import FSS1000Dataset, fss1000_split_classes
from tests.data_trees import fss_tree


@pytest.fixture(scope='module')
def fss_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('fss1000')
    splits = fss1000_split_classes()
    fss_tree(root, splits['test'], n_images=3)
    fss_tree(root, splits['train'][:40], n_images=3, rgb_masks=True)
    return root


LOAD = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'), dict(type='BinarizeMask')]


class TestFSS1000Dataset:

    def test_shipped_splits(self):
        splits = fss1000_split_classes()
        assert {k: len(v) for k, v in splits.items()} == dict(train=520, val=240, test=240)
        names = splits['train'] + splits['val'] + splits['test']
        assert len(set(names)) == 1000

    def test_test_split_every_image_once(self, fss_root):
        # mmfss's sampler (protocol=None): supports among the class's eligible images
        ds = DATASETS.build(dict(type='FSS1000Dataset', data_root=str(fss_root), split='test',
                                 shot=2, seed=1, protocol=None))
        assert isinstance(ds, FSS1000Dataset)
        test_classes = fss1000_split_classes()['test']
        assert sorted(ds.class_pools) == list(range(761, 1001))
        assert ds.metainfo['classes'][761] == test_classes[0]
        assert len(ds) == 240 * 3
        queries = [q for q, _, _ in ds.episodes]
        assert sorted(queries) == sorted(f'{c}/{k}' for c in test_classes for k in (1, 2, 3))
        for query, supports, cls in ds.episodes:
            cname = ds.metainfo['classes'][cls]
            assert query.startswith(cname + '/')
            assert len(set(supports)) == 2 and query not in supports
            assert all(s.startswith(cname + '/') for s in supports)
        same = FSS1000Dataset(data_root=str(fss_root), split='test', shot=2, seed=1,
                              protocol=None)
        other = FSS1000Dataset(data_root=str(fss_root), split='test', shot=2, seed=2,
                               protocol=None)
        assert same.episodes == ds.episodes != other.episodes

    def test_masks_binarised_at_128(self, fss_root):
        ds = FSS1000Dataset(data_root=str(fss_root), split='test', shot=1, protocol=None)
        pipeline = Compose([dict(type='ApplyToEpisode', transforms=LOAD)])
        for idx in (0, 1, 2):
            out = pipeline(ds.get_data_info(idx))
            for image in [out['query']] + out['supports']:
                k = int(image['name'].split('/')[1])
                mask = image['gt_seg_map']
                assert set(np.unique(mask)) == {0, 1}
                assert int(mask.sum()) == (k + 3)**2  # the 100-valued rim is background

    def test_masks_read_as_hsnet_reads_them_in_every_png_mode(self, fss_root, tmp_path):
        """HSNet data/fss.py read_mask: np.array(Image.open(f).convert('L')), then >= 128.
        Masks written in every PNG mode, with values around the threshold (grey 127/128,
        RGB (128,128,128), (255,100,0) = L 135, a blue object, 16-bit levels), go through
        the shipped loading steps (LoadAnnotations + BinarizeMask) to HSNet's labels."""
        from PIL import Image
        root = tmp_path / 'fss'
        shutil.copytree(fss_root, root)
        cls = fss1000_split_classes()['test'][0]
        rng = np.random.default_rng(5)
        rgb = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
        rgb[:4, :4] = (128, 128, 128)  # L 128: foreground (float weights say 127.999)
        rgb[4:8, :4] = (255, 100, 0)  # L 135: foreground (background read as BGR)
        rgb[8:12, :4] = (0, 0, 255)  # L 29: background
        grey = rng.integers(120, 136, (32, 32), dtype=np.uint8)
        palette = Image.fromarray(rng.integers(0, 4, (32, 32), dtype=np.uint8), 'L').convert('P')
        palette.putpalette([0, 0, 0, 200, 200, 200, 127, 127, 127, 30, 250, 90] + [0] * 756)
        images = {
            'L': Image.fromarray(grey, 'L'),
            'P': palette,
            'RGB': Image.fromarray(rgb, 'RGB'),
            'RGBA': Image.fromarray(np.dstack([rgb, rng.integers(0, 256, (32, 32), np.uint8)]),
                                    'RGBA'),
            '1': Image.fromarray(grey > 127).convert('1'),
            'I;16': Image.fromarray(rng.integers(0, 400, (32, 32)).astype(np.uint16), 'I;16'),
        }
        for k, (mode, img) in enumerate(images.items(), 1):
            assert img.mode == mode
            img.save(root / cls / f'{k}.png')
            Image.fromarray(rgb).save(root / cls / f'{k}.jpg')
        ds = FSS1000Dataset(data_root=str(root), split='test', shot=1, protocol=None,
                            stats_cache_dir='')
        pipeline = Compose([dict(type='ApplyToEpisode', transforms=LOAD)])
        seen = set()
        for idx in range(len(ds)):
            query = ds.get_episode(idx)[0]
            if not query.startswith(cls + '/') or int(query.split('/')[1]) > len(images):
                continue
            out = pipeline(ds.get_data_info(idx))
            path = out['query']['seg_map_path']
            hsnet = (np.array(Image.open(path).convert('L')) >= 128).astype(np.uint8)
            assert np.array_equal(out['query']['gt_seg_map'], hsnet), Image.open(path).mode
            seen.add(Image.open(path).mode)
        assert seen == set(images)

    @pytest.mark.parametrize('shot', [1, 5])
    def test_hsnet_protocol_is_hsnets(self, tmp_path, shot):
        """HSNet data/fss.py after fix_randseed(0): classes sorted, paths sorted as strings,
        each support n.jpg with n drawn by np.random.choice(range(1, 11), 1, replace=False)
        and kept unless it is the query."""
        import glob
        import os
        test_classes = fss1000_split_classes()['test']
        fss_tree(tmp_path, test_classes, n_images=10, size=(8, 8))
        ds = FSS1000Dataset(data_root=str(tmp_path), split='test', shot=shot)
        assert ds.protocol == 'hsnet' and ds.test_size == 400 and len(ds) == 2400
        np.random.seed(0)
        expected = []
        for cat in sorted(test_classes):
            for path in sorted(glob.glob(os.path.join(str(tmp_path), cat, '*'))):
                if os.path.basename(path).split('.')[1] != 'jpg':
                    continue
                supports = []
                while True:
                    n = np.random.choice(range(1, 11), 1, replace=False)[0]
                    name = os.path.join(os.path.dirname(path), str(n)) + '.jpg'
                    if name != path:
                        supports.append(f'{cat}/{n}')
                    if len(supports) == shot:
                        break
                query = f'{cat}/{os.path.basename(path)[:-4]}'
                expected.append((query, supports, ds.metainfo['classes'].index(cat)))
        assert ds.episodes == expected
        assert ds.episodes[1][0].endswith('/10')  # string order: 1, 10, 2, ...

    def test_train_split_rgb_masks(self, fss_root, tmp_path):
        root = tmp_path / 'fss'
        shutil.copytree(fss_root, root)
        train = fss1000_split_classes()['train']
        with pytest.raises(FileNotFoundError, match=rf'480 class folder\(s\).*{train[40]}'):
            FSS1000Dataset(data_root=str(root), split='train')
        fss_tree(root, train[40:], n_images=2)
        ds = FSS1000Dataset(data_root=str(root), split='train', shot=1)
        assert ds.episodes is None and sorted(ds.class_pools) == list(range(1, 521))
        assert len(ds) == 40 * 3 + 480 * 2
        pipeline = Compose([dict(type='ApplyToEpisode', transforms=LOAD)])
        rgb = set(train[:40])
        idx = next(i for i in range(len(ds)) if ds.get_episode(i)[0].split('/')[0] in rgb)
        out = pipeline(ds.get_data_info(idx))
        k = int(out['query']['name'].split('/')[1])
        assert out['query']['name'].split('/')[0] in rgb
        assert out['query']['gt_seg_map'].ndim == 2
        assert out['query']['gt_seg_map'].sum() == (k + 3)**2

    def test_bad_input(self, fss_root, tmp_path):
        with pytest.raises(ValueError, match='split must be one of'):
            FSS1000Dataset(data_root=str(fss_root), split='trn')
        with pytest.raises(ValueError, match=r'fold must be an int in 0\.\.0'):
            FSS1000Dataset(data_root=str(fss_root), fold=1)
        root = tmp_path / 'fss'
        shutil.copytree(fss_root, root)
        cname = fss1000_split_classes()['test'][5]
        (root / cname / '2.png').unlink()
        with pytest.raises(FileNotFoundError, match=f'{cname}/2.png'):
            FSS1000Dataset(data_root=str(root), split='test')
