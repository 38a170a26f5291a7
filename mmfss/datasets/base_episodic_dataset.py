import logging
import os.path as osp
import warnings
from typing import Dict, List, Optional, Tuple, Union

import numpy as np
from mmengine.dataset import BaseDataset
from mmengine.logging import print_log

from .label_stats import default_cache_dir, read_label_map, scan_label_stats
from .protocols import PROTOCOLS, get_protocol, pfenet_episodes, read_episodes_file

__all__ = ['BaseEpisodicDataset', 'UnreadableEpisodeError', 'parse_pair_list']


class UnreadableEpisodeError(ValueError):
    """A file of an episode cannot be read; the message names the dataset, the episode
    (index, class) and the file."""

# (query name, support names, class id); N-way: (query, W*K supports way by way, W ids)
Episode = Tuple[str, List[str], Union[int, Tuple[int, ...]]]


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
             supports=[dict(img_path=..., seg_map_path=..., mask_annotation=..., ...), ...],
             class_id=c, class_name=name, episode_index=idx)

    Subclasses implement :meth:`load_data_list` (one dict per image with ``name``,
    ``img_path``, ``seg_map_path``) and :meth:`fold_classes` (the 1-based novel classes of a
    fold), and may override :meth:`count_classes`. When the dataset is built, every image and
    label file is checked (a missing or unreadable file is named in the error, nothing is
    skipped) and the pixels of each class are counted, once: the counts are cached (see
    :func:`~mmfss.datasets.label_stats.scan_label_stats`). A class counts for an image only if
    it covers at least ``min_class_pixels`` pixels (PFENet/HSNet: 2*32*32).

    Episodes:

    * ``split='train'``: the training classes are the fold's base classes. Item ``i`` uses
      query image ``i`` of the images that hold at least one eligible base class, draws one of
      those classes and ``shot`` other images of that class from numpy's global RNG (seeded
      per worker by mmengine), so episodes are resampled every time an item is drawn (use
      ``persistent_workers=True`` with epoch-based loops and ``num_workers > 0``, as mmseg's
      configs do, otherwise workers restart with the same seed each epoch). Novel-class pixels
      become background when the label is binarised; ``filter_novel_images=True`` instead
      drops every training image that contains a novel class, i.e. holds at least one of its
      pixels (BAM's choice; default off, as PFENet).
    * otherwise: the evaluated classes are the fold's novel classes and the episodes are fixed
      at construction from ``seed`` alone, so they are the same in every run and under any
      number of processes. With ``num_episodes=N``: a seeded permutation of the eligible
      (image, class) pairs, cycled until N episodes; with ``num_episodes=None``: every
      eligible pair once, in class then name order (FSS-1000's protocol). The supports of each
      episode are drawn by the same generator from the other images of the class.

    Supports are always distinct from the query and from each other.

    Reference protocols (``protocol=``, evaluation splits; see :mod:`mmfss.datasets.protocols`
    and the README's protocol table): ``'pfenet'`` and ``'bam'`` draw exactly the episodes of
    PFENet's and BAM's ``test.py`` from the list in list order (the query class among all
    novel classes present in the query, at any size); ``'hsnet'`` those of HSNet's
    ``test.py`` from HSNet's split files (subclasses implement :meth:`hsnet_episodes`). With
    a protocol, ``num_episodes`` and ``seed`` default to the protocol's. ``protocol=None``
    is mmfss's own sampler described above: no reference codebase evaluates N-way episodes
    or Shapes-5i, which use it. ``episodes_file=`` evaluates exactly the episodes of a file
    (``tools/test.py --dump-episodes`` writes one; any codebase's episode list can be
    written in its format, see :func:`~mmfss.datasets.protocols.read_episodes_file`).

    N-way K-shot (``ways=N > 1``, evaluation splits only; models train on one-way episodes
    as PFENet/HSNet do): each fixed episode starts from the (query, class) pair the one-way
    protocol would use, so the query holds at least one of the episode's classes; N - 1
    other evaluated classes are drawn without replacement, the N classes are put in a random
    order, and K supports are drawn for each class (excluding the query). The pipeline then
    gets ``class_ids``/``class_names`` (one per way, in order), the supports way by way,
    ``ways=N`` and ``class_id=-1``; the query's label becomes 0..N (label n = the n-th way's
    class, see :class:`~mmfss.datasets.transforms.BinarizeMask`), and the metric scores each
    way's class (see :class:`~mmfss.evaluation.FewShotIoUMetric`).

    Attributes:
        class_pools (dict[int, list[str]]): class id -> names of the images eligible for that
            class in this split and fold, sorted.
        episodes (list[tuple] | None): for fixed-episode splits, the (query name, support
            names, class id) of every episode (N-way: the W*K supports way by way and a
            tuple of W class ids); None in training.
        excluded_classes (dict[int, int]): classes left out by ``small_classes='exclude'``,
            with their number of eligible images.

    Args:
        fold (int): Fold index in ``range(num_folds)``.
        shot (int): Number of support images K (>= 1) of each class.
        ways (int): Number of classes N of an episode (>= 1; N > 1 for evaluation splits).
        split (str): One of ``splits``.
        num_episodes (int, optional): Number of fixed episodes (ignored in training); None
            for every eligible (image, class) pair once (a protocol: every listed query
            once); ``'default'``: the protocol's number (1000 without one).
        seed (int, optional): Seed of the fixed episodes; None: the protocol's first seed
            (0 without one).
        protocol (str, optional): ``'pfenet'``, ``'bam'``, ``'hsnet'`` or None (mmfss's
            sampler); the default is the dataset's ``default_protocol``. Evaluation
            episodes carry it, with ``test_size``, to
            :class:`~mmfss.datasets.transforms.ProtocolTestResize`, which applies the
            protocol's test geometry.
        test_size (int, optional): Input size of the protocol's geometry; None: the
            protocol's for this benchmark (PFENet/BAM 473, COCO 641; HSNet 400).
        episode_workers (int | str): ``'pfenet'`` / ``'bam'``: the DataLoader workers in which
            the reference drew its test episodes (``'default'``: its config's, PFENet 8 for
            PASCAL and 16 for COCO, BAM 8: the published runs); 0: one stream (the
            references run with ``workers: 0``). Unused by other samplers. See
            :func:`~mmfss.datasets.protocols.pfenet_episodes`.
        episodes_file (str, optional): Evaluate the episodes of this file instead of
            sampling (names as in :attr:`episodes`, class ids 1-based).
        min_class_pixels (int): Pixels a class must cover to count in an image.
        filter_novel_images (bool): Drop training images holding a novel class.
        support_annotation (str): ``'mask'`` (default) or ``'bbox'``: each support mask is
            replaced by the filled bounding boxes of its connected regions (CMNet Table VIII;
            see :class:`~mmfss.datasets.transforms.BinarizeMask`).
        small_classes (str): What to do with a class that has fewer than ``shot + 1``
            eligible images: ``'error'`` (default; the error names every such class) or
            ``'exclude'`` (leave it out of the episodes with a warning naming it; this changes
            the evaluated classes, so it is off by default).
        ignore_index (int): Label value ignored everywhere.
        stats_cache_dir (str, optional): Root of the cache of per-image class counts;
            defaults to ``$MMFSS_CACHE_DIR`` or ``~/.cache/mmfss``; ``''`` disables it.
        unreadable (str): What an image or label that cannot be read does. ``'error'``
            (default): building the dataset stops at a missing file or unreadable header
            or label, and an image that fails while an episode is loaded stops the run with
            :class:`UnreadableEpisodeError` naming the dataset, the episode (index, class),
            the role (query, support i) and the file. ``'skip'``: such files are left out
            of every pool when the dataset is built (evaluation splits decode every image
            then, so damaged files are found before any episode is drawn; the number of
            episodes scored is unchanged), each named in the log and counted in
            ``metainfo['skipped_files']``, which the metric reports in the test summary;
            in training an episode whose image fails later is drawn again (mmengine's
            refetch) and counted in the log. Never a silent substitute.
        **kwargs: Passed to :class:`mmengine.dataset.BaseDataset` (``data_root``,
            ``ann_file``, ``pipeline``, ``metainfo``, ...).
    """

    splits: Tuple[str, ...] = ('train', 'val')
    num_folds: int = 4
    num_classes: int = 0  # number of foreground classes; set by subclasses
    support_annotations: Tuple[str, ...] = ('mask', 'bbox')
    small_class_modes: Tuple[str, ...] = ('error', 'exclude')
    has_base_class_view: bool = True  # label maps hold class ids (see BaseClassDataset)
    benchmark: str = ''  # 'pascal', 'coco' or 'fss': the protocols' per-benchmark defaults
    default_protocol: Optional[str] = None

    def binary_mask_class(self, info: dict) -> Optional[Tuple[int, int]]:
        """For datasets whose mask files are binary, one class per image (FSS-1000): the
        image's ``(class id, foreground threshold)``; None for class label maps."""
        return None

    def __init__(self,
                 fold: int = 0,
                 shot: int = 1,
                 ways: int = 1,
                 split: str = 'train',
                 num_episodes: Union[int, None, str] = 'default',
                 seed: Optional[int] = None,
                 min_class_pixels: int = 2 * 32 * 32,
                 filter_novel_images: bool = False,
                 support_annotation: str = 'mask',
                 small_classes: str = 'error',
                 ignore_index: int = 255,
                 stats_cache_dir: Optional[str] = None,
                 protocol: Optional[str] = 'default',
                 test_size: Optional[int] = None,
                 episodes_file: Optional[str] = None,
                 episode_workers: Union[int, str] = 'default',
                 unreadable: str = 'error',
                 **kwargs) -> None:
        if unreadable not in ('error', 'skip'):
            raise ValueError(f"unreadable must be 'error' or 'skip', got {unreadable!r}")
        self.unreadable = unreadable
        self.skipped_files: List[str] = []
        self.skipped_episodes = 0
        if split not in self.splits:
            raise ValueError(f'split must be one of {self.splits}, got {split!r}')
        if not (isinstance(fold, int) and 0 <= fold < self.num_folds):
            raise ValueError(f'fold must be an int in 0..{self.num_folds - 1}, got {fold!r}')
        if not (isinstance(shot, int) and shot >= 1):
            raise ValueError(f'shot must be an int >= 1, got {shot!r}')
        if not (isinstance(ways, int) and ways >= 1):
            raise ValueError(f'ways must be an int >= 1, got {ways!r}')
        if ways > 1 and split == 'train':
            raise ValueError(f'ways={ways}: N-way episodes are for evaluation; training uses '
                             'one-way episodes (ways=1)')
        protocol, test_size = self.protocol_geometry(protocol, test_size)
        if protocol is not None:
            spec = get_protocol(protocol)
            if ways > 1:
                raise ValueError(f'ways={ways}: the reference protocols ({PROTOCOLS}) are '
                                 'one-way; pass protocol=None for N-way episodes')
            if num_episodes == 'default':
                num_episodes = spec.num_episodes.get(self.benchmark)
            if seed is None:
                seed = spec.seeds[0]
            if episode_workers == 'default':
                episode_workers = spec.workers.get(self.benchmark, 0)
        if episode_workers == 'default':
            episode_workers = 0
        if not (isinstance(episode_workers, int) and episode_workers >= 0):
            raise ValueError(f'episode_workers must be an int >= 0, got {episode_workers!r}')
        if num_episodes == 'default':
            num_episodes = 1000
        if seed is None:
            seed = 0
        if num_episodes is not None and not (isinstance(num_episodes, int)
                                             and num_episodes >= 1):
            raise ValueError(f'num_episodes must be None or an int >= 1, got {num_episodes!r}')
        if episodes_file is not None and not osp.isfile(episodes_file):
            raise FileNotFoundError(f'episodes_file {episodes_file} does not exist')
        if support_annotation not in self.support_annotations:
            raise ValueError(f'support_annotation must be one of {self.support_annotations}, '
                             f'got {support_annotation!r}')
        if small_classes not in self.small_class_modes:
            raise ValueError(f'small_classes must be one of {self.small_class_modes}, '
                             f'got {small_classes!r}')
        if not (isinstance(min_class_pixels, int) and min_class_pixels >= 1):
            raise ValueError(f'min_class_pixels must be an int >= 1, got {min_class_pixels!r}')
        self.fold = fold
        self.shot = shot
        self.ways = ways
        self.split = split
        self.num_episodes = num_episodes
        self.seed = seed
        self.protocol = protocol
        self.test_size = test_size
        self.episodes_file = episodes_file
        self.episode_workers = episode_workers
        self.min_class_pixels = min_class_pixels
        self.filter_novel_images = filter_novel_images
        self.support_annotation = support_annotation
        self.small_classes = small_classes
        self.ignore_index = ignore_index
        self.stats_cache_dir = (default_cache_dir() if stats_cache_dir is None else
                                stats_cache_dir or None)
        self.class_pools: Dict[int, List[str]] = {}
        self.episodes: Optional[List[Episode]] = None
        self.excluded_classes: Dict[int, int] = {}
        self._base_labels: Optional[Dict[int, int]] = None
        self._query_names: List[str] = []
        # training items as fixed (image, class) pairs (HSNet's PASCAL trn files)
        self.train_pairs: Optional[List[Tuple[str, int]]] = None
        self._pair_pools: Dict[int, List[str]] = {}
        kwargs.setdefault('test_mode', split != 'train')
        # Episodes index images by name; mmengine's byte serialisation is not needed.
        kwargs.setdefault('serialize_data', False)
        super().__init__(**kwargs)

    @classmethod
    def protocol_geometry(cls, protocol: Optional[str] = 'default',
                          test_size: Optional[int] = None) -> Tuple[Optional[str], Optional[int]]:
        """The protocol (``'default'``: :attr:`default_protocol`) and its test input size
        (None: the protocol's for :attr:`benchmark`) of a dataset of this class."""
        if protocol == 'default':
            protocol = cls.default_protocol
        if protocol is None:
            return None, test_size
        spec = get_protocol(protocol)  # raises for an unknown name
        if test_size is None:
            test_size = spec.test_size.get(cls.benchmark)
        if not (isinstance(test_size, int) and test_size >= 8):
            raise ValueError(f'{cls.__name__}: test_size must be an int >= 8, got '
                             f'{test_size!r}')
        return protocol, test_size

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
    def count_classes(self, info: dict) -> Dict[int, int]:
        """Read the label map of one sample, check it and count the pixels of each class.

        Args:
            info (dict): A sample of :meth:`load_data_list`.

        Returns:
            dict[int, int]: ``{class id: pixels}`` for the classes 1..num_classes present.
        """
        path = info['seg_map_path']
        label = read_label_map(path)
        if label.ndim != 2:
            raise ValueError(f'label map {path} must be single-channel, got shape {label.shape}')
        values, counts = np.unique(label, return_counts=True)
        bad = [int(v) for v in values if v != self.ignore_index and v > self.num_classes]
        if bad:
            raise ValueError(f'label map {path} holds values {bad} outside '
                             f'0..{self.num_classes} and {self.ignore_index}')
        return {int(v): int(n) for v, n in zip(values, counts) if 1 <= v <= self.num_classes}

    def stats_key(self) -> str:
        """What :meth:`count_classes` depends on besides the files (the cache key)."""
        return f'{type(self).__name__}:{self.num_classes}:{self.ignore_index}'

    def label_stats(self, data_list: List[dict]) -> List[Dict[int, int]]:
        """Check the files of ``data_list`` and count the class pixels of each (cached).

        Raises:
            OSError | ValueError: naming the file (and the list it comes from).
        """
        key = self.stats_key()
        try:
            return scan_label_stats(data_list, self.count_classes, key, self.stats_cache_dir,
                                    skip_unreadable=self.unreadable == 'skip',
                                    decode_images=(self.unreadable == 'skip'
                                                   and self.split != 'train'))
        except (OSError, ValueError) as err:
            where = f' (listed in {self.ann_file})' if self.ann_file else ''
            raise type(err)(f'{type(self).__name__}: {err}{where}') from err

    def full_init(self) -> None:
        if self._fully_initialized:
            return
        super().full_init()
        self._build_episodes()

    def _build_episodes(self) -> None:
        self._name_to_index = {}
        for idx, info in enumerate(self.data_list):
            if info['name'] in self._name_to_index:
                raise ValueError(f'sample {info["name"]} is listed twice in {self.ann_file}')
            self._name_to_index[info['name']] = idx
        stats = self.label_stats(self.data_list)
        if any(isinstance(s, str) for s in stats):
            self._drop_unreadable(stats)
            stats = [s for s in stats if not isinstance(s, str)]
        novel = set(self.novel_classes)
        eval_classes = set(self.eval_classes)
        pools: Dict[int, List[str]] = {c: [] for c in sorted(eval_classes)}
        for info, counts in zip(self.data_list, stats):
            info['class_pixels'] = counts
            info['classes'] = sorted(c for c, n in counts.items() if n >= self.min_class_pixels)
            if self.split == 'train' and self.filter_novel_images and novel & set(counts):
                continue
            for c in info['classes']:
                if c in eval_classes:
                    pools[c].append(info['name'])
        # the reference protocols and episode files check their own pools
        own_sampler = ((self.split == 'train' and not self.train_pairs)
                       or (self.split != 'train' and self.protocol is None
                           and self.episodes_file is None))
        too_small = {c: len(v) for c, v in pools.items() if len(v) < self.shot + 1}
        if too_small and own_sampler:
            names = {self._class_name(c): n for c, n in too_small.items()}
            msg = (f'{type(self).__name__} (split={self.split}, fold={self.fold}): classes '
                   f'with fewer than shot+1={self.shot + 1} eligible images (class: count): '
                   f'{names}')
            if self.small_classes == 'error':
                raise ValueError(msg + "; pass small_classes='exclude' to leave them out")
            warnings.warn(msg + ': excluded from the episodes')
            for c in too_small:
                del pools[c]
            self.excluded_classes = too_small
        if not pools and own_sampler:
            raise ValueError(f'{type(self).__name__} (split={self.split}, fold={self.fold}): '
                             'no class has enough eligible images')
        self.class_pools = {c: sorted(v) for c, v in pools.items()}
        if self.ways > len(self.class_pools):
            raise ValueError(f'{type(self).__name__} (split={self.split}, fold={self.fold}): '
                             f'ways={self.ways} but only {len(self.class_pools)} classes '
                             f'can be evaluated: {sorted(self.class_pools)}')
        self._query_names = sorted({n for v in self.class_pools.values() for n in v})
        self._metainfo['eval_classes'] = sorted(eval_classes)
        if self.split == 'train':
            self.episodes = None
        elif self.episodes_file is not None:
            self.episodes = self._read_episodes(self.episodes_file)
        elif self.protocol in ('pfenet', 'bam'):
            self.episodes = self._pfenet_episodes(stats)
        elif self.protocol == 'hsnet':
            self.episodes = self.hsnet_episodes()
        else:
            self.episodes = self._fixed_episodes()

    def _drop_unreadable(self, stats: list) -> None:
        """``unreadable='skip'``: leave out the samples whose files cannot be read, each
        named in the log, all counted in ``metainfo['skipped_files']``."""
        keep = [info for info, s in zip(self.data_list, stats) if not isinstance(s, str)]
        self.skipped_files = [s for s in stats if isinstance(s, str)]
        for reason in self.skipped_files:
            print_log(f'{type(self).__name__} ({self.split}, fold {self.fold}): skipped, '
                      f'cannot be read: {reason}', logger='current', level=logging.WARNING)
        print_log(f'{type(self).__name__} ({self.split}, fold {self.fold}): '
                  f'{len(self.skipped_files)} of {len(self.data_list)} samples left out '
                  "(unreadable='skip')", logger='current', level=logging.WARNING)
        self.data_list = keep
        self._name_to_index = {info['name']: i for i, info in enumerate(keep)}
        self._metainfo['skipped_files'] = list(self.skipped_files)

    def prepare_data(self, idx: int):
        """The episode ``idx`` through the pipeline; a file that fails to load is named
        with the episode (see ``unreadable``)."""
        data_info = self.get_data_info(idx)
        try:
            return self.pipeline(data_info)
        except Exception as err:  # noqa: BLE001  find out whether a file is to blame
            message = self._unreadable_file(idx, data_info)
            if message is None:
                raise
            if self.unreadable == 'skip' and not self.test_mode:
                self.skipped_episodes += 1
                print_log(f'{message}: episode drawn again (unreadable=\'skip\'; '
                          f'{self.skipped_episodes} so far)', logger='current',
                          level=logging.WARNING)
                return None  # mmengine's BaseDataset draws another training episode
            raise UnreadableEpisodeError(message) from err

    def _unreadable_file(self, idx: int, data_info: dict) -> Optional[str]:
        """The message naming the episode and its first unreadable file, or None."""
        from .image_reader import probe_image
        if 'query' not in data_info:
            return None
        images = [('query', data_info['query'])] + [
            (f'support {i + 1}', s) for i, s in enumerate(data_info.get('supports', []))]
        for role, info in images:
            for key in ('img_path', 'seg_map_path'):
                path = info.get(key)
                reason = probe_image(path) if path else None
                if reason is not None:
                    cls = data_info.get('class_ids') or data_info.get('class_id')
                    name = data_info.get('class_names') or data_info.get('class_name')
                    return (f'{type(self).__name__} ({self.split}, fold {self.fold}) episode '
                            f'{idx} (class {cls} {name}): {role} {key} {reason}')
        return None

    def _pfenet_episodes(self, stats: List[Dict[int, int]]) -> List[Episode]:
        """PFENet's queries and list-order pools from the counts, then its sampler."""
        novel = set(self.eval_classes)
        queries, pools = [], {c: [] for c in sorted(novel)}
        for info, counts in zip(self.data_list, stats):
            large = [c for c in sorted(counts) if c in novel and counts[c] >= self.min_class_pixels]
            for c in large:
                pools[c].append(info['name'])
            if large:
                queries.append((info['name'], [c for c in sorted(counts) if c in novel]))
        num = len(queries) if self.num_episodes is None else self.num_episodes
        try:
            return pfenet_episodes(queries, pools, self.shot, num, self.seed,
                                   get_protocol(self.protocol).max_passes,
                                   workers=self.episode_workers)
        except ValueError as err:
            raise ValueError(f'{type(self).__name__} (protocol={self.protocol!r}, fold='
                             f'{self.fold}, list {self.ann_file}): {err}') from err

    def hsnet_episodes(self) -> List[Episode]:
        """HSNet's episodes of this benchmark (see :mod:`mmfss.datasets.protocols`)."""
        raise NotImplementedError(f"{type(self).__name__} has no protocol='hsnet'")

    def _read_episodes(self, path: str) -> List[Episode]:
        episodes = read_episodes_file(path)
        known = set(self.eval_classes)
        for i, (query, supports, class_id) in enumerate(episodes, 1):
            ids = class_id if isinstance(class_id, tuple) else (class_id, )
            where = f'{path}: episode {i}'
            unknown = [n for n in [query, *supports] if n not in self._name_to_index]
            if unknown:
                raise ValueError(f'{where}: image {unknown[0]!r} is not a sample of this dataset '
                                 f'(data_root {self.data_root}, list {self.ann_file})')
            if len(ids) != self.ways or len(supports) != self.shot * self.ways:
                raise ValueError(f'{where} has {len(ids)} class(es) and {len(supports)} '
                                 f'supports; the dataset has ways={self.ways}, '
                                 f'shot={self.shot}')
            bad = [c for c in ids if c not in known]
            if bad:
                raise ValueError(f'{where}: class {bad[0]} is not evaluated in split '
                                 f'{self.split!r}, fold {self.fold}: {sorted(known)}')
        return episodes

    def _class_name(self, class_id: int) -> str:
        classes = self.metainfo.get('classes')
        if classes and class_id < len(classes):
            return f'{class_id} ({classes[class_id]})'
        return str(class_id)

    def _fixed_episodes(self) -> List[Episode]:
        rng = np.random.default_rng(self.seed)
        pairs = [(name, c) for c in sorted(self.class_pools) for name in self.class_pools[c]]
        if self.num_episodes is None:
            return [self._make_episode(rng, query, c) for query, c in pairs]
        episodes: List[Episode] = []
        order = np.empty(0, dtype=np.int64)
        for e in range(self.num_episodes):
            if e % len(pairs) == 0:
                order = rng.permutation(len(pairs))
            query, c = pairs[order[e % len(pairs)]]
            episodes.append(self._make_episode(rng, query, c))
        return episodes

    def _make_episode(self, rng, query: str, class_id: int) -> Episode:
        if self.ways == 1:
            return query, self._draw_supports(rng, class_id, query), class_id
        others = [c for c in sorted(self.class_pools) if c != class_id]
        picked = [others[i] for i in rng.choice(len(others), self.ways - 1, replace=False)]
        class_ids = [[class_id, *picked][i] for i in rng.permutation(self.ways)]
        supports = [s for c in class_ids for s in self._draw_supports(rng, c, query)]
        return query, supports, tuple(int(c) for c in class_ids)

    def _draw_supports(self, rng, class_id: int, query: str) -> List[str]:
        candidates = [n for n in self.class_pools[class_id] if n != query]
        picks = rng.choice(len(candidates), size=self.shot, replace=False)
        return [candidates[i] for i in picks]

    # ------------------------------------------------------------------ items
    def __len__(self) -> int:
        if not self._fully_initialized:
            self.full_init()
        if self.episodes is not None:
            return len(self.episodes)
        return len(self.train_pairs) if self.train_pairs else len(self._query_names)

    def _image_info(self, name: str, class_id: int, support: bool = False) -> dict:
        """What the pipeline receives for one image of an episode."""
        info = self.data_list[self._name_to_index[name]]
        out = dict(name=name, img_path=info['img_path'], seg_map_path=info['seg_map_path'],
                   reduce_zero_label=False, seg_fields=[], class_id=class_id)
        if support:
            out['mask_annotation'] = self.support_annotation
        if self.protocol and self.benchmark in get_protocol(self.protocol).ignore_as_background:
            out['ignore_as_background'] = True
        return out

    def get_episode(self, idx: int) -> Episode:
        """(query name, support names, class id) of item ``idx``.

        Fixed for evaluation splits; drawn afresh from numpy's global RNG in training.
        """
        if self.episodes is not None:
            return self.episodes[idx]
        if self.train_pairs:
            query, class_id = self.train_pairs[idx]
            pool = self._pair_pools.setdefault(
                class_id, sorted({n for n, c in self.train_pairs if c == class_id}))
            others = [n for n in pool if n != query]
            if len(others) < self.shot:
                raise ValueError(f'class {class_id} has {len(others)} listed images besides '
                                 f'{query}: too few for {self.shot} supports')
            picks = np.random.choice(len(others), size=self.shot, replace=False)
            return query, [others[i] for i in picks], class_id
        query = self._query_names[idx]
        info = self.data_list[self._name_to_index[query]]
        eligible = [c for c in info['classes'] if c in self.class_pools]
        class_id = int(eligible[np.random.randint(len(eligible))])
        return query, self._draw_supports(np.random, class_id, query), class_id

    def get_data_info(self, idx: int) -> dict:
        query, supports, class_id = self.get_episode(idx)
        classes = self.metainfo.get('classes') or ()
        if isinstance(class_id, tuple):
            return self._multiway_info(idx, query, supports, class_id)
        info = dict(
            query=self._image_info(query, class_id),
            supports=[self._image_info(s, class_id, support=True) for s in supports],
            class_id=class_id,
            class_name=classes[class_id] if class_id < len(classes) else None,
            base_label=self.base_label(class_id),
            episode_index=idx)
        query_classes = self.data_list[self._name_to_index[query]].get('classes')
        if query_classes is not None:  # read only by a prior that reads the query's labels
            info['query_class_names'] = [classes[c] for c in query_classes if c < len(classes)]
        if self.protocol is not None:  # read by ProtocolTestResize
            info.update(protocol=self.protocol, test_size=self.test_size)
        return info

    def base_label(self, class_id: int) -> int:
        """Label of ``class_id`` in the fold's base-class view (1..n_base), 0 if novel.

        The base learner of an ensemble (BAM) predicts these labels; in training episodes
        the episode's own class must be told apart from the other base classes.
        """
        if self._base_labels is None:
            self._base_labels = {c: i + 1 for i, c in enumerate(self.base_classes)}
        return self._base_labels.get(class_id, 0)

    def _multiway_info(self, idx: int, query: str, supports: List[str],
                       class_ids: Tuple[int, ...]) -> dict:
        classes = self.metainfo.get('classes') or ()
        names = [classes[c] if c < len(classes) else None for c in class_ids]
        query_classes = self.data_list[self._name_to_index[query]]['classes']
        # the query's own class (binary-mask datasets: its label is that class's mask)
        own = next(c for c in class_ids if c in query_classes)
        query_info = self._image_info(query, own)
        query_info['class_ids'] = list(class_ids)
        support_infos = []
        for i, name in enumerate(supports):
            way = i // self.shot
            info = self._image_info(name, class_ids[way], support=True)
            info['class_name'] = names[way]
            support_infos.append(info)
        return dict(query=query_info, supports=support_infos, class_id=-1, class_name=None,
                    class_ids=list(class_ids), class_names=names, ways=self.ways,
                    base_label=0, episode_index=idx)
