"""Every dataset config of configs/_base_/datasets builds its loaders' datasets on a generated
tree (pointed at with set_data_root, as tools/train.py --data-root does) and yields episodes."""
import numpy as np
import pytest
from PIL import Image
from mmengine.config import Config
from mmseg.registry import DATASETS

from mmfss.datasets import fss1000_split_classes
from mmfss.utils import set_data_root
from .conftest import REPO
from .data_trees import coco_name, coco_tree, fss_tree, voc_tree


def _hsnet_voc_names(root):
    """Small VOC images for the names of HSNet's PASCAL fold-0 val file, each holding its
    listed class on a block."""
    from mmfss.datasets.pascal5i import hsnet_pascal_pairs
    classes = {}
    for name, c in hsnet_pascal_pairs('val', 0):
        classes.setdefault(name, []).append(c)
    rng = np.random.default_rng(5)
    for name, cs in classes.items():
        label = np.zeros((24, 30), np.uint8)
        for k, c in enumerate(cs):
            label[k * 4:k * 4 + 4, :] = c
        label[-1, :] = 255
        Image.fromarray(rng.integers(0, 255, (24, 30, 3), dtype=np.uint8)).save(
            root / 'JPEGImages' / f'{name}.jpg')
        Image.fromarray(label).save(root / 'SegmentationClassAug' / f'{name}.png')


LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def _tree(name, root):
    """Generate the tree of a dataset config; returns what each loader's dataset needs."""
    if name.startswith('pascal5i'):
        voc_tree(root, n=60)
        if name.endswith('hsnet'):
            _hsnet_voc_names(root)  # HSNet's protocol reads its own split file
            return dict(train_dataloader=dict(ann_file='list.txt'))
        return {key: dict(ann_file='list.txt') for key in LOADERS}
    if name.startswith('coco20i'):
        coco_tree(root, split='train', n=160)
        coco_tree(root, split='val', n=160)
        if name.endswith('hsnet'):
            split_file = root / 'hsnet_val_fold0.txt'
            split_file.write_text(''.join(
                f'{i % 80 + 1}\t{coco_name("val", i)}\n' for i in range(160) if i % 4 == 0))
            return {key: dict(hsnet_split_file=str(split_file)) for key in LOADERS[1:]}
        return {}
    fss_tree(root, [c for v in fss1000_split_classes().values() for c in v], n_images=10,
             size=(16, 16))
    return {}


# config, training crop, protocol, test input size
CONFIGS = [('pascal5i', 473, 'pfenet', 473), ('pascal5i_bam', 473, 'bam', 473),
           ('pascal5i_hsnet', 473, 'hsnet', 400), ('coco20i', 641, 'pfenet', 641),
           ('coco20i_bam', 641, 'bam', 641), ('coco20i_hsnet', 641, 'hsnet', 400),
           ('fss1000', 224, 'hsnet', 400)]


@pytest.mark.parametrize('name, crop, protocol, test_size', CONFIGS)
def test_dataset_config(name, crop, protocol, test_size, tmp_path):
    cfg = Config.fromfile(f'{REPO}/configs/_base_/datasets/{name}.py')
    extra = _tree(name, tmp_path)
    assert set_data_root(cfg, str(tmp_path)) == 3
    for key in LOADERS:
        ds_cfg = cfg[key].dataset.to_dict()
        ds_cfg.update(extra.get(key, {}))
        if key != 'train_dataloader':
            assert ds_cfg['protocol'] == protocol
            ds_cfg['num_episodes'] = 3  # the protocol's sampler, fewer episodes
        ds = DATASETS.build(ds_cfg)
        assert ds.data_root == str(tmp_path) and len(ds) > 0
        np.random.seed(0)
        item = ds[0]
        assert item['inputs']['query'].shape[0] == 3
        assert item['inputs']['support'].shape[:2] == (1, 3)
        if key == 'train_dataloader':
            # at most crop x crop (the data preprocessor pads to it); PFENet's RandScale
            # scales the image's own size (these are smaller than the crop), FSS-1000's
            # resize brings the long side to the crop
            shape = item['inputs']['query'].shape[1:]
            assert max(shape) <= crop
            if name == 'fss1000':
                assert max(shape) == crop
        else:
            # the protocol's geometry: input test_size x test_size, the scored frame recorded
            assert ds.protocol == protocol
            assert tuple(item['inputs']['query'].shape[1:]) == (test_size, test_size)
            assert tuple(item['inputs']['support'].shape[2:]) == (test_size, test_size)
            meta = item['data_samples'].metainfo
            gt = item['data_samples'].gt_sem_seg.data
            assert tuple(gt.shape[1:]) == tuple(meta['score_shape'])
            if protocol == 'hsnet':
                assert tuple(meta['score_shape']) == (test_size, test_size)
            else:  # the original label in a 255-filled square of its longer side
                h, w = meta['ori_shape']
                assert tuple(meta['score_shape']) == (max(h, w), max(h, w))
                assert (gt[0, h:] == 255).all() and (gt[0, :, w:] == 255).all()
        sample = item['data_samples']
        assert sample.support_masks.data.shape[0] == 1
        assert set(np.unique(sample.support_masks.data.numpy())) <= {0, 1, 255}
    assert cfg.val_evaluator.type == 'FewShotIoUMetric'
    if name.startswith('coco20i'):
        assert cfg.train_dataloader.dataset.split_style == 'interleaved'
    if name == 'fss1000':
        assert cfg.test_dataloader.dataset.split == 'test'


def test_set_data_root_follows_wrappers():
    cfg = Config(dict(
        train_dataloader=dict(dataset=dict(
            type='RepeatDataset', dataset=dict(type='BaseClassDataset', episodic=dict(
                type='PASCAL5iDataset', data_root='a')))),
        val_dataloader=dict(dataset=dict(type='ConcatDataset', datasets=[
            dict(type='X', data_root='a'), dict(type='Y')])),
        test_dataloader=None))
    assert set_data_root(cfg, '/data') == 3
    assert cfg.train_dataloader.dataset.dataset.episodic.data_root == '/data'
    assert [d['data_root'] for d in cfg.val_dataloader.dataset.datasets] == ['/data'] * 2
