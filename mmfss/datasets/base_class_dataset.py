import copy
from typing import List, Union

from mmseg.datasets import BaseSegDataset
from mmseg.registry import DATASETS

from .base_episodic_dataset import BaseEpisodicDataset

__all__ = ['BaseClassDataset']


@DATASETS.register_module()
class BaseClassDataset(BaseSegDataset):
    """The base-class view of a few-shot benchmark: a standard mmseg segmentation dataset.

    Used to train a segmentor on the base classes of a fold, for CMNet's stage-1 training
    and for the base learner of BAM/DOTGraph. It holds the images of ``episodic`` (same
    data root, list and fold; its ``split`` picks the images) with the labels remapped
    through mmseg's ``label_map``: the base classes in ascending order become 1..n_base (15
    for PASCAL-5i, 60 for COCO-20i), every other class 0, and 255 stays ignored. With
    ``novel_images='background'`` (the default, as BAM ``util/dataset.py`` ``BaseData``:
    every listed image, novel pixels relabelled 0) the images holding a novel class stay,
    their novel pixels becoming background; ``novel_images='drop'`` removes every image
    holding at least ``novel_min_pixels`` pixels of a novel class instead (on COCO-20i fold
    0 this removes every image with a person). ``metainfo['classes']`` is ``('background', <base class
    names>)`` and ``base_class_ids`` the original id of each new label.

    Datasets with binary mask files, one class per image (FSS-1000, whose class is the
    image's folder; :meth:`BaseEpisodicDataset.binary_mask_class`): every image of the
    split whose class is a base class (for FSS-1000 the 520 training classes) is kept; the
    samples carry ``label_threshold`` and ``foreground_label`` (the class's new label), and
    :class:`~mmfss.datasets.transforms.BinarizeMask` in the pipeline writes that label on
    the mask's foreground and 0 elsewhere.

    Args:
        episodic (dict | BaseEpisodicDataset): Config (or instance) of the episodic dataset
            whose images and fold are used; its episode arguments are irrelevant.
        novel_images (str): ``'background'`` or ``'drop'``, see above.
        novel_min_pixels (int): Novel-class pixels that make an image dropped
            (``novel_images='drop'``).
        **kwargs: Passed to :class:`mmseg.datasets.BaseSegDataset` (``pipeline``,
            ``test_mode``, ...); ``data_root``, ``ann_file`` and ``metainfo`` come from
            ``episodic``.
    """

    def __init__(self, episodic: Union[dict, BaseEpisodicDataset],
                 novel_images: str = 'background', novel_min_pixels: int = 1,
                 **kwargs) -> None:
        if novel_images not in ('background', 'drop'):
            raise ValueError("novel_images must be 'background' or 'drop', got "
                             f'{novel_images!r}')
        self.novel_images = novel_images
        if isinstance(episodic, dict):
            cfg = copy.deepcopy(episodic)
            cfg.update(lazy_init=True, pipeline=[])
            episodic = DATASETS.build(cfg)
        if not isinstance(episodic, BaseEpisodicDataset):
            raise TypeError(f'episodic must be an episodic dataset (config), got '
                            f'{type(episodic).__name__}')
        if not episodic.has_base_class_view:
            raise ValueError(f'{type(episodic).__name__} has no base-class view: its masks do '
                             'not hold class ids')
        if not (isinstance(novel_min_pixels, int) and novel_min_pixels >= 1):
            raise ValueError(f'novel_min_pixels must be an int >= 1, got {novel_min_pixels!r}')
        for key in ('data_root', 'ann_file', 'metainfo'):
            if key in kwargs:
                raise ValueError(f'BaseClassDataset takes {key} from episodic; do not pass it')
        self.episodic = episodic
        self.novel_min_pixels = novel_min_pixels
        self.base_class_ids: List[int] = episodic.base_classes
        self.novel_class_ids: List[int] = episodic.novel_classes
        names = episodic.metainfo['classes']
        metainfo = dict(classes=('background', ) + tuple(names[c] for c in self.base_class_ids))
        kwargs.setdefault('ignore_index', episodic.ignore_index)
        super().__init__(metainfo=metainfo, **kwargs)

    def load_data_list(self) -> List[dict]:
        source = self.episodic
        samples = source.load_data_list()
        stats = source.label_stats(samples)
        label_map = {c: 0 for c in range(1, source.num_classes + 1)}
        label_map.update({c: i + 1 for i, c in enumerate(self.base_class_ids)})
        if samples and source.binary_mask_class(samples[0]) is not None:
            return self._binary_data_list(samples, label_map)
        novel = set(self.novel_class_ids)
        data_list = []
        for info, counts in zip(samples, stats):
            if self.novel_images == 'drop' and any(
                    counts.get(c, 0) >= self.novel_min_pixels for c in novel):
                continue
            data_list.append(
                dict(img_path=info['img_path'], seg_map_path=info['seg_map_path'],
                     label_map=label_map, reduce_zero_label=False, seg_fields=[],
                     sample_name=info['name']))
        if not data_list:
            raise ValueError(f'BaseClassDataset: every image of {type(source).__name__} '
                             f'(split={source.split}, fold={source.fold}) holds a novel class')
        return data_list

    def _binary_data_list(self, samples: List[dict], label_map: dict) -> List[dict]:
        """Binary mask files, one class per image: the images of the base classes."""
        source = self.episodic
        data_list = []
        for info in samples:
            class_id, threshold = source.binary_mask_class(info)
            if label_map[class_id] == 0:
                continue
            data_list.append(
                dict(img_path=info['img_path'], seg_map_path=info['seg_map_path'],
                     label_threshold=threshold, foreground_label=label_map[class_id],
                     reduce_zero_label=False, seg_fields=[], sample_name=info['name']))
        if not data_list:
            raise ValueError(f'BaseClassDataset: no image of {type(source).__name__} '
                             f'(split={source.split}) belongs to a base class')
        return data_list
