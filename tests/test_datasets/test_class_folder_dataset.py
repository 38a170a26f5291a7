"""ClassFolderDataset: one folder per class, users' masks in any format the reader takes."""
import numpy as np
import pytest
from PIL import Image

from mmfss.datasets import ClassFolderDataset, novel_class_ids, read_mask
from ..data_trees import class_folder_tree

PIPELINE = [dict(type='ApplyToEpisode', transforms=[
    dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'), dict(type='BinarizeMask')])]
CLASSES = ['apple', 'bolt', 'cup', 'drill', 'egg', 'fork']


@pytest.fixture
def tree(tmp_path):
    class_folder_tree(tmp_path, CLASSES, n_images=4)
    # other mask formats in the same tree: RGBA cut-out, VOC-style palette, 1-bit
    obj = np.zeros((32, 32), bool)
    obj[4:20, 6:22] = True
    rgba = np.zeros((32, 32, 4), np.uint8)
    rgba[obj] = (10, 200, 30, 255)
    Image.fromarray(rgba, 'RGBA').save(tmp_path / 'bolt' / '0001_mask.png')
    voc = obj.astype(np.uint8) * 3
    voc[20, 6:22] = 255
    voc = Image.fromarray(voc, 'P')
    voc.putpalette([0, 0, 0] * 3 + [128, 0, 0] + [0, 0, 0] * 251 + [224, 224, 192])
    voc.save(tmp_path / 'cup' / '0002_mask.png')
    Image.fromarray(obj).save(tmp_path / 'drill' / '0003_mask.png')
    return tmp_path


def test_folds_and_episodes(tree):
    train = ClassFolderDataset(data_root=str(tree), split='train', fold=2, num_folds=3,
                               pipeline=PIPELINE)
    test = ClassFolderDataset(data_root=str(tree), split='test', fold=2, num_folds=3,
                              num_episodes=12, seed=1, pipeline=PIPELINE)
    assert test.novel_classes == [5, 6] and train.base_classes == [1, 2, 3, 4]
    assert test.metainfo['classes'] == ('background', *CLASSES)
    assert sorted(train.class_pools) == [1, 2, 3, 4] and len(train) == 16
    assert {c for _, _, c in test.episodes} == {5, 6}
    for idx in range(4):
        item = test[idx]
        folder = CLASSES[item['class_id'] - 1]
        for image in [item['query'], *item['supports']]:
            assert image['name'].startswith(folder + '/')
            assert np.array_equal(image['gt_seg_map'], read_mask(image['seg_map_path']).mask)


def test_every_mask_format_reads_as_its_object(tree):
    ds = ClassFolderDataset(data_root=str(tree), split='train', novel_classes=['egg'],
                            pipeline=PIPELINE)
    pixels = {i['name']: sum(i['class_pixels'].values()) for i in ds.data_list}
    assert pixels['bolt/0001'] == pixels['drill/0003'] == 16 * 16
    assert pixels['cup/0002'] == 16 * 16  # the 255 row is ignore, not object
    cup = ds._image_info('cup/0002', 3)
    out = ds.pipeline(dict(query=cup, supports=[], class_id=3))['query']['gt_seg_map']
    assert (out == 255).sum() == 16 and (out == 1).sum() == 256


def test_missing_and_ambiguous_masks_are_named(tree):
    (tree / 'egg' / '0000_mask.png').unlink()
    with pytest.raises(FileNotFoundError, match=r'egg/0000\.jpg has no mask 0000_mask\.png'):
        ClassFolderDataset(data_root=str(tree))
    class_folder_tree(tree, ['egg'], n_images=4)
    labels = np.zeros((32, 32), np.uint8)
    labels[:8] = 1
    labels[8:16] = 2
    Image.fromarray(labels).save(tree / 'fork' / '0002_mask.png')
    with pytest.raises(ValueError, match=r'fork/0002_mask\.png holds several object values'):
        ClassFolderDataset(data_root=str(tree), stats_cache_dir='')
    ds = ClassFolderDataset(data_root=str(tree), mask_threshold=2, stats_cache_dir='')
    counts = {i['name']: i['class_pixels'] for i in ds.data_list}
    assert counts['fork/0002'] == {6: 8 * 32}
    with pytest.raises(FileNotFoundError, match='data root .*nowhere does not exist'):
        ClassFolderDataset(data_root=str(tree / 'nowhere'))


def test_novel_class_ids():
    names = [f'c{i}' for i in range(10)]
    assert [novel_class_ids(names, f, 4) for f in range(4)] == [
        [1, 2, 3], [4, 5, 6], [7, 8], [9, 10]]
    assert novel_class_ids(names, 1, 4, fold_rule='interleaved') == [2, 6, 10]
    assert novel_class_ids(names, novel_classes=['c3', 1]) == [1, 4]
    folds = [novel_class_ids(names, f, 3) for f in range(3)]
    assert sorted(c for f in folds for c in f) == list(range(1, 11))
    with pytest.raises(ValueError, match='leave at least one base class'):
        novel_class_ids(names, novel_classes=names)
    with pytest.raises(ValueError, match='fold must be an int in 0..3'):
        novel_class_ids(names, 4, 4)
