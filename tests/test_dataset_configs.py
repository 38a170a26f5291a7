"""Every dataset config of configs/_base_/datasets builds its loaders' datasets on a generated
tree (pointed at with set_data_root, as tools/train.py --data-root does) and yields episodes."""
import numpy as np
import pytest
from mmengine.config import Config
from mmseg.registry import DATASETS

from mmfss.datasets import fss1000_split_classes
from mmfss.utils import set_data_root
from .conftest import REPO
from .data_trees import coco_tree, fss_tree, voc_tree


def _tree(name, root):
    if name == 'pascal5i':
        voc_tree(root, n=60)
        return dict(ann_file='list.txt')
    if name == 'coco20i':
        coco_tree(root, split='train', n=160)
        coco_tree(root, split='val', n=160)
        return {}
    fss_tree(root, [c for v in fss1000_split_classes().values() for c in v], n_images=2,
             size=(16, 16))
    return {}


@pytest.mark.parametrize('name, crop', [('pascal5i', 473), ('coco20i', 473), ('fss1000', 224)])
def test_dataset_config(name, crop, tmp_path):
    cfg = Config.fromfile(f'{REPO}/configs/_base_/datasets/{name}.py')
    extra = _tree(name, tmp_path)
    assert set_data_root(cfg, str(tmp_path)) == 3
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        ds_cfg = cfg[key].dataset.to_dict()
        ds_cfg.update(extra)
        ds = DATASETS.build(ds_cfg)
        assert ds.data_root == str(tmp_path) and len(ds) > 0
        np.random.seed(0)
        item = ds[0]
        assert item['inputs']['query'].shape[0] == 3
        assert item['inputs']['support'].shape[:2] == (1, 3)
        if key == 'train_dataloader':
            # at most crop x crop (the data preprocessor pads to it), the long side at crop
            assert max(item['inputs']['query'].shape[1:]) == crop
            assert min(item['inputs']['query'].shape[1:]) <= crop
        sample = item['data_samples']
        assert sample.support_masks.data.shape[0] == 1
        assert set(np.unique(sample.support_masks.data.numpy())) <= {0, 1, 255}
    assert cfg.val_evaluator.type == 'FewShotIoUMetric'
    if name == 'coco20i':
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
