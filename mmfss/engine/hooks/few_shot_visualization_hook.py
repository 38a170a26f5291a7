import os.path as osp
from typing import List, Sequence, Tuple

import cv2
import mmcv
import numpy as np
from mmengine.fileio import get
from mmseg.engine.hooks import SegVisualizationHook
from mmseg.registry import HOOKS
from mmseg.structures import SegDataSample

from mmfss.visualization import episode_panel

__all__ = ['FewShotVisualizationHook']


@HOOKS.register_module()
class FewShotVisualizationHook(SegVisualizationHook):
    """Draw few-shot episodes in val/test (``tools/test.py --show-dir``).

    mmseg's :class:`SegVisualizationHook` names and colours labels from the dataset's class
    list, but an episode's labels are its ways (1 = the episode's class; 1..N for N-way
    episodes). For every ``interval``-th batch this hook draws, for each episode, one panel
    (:func:`~mmfss.visualization.episode_panel`): each support with its mask, the query
    with its ground truth and the prediction, colour overlays, the class name(s) in the
    title; and hands it to the visualizer's ``add_image``, so the configured backends
    (local files with ``--show-dir``, TensorBoard, ...) receive it. Arguments are those of
    :class:`SegVisualizationHook`; ``tile_height`` sets the height of each tile.
    """

    def __init__(self, *args, tile_height: int = 256, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not (isinstance(tile_height, int) and tile_height >= 16):
            raise ValueError(f'tile_height must be an int >= 16, got {tile_height!r}')
        self.tile_height = tile_height

    def _read_rgb(self, path: str) -> np.ndarray:
        return mmcv.imfrombytes(get(path, backend_args=self.backend_args), channel_order='rgb')

    def _supports(self, output: SegDataSample, ways: int) -> List[Tuple[np.ndarray, np.ndarray,
                                                                       int]]:
        paths = output.metainfo.get('support_img_paths') or []
        shapes = output.metainfo.get('support_img_shapes') or []
        if 'support_masks' not in output or not paths:
            return []
        masks = output.support_masks.data.cpu().numpy()
        shot = max(1, len(paths) // ways)
        supports = []
        for i, (path, (h, w)) in enumerate(zip(paths, shapes)):
            img = cv2.resize(self._read_rgb(path), (int(w), int(h)),
                             interpolation=cv2.INTER_LINEAR)  # the size the mask has
            supports.append((img, masks[i, :h, :w], i // shot + 1))
        return supports

    def _class_names(self, output: SegDataSample, ways: int) -> List[str]:
        meta = output.metainfo
        classes = (self._visualizer.dataset_meta or {}).get('classes') or ()
        if ways > 1:
            names = list(meta.get('class_names') or [])
            ids = list(meta.get('class_ids') or [])
            return [n or (classes[c] if c < len(classes) else f'class {c}')
                    for n, c in zip(names or [None] * len(ids), ids)]
        class_id = meta.get('class_id')
        name = meta.get('class_name')
        if not name:
            name = (classes[class_id] if class_id is not None and 0 <= class_id < len(classes)
                    else f'class {class_id}')
        return [name]

    def draw_episode(self, output: SegDataSample) -> np.ndarray:
        """The RGB panel of one predicted episode."""
        ways = int(output.metainfo.get('ways', 1))
        query = self._read_rgb(output.img_path)
        pred = output.pred_sem_seg.data[0].cpu().numpy()
        gt = output.gt_sem_seg.data[0].cpu().numpy() if 'gt_sem_seg' in output else None
        if pred.shape != query.shape[:2]:
            query = cv2.resize(query, pred.shape[::-1], interpolation=cv2.INTER_LINEAR)
        return episode_panel(query, pred, self._supports(output, ways),
                             self._class_names(output, ways), gt=gt,
                             height=self.tile_height, visualizer=self._visualizer)

    def _after_iter(self, runner, batch_idx: int, data_batch: dict,
                    outputs: Sequence[SegDataSample], mode: str = 'val') -> None:
        if self.draw is False or mode == 'train':
            return
        if not self.every_n_inner_iters(batch_idx, self.interval):
            return
        for output in outputs:
            panel = self.draw_episode(output)
            index = output.metainfo.get('episode_index', batch_idx)
            name = osp.splitext(osp.basename(output.img_path))[0]
            self._visualizer.add_image(f'{mode}_{index:06d}_{name}', panel, step=runner.iter)
            if self.show:
                self._visualizer.show(panel, win_name=name, wait_time=self.wait_time)
