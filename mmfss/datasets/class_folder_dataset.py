import os
import os.path as osp
import warnings
from typing import Dict, List, Optional, Sequence, Union

from mmseg.registry import DATASETS

from .base_episodic_dataset import BaseEpisodicDataset
from .class_splits import ClassSplitMixin
from .mask_reader import MaskValue, read_mask

__all__ = ['ClassFolderDataset']


@DATASETS.register_module()
class ClassFolderDataset(ClassSplitMixin, BaseEpisodicDataset):
    """Few-shot episodes from one folder per class (FSS-1000's layout) with a user's masks.

    Tree::

        <data_root>/<class name>/<X><img_suffix>        e.g. bolt/0001.jpg
        <data_root>/<class name>/<X><seg_map_suffix>    e.g. bolt/0001_mask.png

    Every image must have its mask (a missing mask is an error naming the image: nothing is
    skipped). The class of an image is its folder; its mask marks that class and is read by
    :func:`~mmfss.datasets.mask_reader.read_mask` (0/255, 0/1, VOC style, alpha, colour,
    JPEG, 1-/16-bit; ``mask_value`` / ``mask_threshold`` choose one reading for every mask),
    so a mask the reader finds ambiguous stops the dataset with the file's name. Classes are
    the sub-folders in sorted order (ids 1..C) or the ``classes`` given. The novel classes
    are ``novel_classes`` or fold ``fold`` of ``num_folds``
    (:func:`~mmfss.datasets.class_splits.novel_class_ids`); ``split='train'`` draws episodes
    of the base classes, ``'val'``/``'test'`` fixed episodes of the novel classes, with the
    machinery of :class:`BaseEpisodicDataset` (``shot``, ``ways``, ``num_episodes``,
    ``seed``, ``episodes_file``, ``min_class_pixels``, default 1 pixel).

    Args:
        data_root (str): The folder holding one sub-folder per class.
        classes (Sequence[str], optional): The class folders to use, in id order; default
            every sub-folder, sorted.
        img_suffix (str): Suffix of the images. Defaults to ``'.jpg'``.
        seg_map_suffix (str): Suffix of the masks. Defaults to ``'_mask.png'``
            (``tools/infer.py``'s support folders); FSS-1000's own tree uses ``'.png'``.
        mask_value (int | tuple, optional): The object's value or colour in every mask.
        mask_threshold (float, optional): Grey levels ``>=`` it are the object.
        novel_classes (list[str | int], optional): The novel classes; None: a fold.
        fold (int): The fold, when ``novel_classes`` is None.
        num_folds (int): Number of folds over the class list.
        fold_rule (str): ``'contiguous'`` or ``'interleaved'``.
        split (str): ``'train'``, ``'val'`` or ``'test'``.
        **kwargs: See :class:`BaseEpisodicDataset`.
    """

    splits = ('train', 'val', 'test')
    has_base_class_view = False

    def __init__(self,
                 data_root: str,
                 classes: Optional[Sequence[str]] = None,
                 img_suffix: str = '.jpg',
                 seg_map_suffix: str = '_mask.png',
                 mask_value: MaskValue = None,
                 mask_threshold: Optional[float] = None,
                 novel_classes: Optional[Sequence[Union[str, int]]] = None,
                 fold: int = 0,
                 num_folds: int = 4,
                 fold_rule: str = 'contiguous',
                 split: str = 'train',
                 min_class_pixels: int = 1,
                 protocol: Optional[str] = None,
                 **kwargs) -> None:
        if not data_root or not osp.isdir(data_root):
            raise FileNotFoundError(f'ClassFolderDataset: data root {data_root} does not exist')
        if img_suffix == seg_map_suffix:
            raise ValueError(f'ClassFolderDataset: img_suffix and seg_map_suffix are both '
                             f'{img_suffix!r}')
        found = sorted(d for d in os.listdir(data_root) if osp.isdir(osp.join(data_root, d)))
        if classes is None:
            classes = found
        missing = [c for c in classes if c not in found]
        if missing:
            raise FileNotFoundError(f'ClassFolderDataset: class folder(s) {missing[:10]} '
                                    f'missing under {data_root}')
        if len(classes) < 2:
            raise ValueError(f'ClassFolderDataset: {data_root} needs at least 2 class folders '
                             f'(base and novel classes), found {list(classes)}')
        self.class_folders = list(classes)
        self.num_classes = len(classes)
        self.img_suffix = img_suffix
        self.seg_map_suffix = seg_map_suffix
        self.mask_reading = dict(mask_value=mask_value, threshold=mask_threshold)
        fold = self._split_classes(self.class_folders, fold, num_folds, novel_classes,
                                   fold_rule, protocol)
        kwargs.setdefault('metainfo', dict(classes=('background', ) + tuple(classes)))
        super().__init__(data_root=data_root, ann_file='', fold=fold, split=split,
                         min_class_pixels=min_class_pixels, protocol=None, **kwargs)

    def load_data_list(self) -> List[dict]:
        data_list = []
        for class_id, name in enumerate(self.class_folders, 1):
            folder = osp.join(self.data_root, name)
            files = set(os.listdir(folder))
            images = sorted(f for f in files if f.endswith(self.img_suffix)
                            and not f.endswith(self.seg_map_suffix))
            if not images:
                raise FileNotFoundError(f'ClassFolderDataset: no *{self.img_suffix} image in '
                                        f'{folder}')
            for img in images:
                stem = img[:-len(self.img_suffix)]
                mask = stem + self.seg_map_suffix
                if mask not in files:
                    raise FileNotFoundError(f'ClassFolderDataset: image {osp.join(folder, img)} '
                                            f'has no mask {mask} beside it')
                data_list.append(dict(name=f'{name}/{stem}', img_path=osp.join(folder, img),
                                      seg_map_path=osp.join(folder, mask),
                                      folder_class=class_id))
        return data_list

    def stats_key(self) -> str:
        return (f'{super().stats_key()}:{self.class_folders}:{self.mask_reading}:'
                f'{self.img_suffix}:{self.seg_map_suffix}')

    def count_classes(self, info: dict) -> Dict[int, int]:
        with warnings.catch_warnings():  # once per file here, never in the pipeline
            warnings.simplefilter('always')
            try:
                reading = read_mask(info['seg_map_path'], allow_empty=True, **self.mask_reading)
            except ValueError as err:  # in a config the options are the dataset's keys
                raise ValueError(f'{err} (in a config: the dataset\'s mask_value or '
                                 'mask_threshold)') from err
        return {info['folder_class']: int((reading.mask == 1).sum())}

    def _image_info(self, name: str, class_id: int, support: bool = False) -> dict:
        out = super()._image_info(name, class_id, support)
        out['mask_reading'] = self.mask_reading
        return out
