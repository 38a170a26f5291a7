import copy
import os.path as osp
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
from mmseg.registry import DATASETS

from .base_episodic_dataset import BaseEpisodicDataset
from .class_splits import ClassSplitMixin
from .label_stats import read_label_map
from .transforms.binarize_mask import apply_label_lut

__all__ = ['EpisodicSegDataset', 'label_lut']


def label_lut(num_classes: int,
              fg_ids: Sequence[int],
              reduce_zero_label: bool = False,
              label_map: Optional[Dict[int, int]] = None,
              ignore_index: int = 255,
              num_values: int = 256) -> np.ndarray:
    """Stored label value -> episode class id, as mmseg's ``LoadAnnotations`` reads it.

    mmseg (1.x ``LoadAnnotations``) first applies ``reduce_zero_label`` (0 -> 255, v -> v-1)
    and then ``label_map`` (old -> new, from a ``metainfo`` class subset); the resulting mmseg
    label ``l`` in ``0..num_classes-1`` becomes episode class ``fg_ids[l]`` (0 for a
    background class), 255 stays ignore, any other value is invalid (-1).

    Args:
        num_classes (int): Number of mmseg classes.
        fg_ids (Sequence[int]): Episode class id of each mmseg class (0: background).
        reduce_zero_label (bool): The dataset's ``reduce_zero_label``.
        label_map (dict, optional): The dataset's ``label_map``.
        ignore_index (int): The ignored label (255).
        num_values (int): Size of the table (label maps are read as uint8).

    Returns:
        np.ndarray: [num_values] int64.
    """
    values = np.arange(num_values, dtype=np.int64)
    if reduce_zero_label:
        values = np.where(values == 0, 255, values - 1)
        values[values == 254] = 255
    if label_map:
        mapped = values.copy()
        for old, new in label_map.items():
            mapped[values == old] = new
        values = mapped
    lut = np.full(num_values, -1, dtype=np.int64)
    lut[values == ignore_index] = ignore_index
    fg = np.asarray(fg_ids, dtype=np.int64)
    valid = (values >= 0) & (values < num_classes)
    lut[valid] = fg[values[valid]]
    return lut


