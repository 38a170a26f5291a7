import numpy as np
import pytest
from mmcv.transforms import Compose
from mmseg.registry import DATASETS

from mmfss.datasets import BaseClassDataset
from tests.data_trees import coco_tree, fss_tree, voc_tree


class TestBaseClassDataset:

    def test_pascal_view(self, tmp_path):
        voc_tree(tmp_path, n=60)
        episodic = dict(type='PASCAL5iDataset', data_root=str(tmp_path), ann_file='list.txt',
                        split='train', fold=1)
        ds = DATASETS.build(
            dict(type='BaseClassDataset', episodic=episodic, novel_images='drop',
                 pipeline=[dict(type='LoadImageFromFile'), dict(type='LoadAnnotations')]))
        assert isinstance(ds, BaseClassDataset)
        # 15 base classes, in order, after the background
        assert ds.base_class_ids == [1, 2, 3, 4, 5] + list(range(11, 21))
        assert ds.metainfo['classes'] == ('background', 'aeroplane', 'bicycle', 'bird', 'boat',
                                          'bottle', 'diningtable', 'dog', 'horse', 'motorbike',
                                          'person', 'pottedplant', 'sheep', 'sofa', 'train',
                                          'tvmonitor')
        # image i holds classes i % 20 + 1 and (i + 7) % 20 + 1: any novel pixel removes it
        novel = set(range(6, 11))
        kept = [i for i in range(60) if not {i % 20 + 1, (i + 7) % 20 + 1} & novel]
        assert len(ds) == len(kept)
        names = [ds.get_data_info(j)['sample_name'] for j in range(len(ds))]
        assert names == [f'2008_{i:06d}' for i in kept]
        remap = {c: j + 1 for j, c in enumerate(ds.base_class_ids)}
        for idx, i in enumerate(kept[:5]):
            label = ds[idx]['gt_seg_map']
            assert label[0, 0] == remap[i % 20 + 1]
            assert label[70, 70] == remap[(i + 7) % 20 + 1]
            assert label[50, 0] == 255 and label[55, 55] == 0
            assert label.max() <= 15 or label.max() == 255

    def test_threshold_option_and_remap_of_remaining_novel(self, tmp_path):
        voc_tree(tmp_path, n=60)
        episodic = dict(type='PASCAL5iDataset', data_root=str(tmp_path), ann_file='list.txt',
                        split='train', fold=1)
        # only images where a novel class covers >= 2048 pixels are removed now; the small
        # novel blocks that remain become background
        ds = BaseClassDataset(episodic=episodic, novel_images='drop', novel_min_pixels=2048,
                              pipeline=[dict(type='LoadAnnotations')])
        kept = [i for i in range(60) if i % 20 + 1 not in range(6, 11)]
        assert len(ds) == len(kept)
        idx = next(j for j, i in enumerate(kept) if (i + 7) % 20 + 1 in range(6, 11))
        assert ds[idx]['gt_seg_map'][70, 70] == 0

    def test_default_keeps_novel_images_as_background(self, tmp_path):
        """BAM's BaseData: every listed image, its novel pixels relabelled background."""
        voc_tree(tmp_path, n=60)
        episodic = dict(type='PASCAL5iDataset', data_root=str(tmp_path), ann_file='list.txt',
                        split='train', fold=1)
        ds = BaseClassDataset(episodic=episodic, pipeline=[dict(type='LoadAnnotations')])
        assert ds.novel_images == 'background' and len(ds) == 60
        remap = {c: j + 1 for j, c in enumerate(ds.base_class_ids)}
        for i in range(60):
            label = ds[i]['gt_seg_map']
            for (y, x), c in (((0, 0), i % 20 + 1), ((70, 70), (i + 7) % 20 + 1)):
                assert label[y, x] == (0 if c in range(6, 11) else remap[c])
        with pytest.raises(ValueError, match="novel_images must be 'background' or 'drop'"):
            BaseClassDataset(episodic=episodic, novel_images='keep')

    def test_coco_view(self, tmp_path):
        coco_tree(tmp_path, split='train')
        episodic = dict(type='COCO20iDataset', data_root=str(tmp_path), split='train', fold=0)
        assert len(BaseClassDataset(episodic=episodic)) == 160  # novel pixels -> background
        ds = BaseClassDataset(episodic=episodic, novel_images='drop',
                              pipeline=[dict(type='LoadAnnotations')])
        assert len(ds.metainfo['classes']) == 61
        assert len(ds) == 120  # images of the 20 novel classes removed
        for idx in range(0, 120, 17):
            name = ds.get_data_info(idx)['sample_name']
            cls = int(name[-12:]) % 80 + 1
            assert cls % 4 != 1
            assert ds[idx]['gt_seg_map'][10, 10] == ds.base_class_ids.index(cls) + 1

    def test_fss1000_view(self, tmp_path):
        """CMNet's stage 1 on FSS-1000: every image of the 520 training classes, its mask's
        foreground labelled with its class (its folder), grey or RGB masks alike; the
        val/test classes are novel, so their split has no base-class image."""
        from mmfss.datasets import fss1000_split_classes
        splits = fss1000_split_classes()
        fss_tree(tmp_path, splits['train'][:260], n_images=2, rgb_masks=True)
        fss_tree(tmp_path, splits['train'][260:], n_images=2)
        pipeline = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
                    dict(type='BinarizeMask')]
        ds = BaseClassDataset(episodic=dict(type='FSS1000Dataset', data_root=str(tmp_path),
                                            split='train'), pipeline=pipeline)
        assert len(ds) == 1040 and len(ds.metainfo['classes']) == 521
        assert ds.metainfo['classes'][1:] == tuple(splits['train'])
        for idx in (0, 3, 600, 1039):
            out = ds[idx]
            name = out['sample_name']
            label = splits['train'].index(name.split('/')[0]) + 1
            k = int(name.split('/')[1])
            assert out['gt_seg_map'].ndim == 2
            assert set(np.unique(out['gt_seg_map'])) == {0, label}
            assert (out['gt_seg_map'] == label).sum() == (k + 3)**2  # the rim is background
        fss_tree(tmp_path, splits['test'], n_images=2)
        with pytest.raises(ValueError, match=r'no image of FSS1000Dataset \(split=test\)'):
            BaseClassDataset(episodic=dict(type='FSS1000Dataset', data_root=str(tmp_path)))

    def test_errors(self, tmp_path):
        voc_tree(tmp_path / 'voc', n=20)
        episodic = dict(type='PASCAL5iDataset', data_root=str(tmp_path / 'voc'),
                        ann_file='list.txt', split='train')
        with pytest.raises(ValueError, match='takes data_root from episodic'):
            BaseClassDataset(episodic=episodic, data_root='x')
        with pytest.raises(ValueError, match='novel_min_pixels'):
            BaseClassDataset(episodic=episodic, novel_min_pixels=0)


