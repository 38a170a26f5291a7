import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS

__all__ = ['BinarizeMask']


@TRANSFORMS.register_module()
class BinarizeMask(BaseTransform):
    """Turn a class label map into the episode's binary mask.

    ``gt_seg_map == class_id`` becomes 1, ``ignore_index`` stays ``ignore_index``, every other
    value (other classes, including novel classes in training images) becomes 0.

    Required keys: ``gt_seg_map``, ``class_id``. Modified keys: ``gt_seg_map`` (uint8).

    Args:
        ignore_index (int): Label value kept as is. Defaults to 255.
    """

    def __init__(self, ignore_index: int = 255) -> None:
        self.ignore_index = ignore_index

    def transform(self, results: dict) -> dict:
        if 'gt_seg_map' not in results:
            raise KeyError('BinarizeMask needs gt_seg_map: put LoadAnnotations before it '
                           f'(image {results.get("img_path")})')
        if 'class_id' not in results:
            raise KeyError('BinarizeMask needs class_id: use it inside ApplyToEpisode')
        label = results['gt_seg_map']
        binary = (label == results['class_id']).astype(np.uint8)
        binary[label == self.ignore_index] = self.ignore_index
        results['gt_seg_map'] = binary
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(ignore_index={self.ignore_index})'
