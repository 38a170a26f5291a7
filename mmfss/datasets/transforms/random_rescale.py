from typing import Sequence

import mmcv
import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS

__all__ = ['RandomRescale']


@TRANSFORMS.register_module()
class RandomRescale(BaseTransform):
    """Rescale the image and its maps by a random factor of their own size.

    PFENet util/transform.py ``RandScale`` (also BAM's): a factor ``s`` drawn uniformly from
    ``ratio_range``, the image resized bilinearly and the segmentation maps by nearest
    neighbour to ``(round(w s), round(h s))`` (OpenCV's ``fx``/``fy`` sizes). Unlike mmcv's
    ``RandomResize``, the scale is relative to the image, not to a target size.

    Required keys: ``img``; ``seg_fields`` (optional). Modified keys: ``img``, the maps in
    ``seg_fields``, ``img_shape``. Added keys: ``scale_factor``.

    Args:
        ratio_range (Sequence[float]): ``(low, high)`` with ``0 < low <= high``.
    """

    def __init__(self, ratio_range: Sequence[float]) -> None:
        if len(ratio_range) != 2 or not 0 < ratio_range[0] <= ratio_range[1]:
            raise ValueError(f'ratio_range must be (low, high) with 0 < low <= high, got '
                             f'{ratio_range!r}')
        self.ratio_range = (float(ratio_range[0]), float(ratio_range[1]))

    def transform(self, results: dict) -> dict:
        ratio = np.random.uniform(*self.ratio_range)
        h, w = results['img'].shape[:2]
        size = (max(1, int(round(w * ratio))), max(1, int(round(h * ratio))))
        results['img'] = mmcv.imresize(results['img'], size, interpolation='bilinear')
        for key in results.get('seg_fields', []):
            results[key] = mmcv.imresize(results[key], size, interpolation='nearest')
        results['img_shape'] = results['img'].shape[:2]
        results['scale_factor'] = (size[0] / w, size[1] / h)
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(ratio_range={self.ratio_range})'