class TestBoxSupports:

    def test_masks_to_boxes(self):
        from mmfss.datasets import masks_to_boxes
        mask = np.zeros((10, 12), np.uint8)
        mask[1:3, 1:4] = 1  # a bar
        mask[3, 4] = 1  # touches the bar diagonally: one 8-connected region
        mask[6:9, 8] = 1
        mask[7, 7:10] = 1  # a cross
        expected = np.zeros_like(mask)
        expected[1:4, 1:5] = 1
        expected[6:9, 7:10] = 1
        np.testing.assert_array_equal(masks_to_boxes(mask), expected)
        four = masks_to_boxes(mask, connectivity=4)
        assert four[3, 1] == 0 and four[3, 4] == 1 and four[1, 4] == 0
        assert masks_to_boxes(np.zeros((4, 4))).sum() == 0

    def test_bbox_support_through_pipeline(self, tmp_path):
        voc_tree(tmp_path, n=60)
        ds = DATASETS.build(dict(type='PASCAL5iDataset', data_root=str(tmp_path),
                                 ann_file='list.txt', split='val', fold=0, num_episodes=3,
                                 support_annotation='bbox'))
        load = [dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
                dict(type='BinarizeMask')]
        out = Compose([dict(type='ApplyToEpisode', transforms=load)])(ds.get_data_info(0))
        support = out['supports'][0]['gt_seg_map']
        query = out['query']['gt_seg_map']
        # the 50x50 block cut by the 255 row (row 50 lies outside it) is one box; the box
        # has no ignore pixels, the query keeps its mask and ignore row
        expected = np.zeros_like(support)
        expected[:50, :50] = 1
        np.testing.assert_array_equal(support, expected)
        assert (query == 255).any() and set(np.unique(query)) == {0, 1, 255}
