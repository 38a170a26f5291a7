import copy
from typing import List, Optional, Union

from mmcv.transforms import BaseTransform, Compose
from mmseg.registry import TRANSFORMS

__all__ = ['ApplyToEpisode']

EPISODE_KEYS = ('class_id', 'class_name', 'base_label', 'episode_index', 'protocol',
                'test_size')


@TRANSFORMS.register_module()
class ApplyToEpisode(BaseTransform):
    """Run ordinary mmcv/mmseg transforms on every image of an episode, independently.

    The input is an episode dict ``dict(query=dict, supports=[dict, ...], class_id=c, ...)``
    (see :class:`~mmfss.datasets.BaseEpisodicDataset`). ``transforms`` runs on the query and
    ``support_transforms`` (default: the same list) on each support, each with its own random
    draws, so the query and every support get independent augmentation. Episode-level keys
    (``class_id``, ``episode_index``) are copied into each image's results first, unless
    the image has its own (the supports of an N-way episode carry their way's class), so
    that transforms such as :class:`BinarizeMask` can read them.

    Test pipelines use the two lists to load the query label *after* resizing (it stays at
    the original resolution, where the metric scores it, as in mmseg's test pipelines) while
    each support mask is resized with its image, because it is a model input.

    Args:
        transforms (list[dict | callable]): Transforms of the query image.
        support_transforms (list[dict | callable], optional): Transforms of each support.
            Defaults to ``transforms``.
    """

    def __init__(self, transforms: List[Union[dict, callable]],
                 support_transforms: Optional[List[Union[dict, callable]]] = None) -> None:
        self.query_pipeline = Compose(transforms)
        self.support_pipeline = (self.query_pipeline if support_transforms is None else
                                 Compose(support_transforms))

    @staticmethod
    def _run(pipeline: Compose, image: dict, episode: dict, role: str) -> dict:
        image = copy.copy(image)
        for key in EPISODE_KEYS:  # an image's own value wins (N-way supports)
            if key in episode and key not in image:
                image[key] = episode[key]
        out = pipeline(image)
        if out is None:
            raise RuntimeError(f'a transform returned None for the {role} image '
                               f'{image.get("img_path")}: episodes cannot drop images')
        return out

    def transform(self, results: dict) -> dict:
        for key in ('query', 'supports'):
            if key not in results:
                raise KeyError(f'ApplyToEpisode expects an episode dict with "query" and '
                               f'"supports", got keys {sorted(results)}')
        results['query'] = self._run(self.query_pipeline, results['query'], results, 'query')
        results['supports'] = [
            self._run(self.support_pipeline, s, results, f'support {i}')
            for i, s in enumerate(results['supports'])
        ]
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(transforms={self.query_pipeline}, '
                f'support_transforms={self.support_pipeline})')
