import logging
import os.path as osp
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.dist import is_main_process
from mmengine.logging import MMLogger, print_log
from mmengine.utils import mkdir_or_exist
from mmseg.registry import METRICS
from prettytable import PrettyTable

from mmfss.utils import save_png

__all__ = ['FewShotIoUMetric', 'episode_areas', 'way_areas']


def episode_areas(pred: torch.Tensor, label: torch.Tensor,
                  ignore_index: int = 255) -> List[int]:
    """Intersection and union of foreground and background of one episode.

    Args:
        pred (Tensor): [H, W] prediction (1 foreground, 0 background).
        label (Tensor): [H, W] binary ground truth (1, 0, ``ignore_index``).

    Returns:
        list[int]: [fg intersection, fg union, bg intersection, bg union] over valid pixels.
    """
    valid = label != ignore_index
    pred_fg, gt_fg = (pred == 1) & valid, (label == 1) & valid
    pred_bg, gt_bg = (pred != 1) & valid, (label == 0) & valid
    return [int((pred_fg & gt_fg).sum()), int((pred_fg | gt_fg).sum()),
            int((pred_bg & gt_bg).sum()), int((pred_bg | gt_bg).sum())]


def way_areas(pred: torch.Tensor, label: torch.Tensor, ways: int,
              ignore_index: int = 255) -> List[List[int]]:
    """Areas of each class of an N-way episode (labels 0 background, 1..N the ways).

    Args:
        pred (Tensor): [H, W] prediction in 0..N.
        label (Tensor): [H, W] ground truth in 0..N and ``ignore_index``.
        ways (int): N.

    Returns:
        list[list[int]]: for each way n, [intersection, union] of ``pred == n`` and
        ``label == n`` over valid pixels, then one row [bg intersection, bg union].
    """
    valid = label != ignore_index
    rows = []
    for n in range(1, ways + 1):
        p, g = (pred == n) & valid, (label == n) & valid
        rows.append([int((p & g).sum()), int((p | g).sum())])
    p_bg, g_bg = (pred == 0) & valid, (label == 0) & valid
    rows.append([int((p_bg & g_bg).sum()), int((p_bg | g_bg).sum())])
    return rows


