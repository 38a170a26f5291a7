import glob
import os.path as osp
from typing import List, Optional

from mmseg.registry import DATASETS

from .base_episodic_dataset import BaseEpisodicDataset, parse_pair_list

__all__ = ['COCO20iDataset', 'COCO_CLASSES']

# The 80 COCO categories in category-id order: label value i is COCO_CLASSES[i - 1].
COCO_CLASSES = (
    'person', 'bicycle', 'car', 'motorcycle', 'airplane', 'bus', 'train', 'truck', 'boat',
    'traffic light', 'fire hydrant', 'stop sign', 'parking meter', 'bench', 'bird', 'cat',
    'dog', 'horse', 'sheep', 'cow', 'elephant', 'bear', 'zebra', 'giraffe', 'backpack',
    'umbrella', 'handbag', 'tie', 'suitcase', 'frisbee', 'skis', 'snowboard', 'sports ball',
    'kite', 'baseball bat', 'baseball glove', 'skateboard', 'surfboard', 'tennis racket',
    'bottle', 'wine glass', 'cup', 'fork', 'knife', 'spoon', 'bowl', 'banana', 'apple',
    'sandwich', 'orange', 'broccoli', 'carrot', 'hot dog', 'pizza', 'donut', 'cake', 'chair',
    'couch', 'potted plant', 'bed', 'dining table', 'toilet', 'tv', 'laptop', 'mouse',
    'remote', 'keyboard', 'cell phone', 'microwave', 'oven', 'toaster', 'sink',
    'refrigerator', 'book', 'clock', 'vase', 'scissors', 'teddy bear', 'hair drier',
    'toothbrush')
SPLIT_STYLES = ('interleaved', 'contiguous')


@DATASETS.register_module()
class COCO20iDataset(BaseEpisodicDataset):
    """COCO-20i: COCO 2014 with 4 folds of 20 novel classes.

    Expected tree under ``data_root`` (``tools/dataset_converters/coco20i.py`` writes the
    label maps)::

        train2014/COCO_train2014_*.jpg   annotations/train2014/COCO_train2014_*.png
        val2014/COCO_val2014_*.jpg       annotations/val2014/COCO_val2014_*.png

    Label maps hold 0 for background, 1..80 for the COCO categories in category-id order
    (:data:`COCO_CLASSES`) and 255 for ignored pixels. The samples are every label map of
    the split's folder, paired with the image of the same name (a missing image is an error
    naming it), or the lines of ``ann_file`` (PFENet's ``image label`` format, relative to
    ``data_root``) when given.

    Two fold conventions exist (``split_style``): ``'interleaved'`` (default; fold ``i``
    novel classes are ``i+1, i+5, ..., i+77``: PFENet's ``use_split_coco=True`` and HSNet)
    and ``'contiguous'`` (``20i+1 .. 20i+20``). A class counts in an image only if it covers
    at least ``min_class_pixels`` pixels (default 2*32*32, as PASCAL-5i). ``num_episodes``
    defaults to 1000 for evaluation.

    Args:
        data_root (str): The COCO folder described above.
        ann_file (str, optional): Pair list; defaults to listing the label folder.
        split (str): ``'train'`` (train2014) or ``'val'`` (val2014).
        split_style (str): ``'interleaved'`` or ``'contiguous'``.
        **kwargs: See :class:`BaseEpisodicDataset`.
    """

    METAINFO = dict(classes=('background', ) + COCO_CLASSES)
    num_classes = 80

    def __init__(self, data_root: str, ann_file: Optional[str] = None, split: str = 'train',
                 split_style: str = 'interleaved', **kwargs) -> None:
        if split_style not in SPLIT_STYLES:
            raise ValueError(f'split_style must be one of {SPLIT_STYLES}, got {split_style!r}')
        self.split_style = split_style
        super().__init__(data_root=data_root, ann_file=ann_file or '', split=split, **kwargs)

    def fold_classes(self, fold: int) -> List[int]:
        if self.split_style == 'interleaved':
            return list(range(fold + 1, 81, 4))
        return list(range(20 * fold + 1, 20 * fold + 21))

    def load_data_list(self) -> List[dict]:
        if self.ann_file:
            return parse_pair_list(self.ann_file, self.data_root)
        folder = f'{self.split}2014'
        label_dir = osp.join(self.data_root, 'annotations', folder)
        if not osp.isdir(label_dir):
            raise FileNotFoundError(
                f'COCO20iDataset: label folder {label_dir} does not exist; write it with '
                f'tools/dataset_converters/coco20i.py (see README, "Prepare the datasets")')
        labels = sorted(glob.glob(osp.join(label_dir, '*.png')))
        if not labels:
            raise FileNotFoundError(f'COCO20iDataset: no label maps (*.png) in {label_dir}')
        data_list = []
        for seg in labels:
            name = osp.splitext(osp.basename(seg))[0]
            data_list.append(
                dict(name=name, img_path=osp.join(self.data_root, folder, name + '.jpg'),
                     seg_map_path=seg))
        return data_list
