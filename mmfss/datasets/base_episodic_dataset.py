import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import mmengine
import numpy as np
from mmengine.dataset import BaseDataset
from PIL import Image

__all__ = ['BaseEpisodicDataset', 'parse_pair_list']

Episode = Tuple[str, List[str], int]


def parse_pair_list(ann_file: str, data_root: str) -> List[dict]:
    """Parse a PFENet-style list: one ``JPEGImages/X.jpg SegmentationClassAug/X.png`` a line.

    Args:
        ann_file (str): The list file.
        data_root (str): Folder the paths in the list are relative to.

    Returns:
        list[dict]: ``name`` (image stem), ``img_path`` and ``seg_map_path`` per line.
    """
    if not osp.isfile(ann_file):
        raise FileNotFoundError(f'list file {ann_file} does not exist')
    data_list = []
    with open(ann_file) as f:
        for lineno, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 2:
                raise ValueError(f'{ann_file}:{lineno}: expected "image label", got {line!r}')
            img, seg = parts
            data_list.append(
                dict(name=osp.splitext(osp.basename(img))[0],
                     img_path=osp.join(data_root, img),
                     seg_map_path=osp.join(data_root, seg)))
    return data_list


class BaseEpisodicDataset(BaseDataset):
    """Base class of few-shot segmentation datasets: one item is one episode.

    An episode is a query image, ``shot`` support images and a class id ``c``; the pipeline
    (usually :class:`~mmfss.datasets.transforms.ApplyToEpisode` followed by
    :class:`~mmfss.datasets.transforms.PackEpisodeInputs`) receives::

        dict(query=dict(img_path=..., seg_map_path=..., ...),
             supports=[dict(img_path=..., seg_map_path=..., ...), ...],
             class_id=c, episode_index=idx)

    Subclasses implement :meth:`load_data_list` (one dict per image with ``name``,
    ``img_path``, ``seg_map_path``) and :meth:`fold_classes` (the 1-based novel classes of a
    fold). This class finds the classes present in each label map (a class counts only if it
    covers at least ``min_class_pixels`` pixels, as PFENet/HSNet do with 2*32*32), builds the
    class pools and the episodes.

    Episodes:

    * ``split='train'``: the training classes are the fold's base classes. Item ``i`` uses
      query image ``i`` of the images that hold at least one eligible base class, draws one of
      those classes and ``shot`` other images of that class from numpy's global RNG (seeded
      per worker by mmengine), so episodes are resampled every time an item is drawn (use
      ``persistent_workers=True`` with epoch-based loops and ``num_workers > 0``, as mmseg's
      configs do, otherwise workers restart with the same seed each epoch). Novel-class pixels
      become background when the label is binarised; ``filter_novel_images=True`` instead
      drops every training image that contains a novel class (BAM's choice).
    * otherwise: the evaluated classes are the fold's novel classes and ``num_episodes``
      episodes are fixed at construction from ``seed`` alone (a seeded permutation of the
      eligible (image, class) pairs, cycled, with supports drawn from the other images of
      the class), so they are the same in every run and under any number of processes.

    Attributes:
        class_pools (dict[int, list[str]]): class id -> names of the images eligible for that
            class in this split and fold, sorted.
        episodes (list[tuple[str, list[str], int]] | None): for fixed-episode splits, the
            (query name, support names, class id) of every episode; None in training.

    Args:
        fold (int): Fold index in ``range(num_folds)``.
        shot (int): Number of support images K (>= 1).
        split (str): One of ``splits``.
        num_episodes (int): Number of fixed episodes (ignored in training).
        seed (int): Seed of the fixed episodes.
        min_class_pixels (int): Pixels a class must cover to count in an image.
        filter_novel_images (bool): Drop training images holding a novel class.
        ignore_index (int): Label value ignored everywhere.
        **kwargs: Passed to :class:`mmengine.dataset.BaseDataset` (``data_root``,
            ``ann_file``, ``pipeline``, ``metainfo``, ...).
    """

    splits: Tuple[str, ...] = ('train', 'val')
    num_folds: int = 4
    num_classes: int = 0  # number of foreground classes; set by subclasses

    def __init__(self,
                 fold: int = 0,
                 shot: int = 1,
                 split: str = 'train',
                 num_episodes: int = 1000,
                 seed: int = 0,
                 min_class_pixels: int = 2 * 32 * 32,
                 filter_novel_images: bool = False,
                 ignore_index: int = 255,
                 **kwargs) -> None:
        if split not in self.splits:
            raise ValueError(f'split must be one of {self.splits}, got {split!r}')
        if not (isinstance(fold, int) and 0 <= fold < self.num_folds):
            raise ValueError(f'fold must be an int in 0..{self.num_folds - 1}, got {fold!r}')
        if not (isinstance(shot, int) and shot >= 1):
            raise ValueError(f'shot must be an int >= 1, got {shot!r}')
        if not (isinstance(num_episodes, int) and num_episodes >= 1):
            raise ValueError(f'num_episodes must be an int >= 1, got {num_episodes!r}')
        self.fold = fold
        self.shot = shot
        self.split = split
        self.num_episodes = num_episodes
        self.seed = seed
        self.min_class_pixels = min_class_pixels
        self.filter_novel_images = filter_novel_images
        self.ignore_index = ignore_index
        self.class_pools: Dict[int, List[str]] = {}
        self.episodes: Optional[List[Episode]] = None
        self._query_names: List[str] = []
        kwargs.setdefault('test_mode', split != 'train')
        # Episodes index images by name; mmengine's byte serialisation is not needed.
        kwargs.setdefault('serialize_data', False)
        super().__init__(**kwargs)

    # ------------------------------------------------------------------ classes of a fold
    def fold_classes(self, fold: int) -> List[int]:
        """1-based novel classes of ``fold``."""
        raise NotImplementedError

    @property
    def novel_classes(self) -> List[int]:
        return sorted(self.fold_classes(self.fold))

    @property
    def base_classes(self) -> List[int]:
        novel = set(self.novel_classes)
        return [c for c in range(1, self.num_classes + 1) if c not in novel]

    @property
    def eval_classes(self) -> List[int]:
        """Classes of the episodes: base classes in training, novel classes otherwise."""
        return self.base_classes if self.split == 'train' else self.novel_classes

    # ------------------------------------------------------------------ building
    def _read_label(self, path: str) -> np.ndarray:
        try:
            with Image.open(path) as img:
                return np.asarray(img)
        except (OSError, ValueError) as err:
            raise OSError(f'cannot read label map {path}: {err}') from err

    def _present_classes(self, info: dict) -> List[int]:
        """Classes covering at least ``min_class_pixels`` pixels; checks the value range."""
        label = self._read_label(info['seg_map_path'])
        if label.ndim != 2:
            raise ValueError(f'label map {info["seg_map_path"]} must be single-channel, '
                             f'got shape {label.shape}')
        values, counts = np.unique(label, return_counts=True)
        bad = [int(v) for v in values if v != self.ignore_index and v > self.num_classes]
        if bad:
            raise ValueError(f'label map {info["seg_map_path"]} holds values {bad} outside '
                             f'0..{self.num_classes} and {self.ignore_index}')
        return [int(v) for v, n in zip(values, counts)
                if 1 <= v <= self.num_classes and n >= self.min_class_pixels]

    def full_init(self) -> None:
        if self._fully_initialized:
            return
        super().full_init()
        self._build_episodes()

    def _build_episodes(self) -> None:
        self._name_to_index = {}
        for idx, info in enumerate(self.data_list):
            for key in ('img_path', 'seg_map_path'):
                if not osp.isfile(info[key]):
                    raise FileNotFoundError(f'{key} {info[key]} of sample {info["name"]} '
                                            f'(listed in {self.ann_file}) does not exist')
            self._name_to_index[info['name']] = idx
        novel = set(self.novel_classes)
        eval_classes = set(self.eval_classes)
        pools: Dict[int, List[str]] = {c: [] for c in sorted(eval_classes)}
        query_names = []
        progress = mmengine.ProgressBar(len(self.data_list)) if len(self.data_list) > 5000 else None
        for info in self.data_list:
            present = self._present_classes(info)
            info['classes'] = present
            if progress is not None:
                progress.update()
            if self.split == 'train' and self.filter_novel_images and novel & set(present):
                continue
            eligible = [c for c in present if c in eval_classes]
            for c in eligible:
                pools[c].append(info['name'])
            if eligible:
                query_names.append(info['name'])
        too_small = {c: len(v) for c, v in pools.items() if len(v) < self.shot + 1}
        if too_small:
            names = {self._class_name(c): n for c, n in too_small.items()}
            raise ValueError(f'{type(self).__name__} (split={self.split}, fold={self.fold}): '
                             f'classes with fewer than shot+1={self.shot + 1} eligible images '
                             f'(class: count): {names}')
        self.class_pools = {c: sorted(v) for c, v in pools.items()}
        self._query_names = sorted(query_names)
        self.episodes = None if self.split == 'train' else self._fixed_episodes()

    def _class_name(self, class_id: int) -> str:
        classes = self.metainfo.get('classes')
        if classes and class_id < len(classes):
            return f'{class_id} ({classes[class_id]})'
        return str(class_id)

    def _fixed_episodes(self) -> List[Episode]:
        rng = np.random.default_rng(self.seed)
        pairs = [(name, c) for c in sorted(self.class_pools) for name in self.class_pools[c]]
        episodes: List[Episode] = []
        order = np.empty(0, dtype=np.int64)
        for e in range(self.num_episodes):
            if e % len(pairs) == 0:
                order = rng.permutation(len(pairs))
            query, c = pairs[order[e % len(pairs)]]
            episodes.append((query, self._draw_supports(rng, c, query), c))
        return episodes

    def _draw_supports(self, rng, class_id: int, query: str) -> List[str]:
        candidates = [n for n in self.class_pools[class_id] if n != query]
        picks = rng.choice(len(candidates), size=self.shot, replace=False)
        return [candidates[i] for i in picks]

    # ------------------------------------------------------------------ items
    def __len__(self) -> int:
        if not self._fully_initialized:
            self.full_init()
        return len(self.episodes) if self.episodes is not None else len(self._query_names)

    def _image_info(self, name: str, class_id: int) -> dict:
        info = self.data_list[self._name_to_index[name]]
        return dict(name=name, img_path=info['img_path'], seg_map_path=info['seg_map_path'],
                    reduce_zero_label=False, seg_fields=[], class_id=class_id)

    def get_episode(self, idx: int) -> Episode:
        """(query name, support names, class id) of item ``idx``.

        Fixed for evaluation splits; drawn afresh from numpy's global RNG in training.
        """
        if self.episodes is not None:
            return self.episodes[idx]
        query = self._query_names[idx]
        info = self.data_list[self._name_to_index[query]]
        eligible = [c for c in info['classes'] if c in self.class_pools]
        class_id = int(eligible[np.random.randint(len(eligible))])
        return query, self._draw_supports(np.random, class_id, query), class_id

    def get_data_info(self, idx: int) -> dict:
        query, supports, class_id = self.get_episode(idx)
        return dict(
            query=self._image_info(query, class_id),
            supports=[self._image_info(s, class_id) for s in supports],
            class_id=class_id,
            episode_index=idx)
