import os.path as osp
from typing import List, Optional

from mmseg.registry import DATASETS

from .base_episodic_dataset import BaseEpisodicDataset, parse_pair_list

__all__ = ['PASCAL5iDataset']

LIST_DIR = osp.join(osp.dirname(osp.abspath(__file__)), 'lists', 'pascal')
DEFAULT_LISTS = dict(train='voc_sbd_merge_noduplicate.txt', val='val.txt')


@DATASETS.register_module()
class PASCAL5iDataset(BaseEpisodicDataset):
    """PASCAL-5i: VOC 2012 with SBD-augmented labels, 4 folds of 5 novel classes.

    Expected tree under ``data_root``: ``JPEGImages/*.jpg`` and ``SegmentationClassAug/*.png``
    (0 background, 1..20 VOC classes, 255 ignore). The lists shipped with mmfss are PFENet's:
    ``voc_sbd_merge_noduplicate.txt`` (5953 training images, VOC train + SBD train without
    duplicates) and ``val.txt`` (the 1449 VOC 2012 val images); their paths are relative to
    ``data_root``. Fold ``i`` holds the novel classes ``5i+1 .. 5i+5``; a class counts in an
    image only if it covers at least 2*32*32 pixels (PFENet, HSNet). Evaluation uses 1000
    fixed episodes by default (HSNet, BAM, HDMNet; PFENet uses 5000).

    Args:
        data_root (str): The VOC2012 folder holding ``JPEGImages`` and
            ``SegmentationClassAug``.
        ann_file (str, optional): List file; defaults to the shipped list of ``split``.
        **kwargs: See :class:`BaseEpisodicDataset` (``fold``, ``shot``, ``split``,
            ``num_episodes``, ``seed``, ``filter_novel_images``, ``pipeline``, ...).
    """

    METAINFO = dict(classes=('background', 'aeroplane', 'bicycle', 'bird', 'boat', 'bottle',
                             'bus', 'car', 'cat', 'chair', 'cow', 'diningtable', 'dog',
                             'horse', 'motorbike', 'person', 'pottedplant', 'sheep', 'sofa',
                             'train', 'tvmonitor'))
    num_classes = 20

    def __init__(self, data_root: str, ann_file: Optional[str] = None, split: str = 'train',
                 **kwargs) -> None:
        if ann_file is None and split in DEFAULT_LISTS:
            ann_file = osp.join(LIST_DIR, DEFAULT_LISTS[split])
        super().__init__(data_root=data_root, ann_file=ann_file or '', split=split, **kwargs)

    def fold_classes(self, fold: int) -> List[int]:
        return list(range(5 * fold + 1, 5 * fold + 6))

    def load_data_list(self) -> List[dict]:
        return parse_pair_list(self.ann_file, self.data_root)
