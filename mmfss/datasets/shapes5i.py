import os
import os.path as osp
from typing import List, Optional

from mmseg.registry import DATASETS

from .base_episodic_dataset import BaseEpisodicDataset, parse_pair_list
from .protocols import hsnet_pair_episodes
from .shapes5i_generator import SHAPES5I_CLASSES, generate_shapes5i

__all__ = ['Shapes5iDataset', 'default_shapes5i_root']


def default_shapes5i_root(seed: int = 0) -> str:
    """Cache folder of the generated Shapes-5i copy.

    ``$MMFSS_DATA_DIR/shapes5i-seed{seed}`` when ``MMFSS_DATA_DIR`` is set, otherwise
    ``${XDG_CACHE_HOME:-~/.cache}/mmfss/data/shapes5i-seed{seed}``.
    """
    base = os.environ.get('MMFSS_DATA_DIR') or osp.join(
        os.environ.get('XDG_CACHE_HOME') or osp.expanduser('~/.cache'), 'mmfss', 'data')
    return osp.join(base, f'shapes5i-seed{seed}')


@DATASETS.register_module()
class Shapes5iDataset(BaseEpisodicDataset):
    """Shapes-5i: the embedded, procedurally generated few-shot benchmark.

    20 classes (5 shape families x 4 patterns, see
    :mod:`mmfss.datasets.shapes5i_generator` for why the task is genuinely few-shot), 4 folds
    whose novel classes are ``5i+1 .. 5i+5`` as in PASCAL-5i. On first use the images are
    written, deterministically from ``data_seed``, to ``data_root`` (default: a cache folder,
    see :func:`default_shapes5i_root`) in PASCAL VOC's layout; later runs reuse them.

    Args:
        data_root (str, optional): Where the dataset lives or is generated.
        ann_file (str, optional): List file relative to ``data_root``; defaults to
            ``lists/{split}.txt``.
        data_seed (int): Seed of the generated images (not of the episodes: see ``seed``).
        num_train (int): Number of generated training images.
        num_val (int): Number of generated validation images.
        img_size (int): Side of the generated images.
        min_class_pixels (int): Pixels a class must cover to count (default 128, i.e.
            PASCAL-5i's 2*32*32 scaled to 96x96 images).
        **kwargs: See :class:`BaseEpisodicDataset`.
    """

    METAINFO = dict(classes=('background', ) + SHAPES5I_CLASSES)
    generates_data = True  # written on first use: the tools do not check data_root
    num_classes = 20
    # the reference protocols read Shapes-5i as PASCAL-5i in miniature: their samplers, and
    # the sizes of mmfss.datasets.protocols for 'shapes'; mmfss's own sampler by default
    benchmark = 'shapes'

    def __init__(self,
                 data_root: Optional[str] = None,
                 ann_file: Optional[str] = None,
                 split: str = 'train',
                 data_seed: int = 0,
                 num_train: int = 2000,
                 num_val: int = 600,
                 img_size: int = 96,
                 min_class_pixels: int = 128,
                 **kwargs) -> None:
        data_root = data_root or default_shapes5i_root(data_seed)
        generate_shapes5i(data_root, seed=data_seed, num_train=num_train, num_val=num_val,
                          img_size=img_size)
        if ann_file is None:
            ann_file = f'lists/{split}.txt' if split in self.splits else ''
        super().__init__(data_root=data_root, ann_file=ann_file, split=split,
                         min_class_pixels=min_class_pixels, **kwargs)

    def fold_classes(self, fold: int) -> List[int]:
        return list(range(5 * fold + 1, 5 * fold + 6))

    def load_data_list(self) -> List[dict]:
        return parse_pair_list(self.ann_file, self.data_root)

    def hsnet_episodes(self) -> list:
        """HSNet's PASCAL-5i sampler (:func:`~mmfss.datasets.protocols.hsnet_pair_episodes`)
        over the ``(image, class)`` pairs of the list, class by class in name order (every
        image where a novel class covers ``min_class_pixels``): HSNet ships such a file
        for PASCAL; Shapes-5i's is derived from its labels."""
        pairs = [(name, c) for c, pool in sorted(self.class_pools.items()) for name in pool]
        num = len(pairs) if self.num_episodes is None else self.num_episodes
        return hsnet_pair_episodes(pairs, self.shot, num, self.seed)