@METRICS.register_module()
class FewShotIoUMetric(BaseMetric):
    """Few-shot segmentation metric: per-class foreground IoU, mIoU and FB-IoU.

    ``process()`` keeps one small record per episode, (class id, foreground intersection,
    foreground union, background intersection, background union, 1), counted at the query's
    original label resolution with ``ignore_index`` pixels left out, so distributed
    evaluation (which collects exactly one result per dataset item) counts each episode once.

    ``compute_metrics()``:

    * IoU of class c = sum of its episodes' foreground intersections / sum of their unions
      (accumulated over episodes, as PFENet, HSNet and BAM report);
    * mIoU = mean of the class IoUs over the evaluated classes (the dataset's
      ``eval_classes`` metainfo; without it, the classes that occur in the episodes). A
      class that got no episode has IoU 0, as PFENet's and HSNet's meters give it, with a
      warning naming it (``unsampled_classes='zero'``), or is an error
      (``unsampled_classes='error'``);
    * FB-IoU = mean of the foreground IoU and the background IoU, each accumulated over all
      episodes regardless of class (PFENet's FB-IoU).

    N-way episodes (metainfo ``ways`` > 1 with ``class_ids``; prediction and label in 0..N):
    each way n gives one record for its class (intersection and union of label n), which
    counts towards that class's IoU and the foreground IoU; the background IoU counts label
    0 once per episode. With N = 1 this is the one-way definition above.

    Values are in percent, rounded to 2 decimals; besides ``mIoU``, ``FB-IoU``, ``fg-IoU``,
    ``bg-IoU`` and ``episodes``, each class's IoU is returned as ``IoU.<class name>`` and a
    per-class table is printed.

    Args:
        ignore_index (int): Ignored label value. Defaults to 255.
        output_dir (str, optional): If given, each episode's prediction is written there as
            ``{episode_index:06d}_{query name}_c{class id}.png`` (uint8, 1 foreground, 0
            background; written atomically). ``tools/test.py --out DIR`` sets it.
        format_only (bool): Only write the predictions, compute no metric (needs
            ``output_dir``), as mmseg's IoUMetric.
        collect_device (str): Device for collecting results across ranks.
        prefix (str, optional): Prefix of the metric names.
        keep_results (bool): Accepted for mmseg's ``tools/test.py`` compatibility; unused.
        unsampled_classes (str): ``'zero'`` (default) or ``'error'``, see above.
    """

    # metric names stay unprefixed ('mIoU', as mmseg's IoUMetric reports them); an empty
    # default says so to mmengine, which otherwise warns that no prefix is set
    default_prefix: Optional[str] = ''

    def __init__(self, ignore_index: int = 255, output_dir: Optional[str] = None,
                 format_only: bool = False, collect_device: str = 'cpu',
                 prefix: Optional[str] = None, keep_results: bool = False,
                 unsampled_classes: str = 'zero') -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if unsampled_classes not in ('zero', 'error'):
            raise ValueError("unsampled_classes must be 'zero' or 'error', got "
                             f'{unsampled_classes!r}')
        self.unsampled_classes = unsampled_classes
        self.ignore_index = ignore_index
        if format_only and not output_dir:
            raise ValueError('format_only=True needs an output_dir to write predictions to')
        self.output_dir = output_dir
        self.format_only = format_only
        if output_dir and is_main_process():
            mkdir_or_exist(output_dir)

    def _write_prediction(self, sample: dict, pred: torch.Tensor) -> None:
        name = osp.splitext(osp.basename(sample.get('img_path') or 'query'))[0]
        ids = sample.get('class_ids') or [sample['class_id']]
        path = osp.join(self.output_dir, f'{int(sample.get("episode_index", -1)):06d}_{name}_'
                        f'c{"-".join(str(int(c)) for c in ids)}.png')
        save_png(path, pred.cpu().numpy().astype(np.uint8))

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            pred = sample['pred_sem_seg']['data'].squeeze(0)
            if self.output_dir:
                self._write_prediction(sample, pred)
            if self.format_only:
                continue
            if 'gt_sem_seg' not in sample:
                raise KeyError(f'episode {sample.get("episode_index")} ({sample.get("img_path")}) '
                               'has no gt_sem_seg: load the query annotation in the test pipeline')
            label = sample['gt_sem_seg']['data'].squeeze(0).to(pred.device)
            if pred.shape != label.shape:
                raise ValueError(f'prediction {tuple(pred.shape)} and label {tuple(label.shape)} '
                                 f'of {sample.get("img_path")} differ in size: the prediction '
                                 'must be at the original label resolution')
            ways = int(sample.get('ways', 1))
            # one result per episode (distributed collection keeps exactly one per item):
            # rows of (class, fg inter, fg union, bg inter, bg union, episodes)
            if ways == 1:
                self.results.append(((int(sample['class_id']),
                                      *episode_areas(pred, label, self.ignore_index), 1), ))
                continue
            rows = way_areas(pred, label, ways, self.ignore_index)
            bg = rows[-1]
            self.results.append(tuple(
                (int(class_id), inter, union, bg[0] if n == 0 else 0, bg[1] if n == 0 else 0,
                 int(n == 0))  # the background and the episode count once
                for n, (class_id, (inter, union)) in enumerate(zip(sample['class_ids'], rows))))

    def compute_metrics(self, results: list) -> Dict[str, float]:
        logger: MMLogger = MMLogger.get_current_instance()
        if self.format_only:
            print_log(f'predictions written to {self.output_dir}', logger)
            return OrderedDict()
        areas = np.asarray([row for rows in results for row in rows],
                           dtype=np.int64).reshape(-1, 6)
        classes = np.unique(areas[:, 0])
        per_class = OrderedDict()
        for c in classes:
            rows = areas[areas[:, 0] == c]
            union = rows[:, 2].sum()
            per_class[int(c)] = (rows[:, 1].sum() / union if union > 0 else np.nan, len(rows))
        names = (self.dataset_meta or {}).get('classes')
        evaluated = (self.dataset_meta or {}).get('eval_classes')
        unsampled = [int(c) for c in (evaluated or []) if int(c) not in per_class]
        if unsampled:
            shown = ', '.join(names[c] if names is not None and c < len(names) else str(c)
                              for c in unsampled)
            msg = (f'{len(unsampled)} evaluated class(es) got no episode: {shown} (with '
                   f'{int(areas[:, 5].sum())} episodes)')
            if self.unsampled_classes == 'error':
                raise ValueError(msg + "; pass unsampled_classes='zero' to count them as 0")
            print_log(msg + ': counted as IoU 0 (PFENet, HSNet)', logger, level=logging.WARNING)
            for c in unsampled:
                per_class[c] = (0.0, 0)
            per_class = OrderedDict(sorted(per_class.items()))
        ious = np.array([v[0] for v in per_class.values()], dtype=np.float64)
        fg = areas[:, 1].sum() / max(areas[:, 2].sum(), 1)
        bg = areas[:, 3].sum() / max(areas[:, 4].sum(), 1)
        table = PrettyTable(field_names=['Class', 'IoU', 'Episodes'])
        for c, (iou, n) in per_class.items():
            name = names[c] if names is not None and c < len(names) else str(c)
            table.add_row([f'{c} {name}', round(float(iou) * 100, 2), n])
        print_log('per class results:', logger)
        print_log('\n' + table.get_string(), logger=logger)
        metrics = {
            'mIoU': float(np.round(np.nanmean(ious) * 100, 2)),
            'FB-IoU': float(np.round((fg + bg) / 2 * 100, 2)),
            'fg-IoU': float(np.round(fg * 100, 2)),
            'bg-IoU': float(np.round(bg * 100, 2)),
            # a float: mmengine's json logger drops the numpy ints its history returns
            'episodes': float(areas[:, 5].sum()),
        }
        skipped = (self.dataset_meta or {}).get('skipped_files') or []
        if skipped:  # the dataset's unreadable='skip': said with the numbers, never silent
            metrics['skipped_files'] = float(len(skipped))
            print_log(f'{len(skipped)} unreadable file(s) were left out of the episode pools '
                      "(dataset unreadable='skip'): " + '; '.join(skipped), logger,
                      level=logging.WARNING)
        for c, (iou, _) in per_class.items():
            name = names[c] if names is not None and c < len(names) else str(c)
            metrics[f'IoU.{name}'] = float(np.round(iou * 100, 2))
        return metrics
