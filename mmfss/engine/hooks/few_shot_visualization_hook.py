import os.path as osp
from typing import Sequence

import mmcv
import numpy as np
from mmengine.fileio import get
from mmseg.engine.hooks import SegVisualizationHook
from mmseg.registry import HOOKS
from mmseg.structures import SegDataSample

__all__ = ['FewShotVisualizationHook']


@HOOKS.register_module()
class FewShotVisualizationHook(SegVisualizationHook):
    """Draw few-shot predictions in val/test (``tools/test.py --show-dir``).

    mmseg's :class:`SegVisualizationHook` names and colours labels from the dataset's class
    list, but an episode's masks are binary (label 1 = this episode's class). For every
    ``interval``-th batch this hook draws, for each episode, the query with its ground truth
    (left) and the prediction (right), label 1 named after the episode's ``class_id``, and
    hands the picture to the visualizer's ``add_image`` (so local/TensorBoard backends work
    as configured; with ``--show-dir`` the local backend writes PNGs). Arguments are those of
    :class:`SegVisualizationHook`.
    """

    FOREGROUND_COLOUR = [255, 64, 64]

    def _after_iter(self, runner, batch_idx: int, data_batch: dict,
                    outputs: Sequence[SegDataSample], mode: str = 'val') -> None:
        if self.draw is False or mode == 'train':
            return
        if not self.every_n_inner_iters(batch_idx, self.interval):
            return
        visualizer = self._visualizer
        classes = (visualizer.dataset_meta or {}).get('classes') or ()
        palette = [[0, 0, 0], self.FOREGROUND_COLOUR]
        for output in outputs:
            class_id = output.metainfo.get('class_id')
            name = (classes[class_id] if class_id is not None and class_id < len(classes) else
                    f'class {class_id}')
            img = mmcv.imfrombytes(
                get(output.img_path, backend_args=self.backend_args), channel_order='rgb')
            panels = []
            for key in ('gt_sem_seg', 'pred_sem_seg'):
                if key in output:
                    panels.append(visualizer._draw_sem_seg(  # mmseg's own overlay drawing
                        img, output.get(key), ('background', name), palette))
            index = output.metainfo.get('episode_index', batch_idx)
            visualizer.add_image(
                f'{mode}_{index:06d}_{osp.splitext(osp.basename(output.img_path))[0]}',
                np.concatenate(panels, axis=1) if panels else img, step=runner.iter)
            if self.show:
                visualizer.show(np.concatenate(panels, axis=1) if panels else img,
                                win_name=name, wait_time=self.wait_time)
