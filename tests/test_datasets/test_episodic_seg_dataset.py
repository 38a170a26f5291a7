"""EpisodicSegDataset: few-shot episodes over any mmseg dataset, labels read as mmseg reads
them (reduce_zero_label, label_map), folds or named novel classes, errors naming files."""
import numpy as np
import pytest
from mmseg.datasets.transforms import LoadAnnotations
from mmseg.registry import DATASETS
from PIL import Image

from mmfss.datasets import EpisodicSegDataset
from mmfss.datasets.episodic_seg_dataset import label_lut
from ..data_trees import ade_tree

PIPELINE = [dict(type='ApplyToEpisode', transforms=[
    dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'), dict(type='BinarizeMask')])]
ADE_PREFIX = dict(img_path='images/training', seg_map_path='annotations/training')


@pytest.fixture(scope='module')
def ade_root(tmp_path_factory):
    root = tmp_path_factory.mktemp('ade')
    ade_tree(root, n=100)
    return root


def _ade(root, **kwargs):
    inner = dict(type='ADE20KDataset', data_root=str(root), data_prefix=ADE_PREFIX)
    inner.update(kwargs.pop('inner', {}))
    return EpisodicSegDataset(dataset=inner, pipeline=PIPELINE, **kwargs)


def test_labels_are_read_as_mmseg_reads_them(ade_root):
    """The episode class of every pixel = mmseg's LoadAnnotations label (reduce_zero_label,
    and a metainfo class subset's label_map) shifted to 1-based, 255 kept."""
    subset = ('wall', 'floor', 'tree', 'ceiling', 'road', 'bed ', 'windowpane', 'grass')
    ade_cls = DATASETS.get('ADE20KDataset')
    classes = tuple(c for c in ade_cls.METAINFO['classes'] if c.strip() in
                    {s.strip() for s in subset})
    for metainfo in (None, dict(classes=classes)):
        inner = dict(metainfo=metainfo) if metainfo else {}
        ds = _ade(ade_root, inner=inner, split='val', novel_classes=[1, 2], num_episodes=5,
                  small_classes='exclude')
        mmseg_ds = ds.inner
        assert ds.metainfo['classes'][1:] == tuple(mmseg_ds.metainfo['classes'])
        load = LoadAnnotations(reduce_zero_label=mmseg_ds.reduce_zero_label)
        for info in ds.data_list[:20]:
            raw = np.asarray(Image.open(info['seg_map_path']))
            ref = load(dict(seg_map_path=info['seg_map_path'], seg_fields=[],
                            reduce_zero_label=mmseg_ds.reduce_zero_label,
                            label_map=mmseg_ds.label_map))['gt_seg_map']
            expect = np.where(ref == 255, 255, ref.astype(np.int64) + 1)
            assert np.array_equal(ds.lut[raw], expect)


def test_folds_train_and_test_episodes(ade_root):
    train = _ade(ade_root, split='train', fold=1, num_folds=5)
    test = _ade(ade_root, split='val', fold=1, num_folds=5, num_episodes=40, seed=3)
    assert train.novel_classes == test.novel_classes == list(range(31, 61))
    assert set(train.class_pools) == set(range(1, 151)) - set(range(31, 61))
    assert {c for _, _, c in test.episodes} <= set(range(31, 61))
    again = _ade(ade_root, split='val', fold=1, num_folds=5, num_episodes=40, seed=3)
    assert again.episodes == test.episodes  # fixed by the seed
    item = test[0]
    class_id = item['class_id']
    for image in [item['query'], *item['supports']]:
        raw = np.asarray(Image.open(image['seg_map_path']))
        want = (test.lut[raw] == class_id).astype(np.uint8)
        want[test.lut[raw] == 255] = 255
        assert np.array_equal(image['gt_seg_map'], want) and (want == 1).sum() >= 2048
    np.random.seed(0)
    drawn = train[3]
    assert drawn['class_id'] in train.base_classes
    assert drawn['query']['name'] not in [s['name'] for s in drawn['supports']]


def test_named_novel_classes_and_background(tmp_path):
    """A user's own BaseSegDataset with a class list whose label 0 is 'background'."""
    (tmp_path / 'img').mkdir()
    (tmp_path / 'ann').mkdir()
    rng = np.random.default_rng(0)
    for i in range(12):
        label = np.zeros((40, 40), np.uint8)
        label[:20, :] = i % 3 + 1  # cat, dog, bird
        label[20:, :20] = (i + 1) % 3 + 1
        label[39, :] = 255
        Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(
            tmp_path / 'img' / f'{i}.jpg')
        Image.fromarray(label).save(tmp_path / 'ann' / f'{i}.png')
    inner = dict(type='BaseSegDataset', data_root=str(tmp_path),
                 data_prefix=dict(img_path='img', seg_map_path='ann'),
                 img_suffix='.jpg', seg_map_suffix='.png',
                 metainfo=dict(classes=('background', 'cat', 'dog', 'bird')))
    ds = EpisodicSegDataset(dataset=inner, split='test', novel_classes=['dog'],
                            min_class_pixels=100, num_episodes=6, pipeline=PIPELINE)
    assert ds.metainfo['classes'] == ('background', 'cat', 'dog', 'bird')
    assert ds.novel_classes == [2] and ds.base_classes == [1, 3]
    assert list(ds.lut[:5]) == [0, 1, 2, 3, -1] and ds.lut[255] == 255
    assert {c for _, _, c in ds.episodes} == {2}
    # a value that is no class: an error naming the file
    bad = np.zeros((40, 40), np.uint8)
    bad[:5] = 9
    Image.fromarray(bad).save(tmp_path / 'ann' / '3.png')
    with pytest.raises(ValueError, match=r'3\.png holds values \[9\]'):
        EpisodicSegDataset(dataset=inner, split='test', novel_classes=['dog'],
                           stats_cache_dir='', pipeline=PIPELINE)
    with pytest.raises(ValueError, match="novel class 'cow' is not one of its classes"):
        EpisodicSegDataset(dataset=inner, novel_classes=['cow'])


def test_bad_configs_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='data root .*nowhere of the wrapped'):
        EpisodicSegDataset(dataset=dict(type='ADE20KDataset', data_root=str(tmp_path / 'nowhere')))
    with pytest.raises(ValueError, match='num_folds must be an int in 2..150'):
        EpisodicSegDataset(dataset=dict(type='ADE20KDataset', data_root=str(tmp_path),
                                        lazy_init=True), num_folds=151)
    with pytest.raises(ValueError, match='protocol='):
        EpisodicSegDataset(dataset=dict(type='ADE20KDataset'), protocol='pfenet')


def test_label_lut_order_of_mmseg():
    """reduce_zero_label first, then label_map (mmseg 1.x LoadAnnotations)."""
    lut = label_lut(3, [1, 2, 3], reduce_zero_label=True, label_map={0: 255, 1: 0, 2: 1})
    # raw 0 -> 255; raw 1 -> 0 -> label_map 255; raw 2 -> 1 -> 0 -> id 1; raw 3 -> 2 -> 1 -> id 2
    assert list(lut[:5]) == [255, 255, 1, 2, -1]
