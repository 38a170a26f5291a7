import numpy as np
import pytest
import torch
from mmseg.registry import TRANSFORMS

from mmfss.datasets.transforms import ApplyToEpisode, BinarizeMask, PackEpisodeInputs


def _image(h, w, label_value, marker):
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 0] = marker
    img[: h // 2, : w // 2, 1] = 255  # top-left marker to detect flips
    label = np.zeros((h, w), np.uint8)
    label[: h // 2, : w // 2] = label_value
    label[-1, :] = 255
    return dict(img=img, gt_seg_map=label, seg_fields=['gt_seg_map'], img_shape=(h, w),
                ori_shape=(h, w), img_path=f'img{marker}.jpg')


def _episode(k=2, size=(16, 16)):
    return dict(query=_image(*size, 3, 0), supports=[_image(*size, 3, i + 1) for i in range(k)],
                class_id=3, episode_index=7)


class TestBinarizeMask:

    def test_values(self):
        label = np.array([[0, 3, 5], [255, 3, 20]], np.uint8)
        out = BinarizeMask()(dict(gt_seg_map=label, class_id=3))['gt_seg_map']
        np.testing.assert_array_equal(out, [[0, 1, 0], [255, 1, 0]])
        assert out.dtype == np.uint8

    def test_needs_keys(self):
        with pytest.raises(KeyError, match='LoadAnnotations'):
            BinarizeMask()(dict(class_id=1, img_path='x.jpg'))
        with pytest.raises(KeyError, match='class_id'):
            BinarizeMask()(dict(gt_seg_map=np.zeros((2, 2), np.uint8)))


class TestApplyToEpisode:

    def test_independent_augmentation(self):
        t = TRANSFORMS.build(dict(type='ApplyToEpisode',
                                  transforms=[dict(type='RandomFlip', prob=0.5)]))
        np.random.seed(0)
        patterns = set()
        for _ in range(40):
            out = t(_episode(k=2))
            flips = tuple(bool(r['flip']) for r in [out['query'], *out['supports']])
            for r in [out['query'], *out['supports']]:
                # image and mask are flipped together
                assert (r['img'][0, 0, 1] == 255) == (r['gt_seg_map'][0, 0] == 3)
            patterns.add(flips)
        # query and supports draw their flips independently: mixed patterns occur
        assert len(patterns) >= 4

    def test_class_id_reaches_images_and_support_transforms(self):
        t = ApplyToEpisode(transforms=[dict(type='BinarizeMask')],
                           support_transforms=[dict(type='BinarizeMask'),
                                               dict(type='Resize', scale=(8, 8),
                                                    keep_ratio=False)])
        out = t(_episode(k=1))
        assert out['query']['gt_seg_map'].shape == (16, 16)
        assert out['supports'][0]['gt_seg_map'].shape == (8, 8)
        assert set(np.unique(out['query']['gt_seg_map'])) == {0, 1, 255}
        assert out['query']['class_id'] == 3 and out['supports'][0]['episode_index'] == 7

    def test_errors(self):
        with pytest.raises(KeyError, match='"query" and "supports"'):
            ApplyToEpisode(transforms=[])(dict(img=np.zeros((2, 2, 3))))

        class Drop:

            def __call__(self, results):
                return None

        with pytest.raises(RuntimeError, match='img0.jpg'):
            ApplyToEpisode(transforms=[Drop()])(_episode())


class TestPackEpisodeInputs:

    def test_pack(self):
        ep = _episode(k=3)
        ep['supports'][1] = _image(10, 12, 3, 2)  # a smaller support gets padded
        for r in [ep['query'], *ep['supports']]:
            r['gt_seg_map'] = (r['gt_seg_map'] == 3).astype(np.uint8)
        packed = TRANSFORMS.build(dict(type='PackEpisodeInputs'))(ep)
        inputs, sample = packed['inputs'], packed['data_samples']
        assert inputs['query'].shape == (3, 16, 16) and inputs['query'].dtype == torch.uint8
        assert inputs['support'].shape == (3, 3, 16, 16)
        assert sample.gt_sem_seg.data.shape == (1, 16, 16)
        assert sample.gt_sem_seg.data.dtype == torch.int64
        masks = sample.support_masks.data
        assert masks.shape == (3, 16, 16)
        assert (masks[1, 10:, :] == 255).all() and (masks[1, :, 12:] == 255).all()
        assert (inputs['support'][1, :, 10:, :] == 0).all()
        assert masks[1, :5, :6].eq(1).all()
        assert sample.class_id == 3 and sample.episode_index == 7
        assert sample.ori_shape == (16, 16) and sample.img_path == 'img0.jpg'
        assert sample.support_img_paths == ['img1.jpg', 'img2.jpg', 'img3.jpg']
        assert sample.support_img_shapes[1] == (10, 12)

    def test_mismatched_support_mask(self):
        ep = _episode(k=1)
        ep['supports'][0]['gt_seg_map'] = np.zeros((5, 5), np.uint8)
        with pytest.raises(ValueError, match='img1.jpg'):
            PackEpisodeInputs()(ep)
        ep = _episode(k=1)
        del ep['supports'][0]['gt_seg_map']
        with pytest.raises(KeyError, match='has no mask'):
            PackEpisodeInputs()(ep)

    def test_dataset_item(self, shapes_root):
        """A real episode through the Shapes-5i configs' test pipeline."""
        from mmengine.config import Config
        from mmseg.registry import DATASETS

        from ...conftest import REPO, small_shapes_cfg
        cfg = Config.fromfile(f'{REPO}/configs/_base_/datasets/shapes5i.py')
        for split, pipeline in (('val', cfg.test_pipeline), ('train', cfg.train_pipeline)):
            ds = DATASETS.build(small_shapes_cfg(shapes_root, split=split, shot=2,
                                                 num_episodes=10, pipeline=pipeline))
            item = ds[0]
            assert item['inputs']['query'].shape == (3, 96, 96) or split == 'train'
            assert item['inputs']['support'].shape[:2] == (2, 3)
            sample = item['data_samples']
            assert set(sample.gt_sem_seg.data.unique().tolist()) <= {0, 1, 255}
            assert sample.support_masks.data.eq(1).any()
            assert sample.class_id in ds.eval_classes
