import glob
import os.path as osp
from typing import Dict, List, Optional

from mmseg.registry import DATASETS

from .base_episodic_dataset import BaseEpisodicDataset, parse_pair_list
from .protocols import hsnet_class_uniform_episodes

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
    at least ``min_class_pixels`` pixels (default 2*32*32, as PASCAL-5i).

    Evaluation follows ``protocol`` (default ``'pfenet'``: 20001 episodes, seed 321, from
    the samples in order; pass PFENet's own list as ``ann_file`` to draw PFENet's exact
    episodes; ``'bam'``: 1000 episodes per BAM seed; ``'hsnet'``: HSNet's class-uniform
    sampler over its split file, which ``hsnet_split_file`` names: the text file
    ``tools/dataset_converters/hsnet_coco_splits.py`` writes from HSNet's
    ``data/splits/coco/val/fold<i>.pkl``). See :mod:`mmfss.datasets.protocols`.

    Args:
        data_root (str): The COCO folder described above.
        ann_file (str, optional): Pair list; defaults to listing the label folder.
        split (str): ``'train'`` (train2014) or ``'val'`` (val2014).
        split_style (str): ``'interleaved'`` or ``'contiguous'``.
        hsnet_split_file (str, optional): HSNet's class lists of the fold, converted to
            text (``<class id 1..80><TAB><image name>`` a line, in HSNet's order); needed by
            ``protocol='hsnet'`` only.
        **kwargs: See :class:`BaseEpisodicDataset`.
    """

    METAINFO = dict(classes=('background', ) + COCO_CLASSES)
    num_classes = 80
    benchmark = 'coco'
    default_protocol = 'pfenet'

    def __init__(self, data_root: str, ann_file: Optional[str] = None, split: str = 'train',
                 split_style: str = 'interleaved', hsnet_split_file: Optional[str] = None,
                 **kwargs) -> None:
        if split_style not in SPLIT_STYLES:
            raise ValueError(f'split_style must be one of {SPLIT_STYLES}, got {split_style!r}')
        self.split_style = split_style
        self.hsnet_split_file = hsnet_split_file
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

    def hsnet_episodes(self) -> list:
        path = self.hsnet_split_file
        if not path:
            raise ValueError("COCO20iDataset: protocol='hsnet' needs hsnet_split_file (write it "
                             'from HSNet\'s data/splits/coco/val/fold<i>.pkl with '
                             'tools/dataset_converters/hsnet_coco_splits.py)')
        if not osp.isfile(path):
            raise FileNotFoundError(f'hsnet_split_file {path} does not exist')
        pools: Dict[int, List[str]] = {}
        with open(path) as f:
            for lineno, line in enumerate(f, 1):
                fields = line.rstrip('\n').split('\t')
                if len(fields) != 2 or not fields[0].isdigit():
                    raise ValueError(f'{path}:{lineno}: expected "<class id><TAB><name>", '
                                     f'got {line!r}')
                class_id, name = int(fields[0]), fields[1]
                if name not in self._name_to_index:
                    raise ValueError(f'{path}:{lineno}: image {name!r} is not a sample of '
                                     f'{self.data_root} ({self.split}2014)')
                pools.setdefault(class_id, []).append(name)
        if sorted(pools) != self.eval_classes:
            raise ValueError(f'{path} lists classes {sorted(pools)}; fold {self.fold} '
                             f'({self.split_style}) evaluates {self.eval_classes}')
        num = 1000 if self.num_episodes is None else self.num_episodes
        return hsnet_class_uniform_episodes(pools, self.shot, num, self.seed)
