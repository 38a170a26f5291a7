import os.path as osp
from typing import List, Optional, Tuple

from mmseg.registry import DATASETS

from .base_episodic_dataset import BaseEpisodicDataset, parse_pair_list
from .protocols import hsnet_pair_episodes

__all__ = ['PASCAL5iDataset', 'hsnet_pascal_pairs']

LISTS = osp.join(osp.dirname(osp.abspath(__file__)), 'lists')
LIST_DIR = osp.join(LISTS, 'pascal')
DEFAULT_LISTS = dict(train='voc_sbd_merge_noduplicate.txt', val='val.txt')
HSNET_SPLITS = dict(train='trn', val='val')


def hsnet_pascal_pairs(split: str, fold: int) -> List[Tuple[str, int]]:
    """HSNet's PASCAL-5i ``(image name, 1-based class)`` pairs, in file order.

    HSNet ``data/pascal.py`` (``build_img_metadata``): ``'val'`` reads
    ``splits/pascal/val/fold<fold>.txt``; ``'train'`` reads the ``trn`` files of the other
    three folds, in fold order. Lines are ``<name>__<class>`` (class 1..20). The files are
    shipped under ``mmfss/datasets/lists/hsnet/pascal``.
    """
    if split not in HSNET_SPLITS:
        raise ValueError(f'HSNet has PASCAL splits {sorted(HSNET_SPLITS)}, got {split!r}')
    folds = [fold] if split == 'val' else [f for f in range(4) if f != fold]
    pairs = []
    for f in folds:
        path = osp.join(LISTS, 'hsnet', 'pascal', HSNET_SPLITS[split], f'fold{f}.txt')
        with open(path) as fh:
            for lineno, line in enumerate(fh, 1):
                line = line.strip()
                if not line:
                    continue
                name, sep, cls = line.rpartition('__')
                if not sep or not cls.isdigit() or not 1 <= int(cls) <= 20:
                    raise ValueError(f'{path}:{lineno}: expected "<name>__<class 1..20>", '
                                     f'got {line!r}')
                pairs.append((name, int(cls)))
    return pairs


@DATASETS.register_module()
class PASCAL5iDataset(BaseEpisodicDataset):
    """PASCAL-5i: VOC 2012 with SBD-augmented labels, 4 folds of 5 novel classes.

    Expected tree under ``data_root``: ``JPEGImages/*.jpg`` and ``SegmentationClassAug/*.png``
    (0 background, 1..20 VOC classes, 255 ignore). The lists shipped with mmfss are PFENet's:
    ``voc_sbd_merge_noduplicate.txt`` (5953 training images, VOC train + SBD train without
    duplicates) and ``val.txt`` (the 1449 VOC 2012 val images); their paths are relative to
    ``data_root``. Fold ``i`` holds the novel classes ``5i+1 .. 5i+5``; a class counts in an
    image only if it covers at least 2*32*32 pixels (PFENet, HSNet).

    Evaluation follows ``protocol`` (default ``'pfenet'``: the 5001 episodes PFENet's test
    loop draws from ``val.txt`` with seed 321; ``'bam'``: the same sampler, 1000 episodes, BAM's seeds;
    ``'hsnet'``: HSNet's split files, shipped, and its 1000 episodes; see
    :mod:`mmfss.datasets.protocols`). With ``protocol='hsnet'`` the samples are the images of
    HSNet's files (``'train'``: the ``trn`` files of the other folds, item ``i`` being pair
    ``i`` with its class, as HSNet trains), and ``ann_file`` must not be given.

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

    benchmark = 'pascal'
    default_protocol = 'pfenet'

    def __init__(self, data_root: str, ann_file: Optional[str] = None, split: str = 'train',
                 **kwargs) -> None:
        protocol = kwargs.get('protocol', 'default')
        if (self.default_protocol if protocol == 'default' else protocol) == 'hsnet':
            if ann_file is not None:
                raise ValueError("protocol='hsnet' reads HSNet's split files: do not pass "
                                 f'ann_file (got {ann_file})')
        elif ann_file is None and split in DEFAULT_LISTS:
            ann_file = osp.join(LIST_DIR, DEFAULT_LISTS[split])
        super().__init__(data_root=data_root, ann_file=ann_file or '', split=split, **kwargs)

    def fold_classes(self, fold: int) -> List[int]:
        return list(range(5 * fold + 1, 5 * fold + 6))

    def load_data_list(self) -> List[dict]:
        if self.protocol != 'hsnet':
            return parse_pair_list(self.ann_file, self.data_root)
        self.hsnet_pairs = hsnet_pascal_pairs(self.split, self.fold)
        names = list(dict.fromkeys(name for name, _ in self.hsnet_pairs))
        if self.split == 'train':
            self.train_pairs = self.hsnet_pairs
        return [dict(name=n, img_path=osp.join(self.data_root, 'JPEGImages', n + '.jpg'),
                     seg_map_path=osp.join(self.data_root, 'SegmentationClassAug', n + '.png'))
                for n in names]

    def hsnet_episodes(self) -> list:
        num = len(self.hsnet_pairs) if self.num_episodes is None else self.num_episodes
        return hsnet_pair_episodes(self.hsnet_pairs, self.shot, num, self.seed)