@DATASETS.register_module()
class EpisodicSegDataset(ClassSplitMixin, BaseEpisodicDataset):
    """Few-shot episodes over any mmseg segmentation dataset (ADE20K, Cityscapes, a user's
    own ``BaseSegDataset`` with a class list).

    The wrapped dataset (``dataset=dict(type='ADE20KDataset', data_root=..., data_prefix=...)``)
    is built without its pipeline and supplies the images, the label maps and the class
    list; its ``reduce_zero_label``, ``label_map`` (a ``metainfo`` class subset) and
    ``ignore_index`` are applied to the label maps exactly as mmseg's ``LoadAnnotations``
    applies them (see :func:`label_lut`). Classes named in ``background_classes`` (mmseg's
    ``'background'`` of PASCAL VOC, say) are background, never a few-shot class; the others
    become episode classes ``1..C`` in the dataset's order. The novel classes are
    ``novel_classes`` (names or ids) or fold ``fold`` of ``num_folds`` over the class list
    (:func:`~mmfss.datasets.class_splits.novel_class_ids`). Everything else is the
    benchmarks' machinery (:class:`BaseEpisodicDataset`): base-class training episodes,
    fixed-seed test episodes over the novel classes, ``episodes_file``, N-way, the
    ``min_class_pixels`` eligibility rule and the same metric. No reference protocol applies
    (``protocol=None``). A label value that is no class and not ignore is an error naming the
    file (mmseg would train on it silently).

    A train and a test dataset wrap the dataset's train and val subsets; their novel
    classes must agree (same ``novel_classes`` or ``fold``/``num_folds``).

    Args:
        dataset (dict): Config of the wrapped mmseg dataset (its ``pipeline`` is ignored).
        novel_classes (list[str | int], optional): The novel classes; None: a fold.
        fold (int): The fold, when ``novel_classes`` is None.
        num_folds (int): Number of folds over the class list.
        fold_rule (str): ``'contiguous'`` (PASCAL-5i's) or ``'interleaved'`` (COCO-20i's).
        background_classes (Sequence[str]): Class names that are background.
        split (str): ``'train'`` (base-class episodes) or ``'val'``/``'test'`` (novel).
        **kwargs: See :class:`BaseEpisodicDataset` (``shot``, ``ways``, ``num_episodes``,
            ``seed``, ``min_class_pixels``, ``pipeline``, ...).
    """

    splits = ('train', 'val', 'test')
    has_base_class_view = False

    def __init__(self,
                 dataset: dict,
                 novel_classes: Optional[Sequence[Union[str, int]]] = None,
                 fold: int = 0,
                 num_folds: int = 4,
                 fold_rule: str = 'contiguous',
                 background_classes: Sequence[str] = ('background', ),
                 split: str = 'train',
                 protocol: Optional[str] = None,
                 **kwargs) -> None:
        if not isinstance(dataset, dict) or 'type' not in dataset:
            raise ValueError(f'EpisodicSegDataset: dataset must be a dataset config with a '
                             f'type, got {dataset!r}')
        inner_cfg = copy.deepcopy(dict(dataset))
        inner_cfg.update(pipeline=[], lazy_init=True)
        root = inner_cfg.get('data_root')
        if isinstance(root, str) and root and not osp.isdir(root):
            raise FileNotFoundError(f'EpisodicSegDataset: data root {root} of the wrapped '
                                    f'{inner_cfg["type"]} does not exist')
        self.inner = DATASETS.build(inner_cfg)
        classes = list(self.inner.metainfo.get('classes') or ())
        if not classes:
            raise ValueError(f'EpisodicSegDataset: the wrapped {inner_cfg["type"]} has no '
                             'class list (metainfo classes)')
        background = set(background_classes)
        names = [c for c in classes if c not in background]
        if not names:
            raise ValueError('EpisodicSegDataset: every class is a background class')
        fg_ids, next_id = [], 1
        for c in classes:
            fg_ids.append(0 if c in background else next_id)
            next_id += c not in background
        self.num_classes = len(names)
        fold = self._split_classes(names, fold, num_folds, novel_classes, fold_rule, protocol)
        ignore = int(getattr(self.inner, 'ignore_index', 255))
        self.lut = label_lut(len(classes), fg_ids, bool(self.inner.reduce_zero_label),
                             getattr(self.inner, 'label_map', None), ignore)
        kwargs.setdefault('metainfo', dict(classes=('background', ) + tuple(names)))
        kwargs.setdefault('ignore_index', ignore)
        super().__init__(fold=fold, split=split, protocol=None, data_root='', ann_file='',
                         **kwargs)

    def load_data_list(self) -> List[dict]:
        samples = self.inner.load_data_list()
        if not samples:
            raise FileNotFoundError(
                f'EpisodicSegDataset: the wrapped {type(self.inner).__name__} lists no image '
                f'(data_root {self.inner.data_root}, data_prefix {self.inner.data_prefix}, '
                f'ann_file {self.inner.ann_file or None})')
        img_dir = self.inner.data_prefix.get('img_path', '') or ''
        data_list = []
        for info in samples:
            rel = (osp.relpath(info['img_path'], img_dir) if img_dir else
                   osp.basename(info['img_path']))
            data_list.append(dict(name=osp.splitext(rel)[0], img_path=info['img_path'],
                                  seg_map_path=info['seg_map_path']))
        return data_list

    def stats_key(self) -> str:
        return f'{super().stats_key()}:{self.lut.tobytes().hex()}'

    def count_classes(self, info: dict) -> Dict[int, int]:
        path = info['seg_map_path']
        label = apply_label_lut(read_label_map(path), self.lut, path)
        values, counts = np.unique(label, return_counts=True)
        return {int(v): int(n) for v, n in zip(values, counts) if 1 <= v <= self.num_classes}

    def _image_info(self, name: str, class_id: int, support: bool = False) -> dict:
        out = super()._image_info(name, class_id, support)
        out['label_lut'] = self.lut
        return out
