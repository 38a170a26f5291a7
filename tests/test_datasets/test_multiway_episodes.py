"""N-way K-shot episodes: sampling, the query's 0..N label, packing, and the metric."""
import numpy as np
import pytest
import torch
from mmseg.registry import DATASETS, METRICS

from mmfss.datasets import fss1000_split_classes
from mmfss.datasets.label_stats import read_label_map
from mmfss.evaluation import way_areas
from tests.data_trees import fss_tree

from ..conftest import small_shapes_cfg

LOAD = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'), dict(type='BinarizeMask')]
PIPELINE = [dict(type='ApplyToEpisode', transforms=LOAD), dict(type='PackEpisodeInputs')]


def test_shapes_nway_episodes(shapes_root):
    kw = dict(split='val', fold=0, shot=2, ways=3, num_episodes=40, seed=3)
    ds = DATASETS.build(small_shapes_cfg(shapes_root, **kw))
    again = DATASETS.build(small_shapes_cfg(shapes_root, **kw))
    assert ds.episodes == again.episodes
    first_ways = set()
    for query, supports, ids in ds.episodes:
        assert any(query in ds.class_pools[c] for c in ids)  # the query holds a class
        assert len(set(ids)) == 3 and set(ids) <= set(ds.novel_classes)
        assert len(supports) == 6
        for way, c in enumerate(ids):
            shots = supports[2 * way:2 * way + 2]
            assert len(set(shots)) == 2 and query not in shots
            assert all(s in ds.class_pools[c] for s in shots)
        first_ways.add(ids[0])
    assert len(first_ways) > 1  # the order of the ways is random


def test_shapes_nway_items_through_the_pipeline(shapes_root):
    ds = DATASETS.build(small_shapes_cfg(shapes_root, split='val', fold=0, shot=1, ways=2,
                                         num_episodes=12, seed=0, pipeline=PIPELINE))
    classes = ds.metainfo['classes']
    for idx in range(len(ds)):
        query, supports, ids = ds.episodes[idx]
        item = ds[idx]
        sample = item['data_samples']
        assert sample.ways == 2 and sample.class_ids == list(ids) and sample.class_id == -1
        assert sample.class_names == [classes[c] for c in ids]
        assert item['inputs']['support'].shape[0] == 2
        raw = read_label_map(sample.img_path.replace('JPEGImages', 'SegmentationClassAug')
                             .replace('.jpg', '.png'))
        expected = np.zeros_like(raw)
        for way, c in enumerate(ids, 1):
            expected[raw == c] = way
        expected[raw == 255] = 255
        assert np.array_equal(sample.gt_sem_seg.data[0].numpy(), expected)
        assert {1, 2} & set(np.unique(expected))  # the query holds one of the classes
        # each support's mask is the mask of its own way's class
        for way, name in enumerate(supports):
            s_raw = read_label_map(ds.data_list[ds._name_to_index[name]]['seg_map_path'])
            mask = sample.support_masks.data[way].numpy()
            assert np.array_equal(mask == 1, s_raw == ids[way])


@pytest.mark.parametrize('kwargs, match', [
    (dict(split='train', ways=2), 'N-way episodes are for evaluation'),
    (dict(split='val', ways=0), 'ways must be'),
    (dict(split='val', ways=6), 'ways=6 but only 5 classes'),
])
def test_bad_ways(shapes_root, kwargs, match):
    with pytest.raises(ValueError, match=match):
        DATASETS.build(small_shapes_cfg(shapes_root, fold=0, **kwargs))


def test_fss1000_nway_query_label(tmp_path):
    splits = fss1000_split_classes()
    fss_tree(tmp_path, splits['test'], n_images=3)
    ds = DATASETS.build(dict(type='FSS1000Dataset', data_root=str(tmp_path), split='test',
                             shot=1, ways=3, seed=0, protocol=None, pipeline=PIPELINE))
    for idx in range(0, len(ds), 37):
        query, _, ids = ds.episodes[idx]
        own = ds.metainfo['classes'].index(query.split('/')[0])
        sample = ds[idx]['data_samples']
        label = sample.gt_sem_seg.data[0]
        fg = label != 0
        assert fg.any() and set(label[fg].unique().tolist()) == {ids.index(own) + 1}


def test_metric_scores_each_way():
    metric = METRICS.build(dict(type='FewShotIoUMetric'))
    metric.dataset_meta = dict(classes=('background', 'cat', 'dog', 'cow'))
    pred = torch.tensor([[1, 1, 2], [0, 2, 0]])
    label = torch.tensor([[1, 0, 2], [2, 2, 255]])
    # way 1: I=1 U=2; way 2: I=2 U=3; background: pred {(1,0),(1,2)->ignored}, gt {(0,1)}
    assert way_areas(pred, label, 2) == [[1, 2], [2, 3], [0, 2]]
    metric.process({}, [dict(pred_sem_seg=dict(data=pred[None]),
                             gt_sem_seg=dict(data=label[None]), ways=2, class_ids=[3, 1],
                             class_id=-1, img_path='q.jpg')])
    # a one-way episode of class 1 (cat): fg I=1 U=1, bg I=1 U=1
    metric.process({}, [dict(pred_sem_seg=dict(data=torch.tensor([[1, 0]])[None]),
                             gt_sem_seg=dict(data=torch.tensor([[1, 0]])[None]), class_id=1,
                             img_path='r.jpg')])
    out = metric.evaluate(2)
    assert out['IoU.cow'] == 50.0  # way 1 of the first episode is class 3
    assert out['IoU.cat'] == round(3 / 4 * 100, 2)  # way 2 (2/3) + the one-way (1/1)
    assert out['episodes'] == 2
    assert out['fg-IoU'] == round(4 / 6 * 100, 2)
    assert out['bg-IoU'] == round(1 / 3 * 100, 2)


def test_one_way_items_name_the_querys_annotated_classes(shapes_root):
    """metainfo query_class_names: the classes of the query's label map (those of at least
    min_class_pixels, as the lists count them), the episode's among them; read only by a
    prior that reads the query's labels (CLIPPriorNeck prompt_classes='query_labels')."""
    ds = DATASETS.build(small_shapes_cfg(shapes_root, split='val', fold=0, shot=1,
                                         num_episodes=6, seed=0, pipeline=PIPELINE))
    classes = ds.metainfo['classes']
    for idx in range(len(ds)):
        sample = ds[idx]['data_samples']
        raw = read_label_map(sample.img_path.replace('JPEGImages', 'SegmentationClassAug')
                             .replace('.jpg', '.png'))
        present = [classes[c] for c in np.unique(raw) if 0 < c < 255 and
                   (raw == c).sum() >= ds.min_class_pixels]
        assert sample.query_class_names == present
        assert sample.class_name in sample.query_class_names
