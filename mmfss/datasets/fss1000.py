import glob
import os.path as osp
import re
from functools import lru_cache
from typing import Dict, List, Optional, Tuple, Union

from mmseg.registry import DATASETS

from .base_episodic_dataset import BaseEpisodicDataset
from .protocols import hsnet_fss_episodes
from .label_stats import read_grey_levels

__all__ = ['FSS1000Dataset', 'fss1000_split_classes']

LIST_DIR = osp.join(osp.dirname(osp.abspath(__file__)), 'lists', 'fss1000')
SPLIT_FILES = dict(train='trn.txt', val='val.txt', test='test.txt')
LABEL_THRESHOLD = 128


@lru_cache(maxsize=None)
def fss1000_split_classes() -> Dict[str, Tuple[str, ...]]:
    """The shipped FSS-1000 class splits (HSNet's lists): 520 train, 240 val, 240 test."""
    splits = {}
    for split, fname in SPLIT_FILES.items():
        with open(osp.join(LIST_DIR, fname)) as f:
            splits[split] = tuple(line.strip() for line in f if line.strip())
    return splits


def _natural_key(path: str):
    stem = osp.splitext(osp.basename(path))[0]
    return [int(t) if t.isdigit() else t for t in re.split(r'(\d+)', stem)]


@DATASETS.register_module()
class FSS1000Dataset(BaseEpisodicDataset):
    """FSS-1000: 1000 classes of 10 images, split by class into 520 / 240 / 240.

    Expected tree: ``<data_root>/<class>/<n>.jpg`` with its mask ``<n>.png`` beside it
    (binarised at >= 128 after conversion to grey levels, as HSNet reads it; see
    :class:`~mmfss.datasets.transforms.BinarizeMask`). Class ids are 1..1000 in the order of
    the shipped split lists (train, then val, then test), so a class keeps its id across
    splits. Sample names are ``<class>/<stem>``. ``split`` picks the classes: ``'train'``,
    ``'val'`` or ``'test'`` (the dataset authors' official test classes); there are no folds.

    Evaluation (``'val'``, ``'test'``) follows HSNet (``protocol='hsnet'``, the default):
    every image of the split's classes is the query of exactly one episode (2400 for the
    test split), in HSNet's order (classes by name, images by path), with supports
    ``<class>/<n>`` for ``n`` drawn by numpy from 1..10 after seeding it with 0, as HSNet's
    ``data/fss.py``. ``protocol=None`` draws the supports among the eligible images of the
    class with mmfss's sampler instead. An image whose mask has fewer than
    ``min_class_pixels`` (default 1) foreground pixels is not eligible (mmfss's sampler).

    Args:
        data_root (str): The folder holding the 1000 class folders.
        split (str): ``'train'``, ``'val'`` or ``'test'``.
        num_episodes (int, optional): None: every image once; N: N seeded episodes.
        min_class_pixels (int): Foreground pixels an image needs to be eligible.
        **kwargs: See :class:`BaseEpisodicDataset` (``shot``, ``seed``, ``pipeline``, ...).
    """

    splits = ('train', 'val', 'test')
    num_folds = 1
    num_classes = 1000
    has_base_class_view = True  # through binary_mask_class: one class per image
    benchmark = 'fss'
    default_protocol = 'hsnet'

    def __init__(self, data_root: str, split: str = 'test',
                 num_episodes: Union[int, None, str] = None,
                 min_class_pixels: int = 1, **kwargs) -> None:
        names = fss1000_split_classes()
        all_classes = names['train'] + names['val'] + names['test']
        kwargs.setdefault('metainfo', dict(classes=('background', ) + all_classes))
        self._class_ids = {name: i + 1 for i, name in enumerate(all_classes)}
        super().__init__(data_root=data_root, ann_file='', split=split,
                         num_episodes=num_episodes, min_class_pixels=min_class_pixels, **kwargs)

    def _split_ids(self, split: str) -> List[int]:
        if split not in self.splits:
            return []
        return [self._class_ids[n] for n in fss1000_split_classes()[split]]

    def fold_classes(self, fold: int) -> List[int]:
        """Classes never seen in training: the val and test classes."""
        return self._split_ids('val') + self._split_ids('test')

    @property
    def eval_classes(self) -> List[int]:
        return sorted(self._split_ids(self.split))

    def load_data_list(self) -> List[dict]:
        class_names = fss1000_split_classes()[self.split]
        missing = [c for c in class_names if not osp.isdir(osp.join(self.data_root, c))]
        if missing:
            shown = ', '.join(missing[:10]) + (' ...' if len(missing) > 10 else '')
            raise FileNotFoundError(
                f'FSS1000Dataset: {len(missing)} class folder(s) of the {self.split} split are '
                f'missing under {self.data_root}: {shown} (check the tree with '
                'tools/dataset_converters/fss1000.py)')
        data_list = []
        for class_name in class_names:
            images = sorted(glob.glob(osp.join(self.data_root, class_name, '*.jpg')),
                            key=_natural_key)
            if not images:
                raise FileNotFoundError(f'FSS1000Dataset: no *.jpg images in '
                                        f'{osp.join(self.data_root, class_name)}')
            for img in images:
                stem = osp.splitext(osp.basename(img))[0]
                data_list.append(
                    dict(name=f'{class_name}/{stem}', img_path=img,
                         seg_map_path=osp.join(self.data_root, class_name, stem + '.png'),
                         fss_class=self._class_ids[class_name]))
        return data_list

    def count_classes(self, info: dict) -> Dict[int, int]:
        path = info['seg_map_path']
        try:
            label = read_grey_levels(path)
        except (OSError, ValueError) as err:
            raise ValueError(f'mask {path}: {err}') from err
        fg = int((label >= LABEL_THRESHOLD).sum())
        return {info['fss_class']: fg} if fg else {}

    def binary_mask_class(self, info: dict) -> Tuple[int, int]:
        """The image's class (its folder) and the mask threshold (128)."""
        return info['fss_class'], LABEL_THRESHOLD

    def _image_info(self, name: str, class_id: int, support: bool = False) -> dict:
        out = super()._image_info(name, class_id, support)
        out['label_threshold'] = LABEL_THRESHOLD
        return out

    def hsnet_episodes(self) -> list:
        queries = []
        for class_name in sorted(fss1000_split_classes()[self.split]):
            class_id = self._class_ids[class_name]
            names = [i['name'] for i in self.data_list if i['fss_class'] == class_id]
            # HSNet sorts the paths as strings: 1.jpg, 10.jpg, 2.jpg, ...
            queries += [(n, class_id) for n in sorted(names, key=lambda n: n + '.jpg')]
        episodes = hsnet_fss_episodes(queries, self.shot, self.seed)
        missing = sorted({s for _, sup, _ in episodes for s in sup} - set(self._name_to_index))
        if missing:
            raise FileNotFoundError(f'FSS1000Dataset: HSNet\'s episodes use images 1..10 of each '
                                    f'class; missing under {self.data_root}: {missing[:10]}')
        if self.num_episodes is not None:
            episodes = episodes[:self.num_episodes]
        return episodes
