from typing import List, Sequence

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmengine.structures import PixelData
from mmseg.registry import TRANSFORMS
from mmseg.structures import SegDataSample

__all__ = ['PackEpisodeInputs', 'image_to_tensor']


def image_to_tensor(img: np.ndarray) -> torch.Tensor:
    """[H, W, C] (or [H, W]) array -> [C, H, W] tensor (the layout the models take)."""
    if img.ndim == 2:
        img = img[..., None]
    return torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))


@TRANSFORMS.register_module()
class PackEpisodeInputs(BaseTransform):
    """Pack an episode into ``dict(inputs=..., data_samples=SegDataSample)``.

    ``inputs = dict(query=Tensor[3, H, W], support=Tensor[K, 3, Hs, Ws])`` (uint8, BGR as
    loaded, normalised later by :class:`~mmfss.models.FewShotDataPreProcessor`). Supports of
    different sizes are padded to the largest one (image 0, mask ``seg_pad_val``).

    The data sample holds ``gt_sem_seg`` (the query's binary mask, [1, H, W] int64: 0
    background, 1 foreground, 255 ignore; absent when the query has no label),
    ``support_masks`` (PixelData of [K, Hs, Ws] uint8: the labels 0, 1 and 255 in a
    quarter of int64's bytes, for the copy to the GPU; the data preprocessor widens them) and the metainfo: the query's
    ``meta_keys`` plus ``class_id``, ``class_name`` (None when the dataset gives none; text
    priors need it), ``base_label`` (the class in the fold's base-class view, 0 if novel),
    ``episode_index``, ``ways`` (1, or N for N-way episodes, which add ``class_ids`` and
    ``class_names``, one per way), ``support_img_paths`` and ``support_img_shapes``.

    Args:
        meta_keys (Sequence[str]): Query keys copied into the metainfo when present.
        seg_pad_val (int): Value of padded support-mask pixels. Defaults to 255.
    """

    def __init__(self,
                 meta_keys: Sequence[str] = ('img_path', 'seg_map_path', 'ori_shape',
                                             'img_shape', 'pad_shape', 'scale_factor', 'flip',
                                             'flip_direction', 'reduce_zero_label',
                                             'score_shape', 'score_align_corners',
                                             'score_from_features'),
                 seg_pad_val: int = 255) -> None:
        self.meta_keys = tuple(meta_keys)
        self.seg_pad_val = seg_pad_val

    def _pack_supports(self, supports: List[dict]):
        if not supports:
            raise ValueError('an episode needs at least one support image')
        h = max(s['img'].shape[0] for s in supports)
        w = max(s['img'].shape[1] for s in supports)
        # uint8 as loaded; float32 when a transform resized in float (ProtocolTestResize)
        dtype = (torch.uint8 if all(s['img'].dtype == np.uint8 for s in supports) else
                 torch.float32)
        imgs = torch.zeros((len(supports), 3, h, w), dtype=dtype)
        masks = torch.full((len(supports), h, w), self.seg_pad_val, dtype=torch.uint8)
        for i, s in enumerate(supports):
            if 'gt_seg_map' not in s:
                raise KeyError(f'support {s.get("img_path")} has no mask (gt_seg_map): load '
                               'and binarise it in the support transforms')
            img, mask = s['img'], s['gt_seg_map']
            if img.shape[:2] != mask.shape[:2]:
                raise ValueError(f'support {s.get("img_path")}: image {img.shape[:2]} and mask '
                                 f'{mask.shape[:2]} sizes differ after the transforms')
            if mask.size and (mask.min() < 0 or mask.max() > 255):
                raise ValueError(f'support {s.get("img_path")}: mask values '
                                 f'{mask.min()}..{mask.max()} do not fit the labels 0 '
                                 '(background), 1 (object), 255 (ignore); binarise the '
                                 'mask in the support transforms (BinarizeMask)')
            tensor = image_to_tensor(img)
            imgs[i, :, :img.shape[0], :img.shape[1]] = tensor.to(dtype)
            masks[i, :img.shape[0], :img.shape[1]] = torch.from_numpy(mask.astype(np.uint8))
        return imgs, masks

    def transform(self, results: dict) -> dict:
        query = results['query']
        support_imgs, support_masks = self._pack_supports(results['supports'])
        inputs = dict(query=image_to_tensor(query['img']), support=support_imgs)
        data_sample = SegDataSample()
        if 'gt_seg_map' in query:
            data_sample.gt_sem_seg = PixelData(
                data=torch.from_numpy(query['gt_seg_map'][None].astype(np.int64)))
        data_sample.support_masks = PixelData(data=support_masks)
        meta = {k: query[k] for k in self.meta_keys if k in query}
        meta.update(
            class_id=int(results['class_id']),
            class_name=results.get('class_name'),
            base_label=int(results.get('base_label', 0)),
            ways=int(results.get('ways', 1)),
            episode_index=results.get('episode_index', -1),
            support_img_paths=[s.get('img_path') for s in results['supports']],
            support_img_shapes=[s['img'].shape[:2] for s in results['supports']])
        if results.get('query_class_names') is not None:  # the query's annotated classes
            meta['query_class_names'] = list(results['query_class_names'])
        if 'class_ids' in results:  # N-way: one class per way, supports way by way
            meta.update(class_ids=[int(c) for c in results['class_ids']],
                        class_names=list(results.get('class_names') or []))
        data_sample.set_metainfo(meta)
        return dict(inputs=inputs, data_samples=data_sample)

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(meta_keys={self.meta_keys})'
