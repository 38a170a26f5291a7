import warnings
from typing import Optional

import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS

from ..label_stats import read_grey_levels
from ..mask_reader import MaskReadingWarning, read_mask

__all__ = ['BinarizeMask', 'masks_to_boxes', 'apply_label_lut']


def apply_label_lut(label: np.ndarray, lut: np.ndarray, path: Optional[str] = None
                    ) -> np.ndarray:
    """Map stored label values through a lookup table; -1 entries are values that no class
    or ignore rule covers, and raise naming the file.

    Args:
        label (np.ndarray): [H, W] integer label map as stored.
        lut (np.ndarray): [V] int table: stored value -> episode class id (0 background,
            255 ignore, -1 invalid).
        path (str, optional): The label file, for the error message.

    Returns:
        np.ndarray: [H, W] uint8 class ids.
    """
    if label.ndim != 2:
        raise ValueError(f'label map {path} must be single-channel, got shape {label.shape}')
    if label.size and int(label.max()) >= len(lut):
        raise ValueError(f'label map {path} holds value {int(label.max())}, beyond the '
                         f'{len(lut)} values its dataset defines')
    mapped = lut[label]
    if (mapped < 0).any():
        bad = sorted({int(v) for v in np.unique(label[mapped < 0])})
        raise ValueError(f'label map {path} holds values {bad[:10]} that are no class of its '
                         'dataset and not its ignore index')
    return mapped.astype(np.uint8)



def masks_to_boxes(mask: np.ndarray, connectivity: int = 8) -> np.ndarray:
    """Replace a binary mask by the filled bounding boxes of its connected regions.

    Args:
        mask (np.ndarray): [H, W] array, non-zero = foreground.
        connectivity (int): 4 or 8 (default), the neighbourhood of a connected region.

    Returns:
        np.ndarray: [H, W] uint8, 1 inside the union of the boxes, 0 elsewhere.
    """
    fg = (mask != 0).astype(np.uint8)
    num, _, stats, _ = cv2.connectedComponentsWithStats(fg, connectivity=connectivity)
    boxes = np.zeros_like(fg)
    for x, y, w, h, _ in stats[1:num]:  # row 0 is the background component
        boxes[y:y + h, x:x + w] = 1
    return boxes


@TRANSFORMS.register_module()
class BinarizeMask(BaseTransform):
    """Turn a label map into the episode's binary mask.

    Class label maps (PASCAL-5i, COCO-20i, Shapes-5i): ``gt_seg_map == class_id`` becomes 1,
    ``ignore_index`` stays ``ignore_index``, every other value (other classes, including novel
    classes in training images) becomes 0. Binary mask files (FSS-1000): when the results hold
    ``label_threshold`` (set by the dataset), the mask file is read again as HSNet reads it
    (PIL's ``convert('L')``, :func:`~mmfss.datasets.label_stats.read_grey_levels`) and
    ``>= label_threshold`` becomes 1, the rest 0 (no ignore label).

    N-way queries: when the results hold ``class_ids`` (the query of an N-way episode), the
    label becomes ``n`` where it is the n-th class (1-based), 0 elsewhere and
    ``ignore_index`` where ignored; for binary mask files the query's own class
    (``class_id``) gets its way's label.

    Weak supports (CMNet Table VIII): when ``mask_annotation`` is ``'bbox'`` (set by the
    dataset for support images with ``support_annotation='bbox'``), the binary mask is
    replaced by the filled bounding boxes of its 8-connected foreground regions; the result
    has 1 inside the boxes and 0 elsewhere (a box annotation has no ignore region). It is
    applied where the transform sits, i.e. on the original label map in the shipped
    pipelines, before any resize or crop.

    Base-class view of binary mask files (:class:`~mmfss.datasets.BaseClassDataset` on
    FSS-1000): with ``label_threshold`` and ``foreground_label``, the foreground gets
    ``foreground_label`` (the image's base-class label) instead of 1 (uint16 maps from
    label 255 on: FSS-1000 has 520 training classes; its configs move the ignore index
    above them).

    Datasets of users' data: ``label_lut`` (set by
    :class:`~mmfss.datasets.EpisodicSegDataset`) first maps the stored values of an mmseg
    dataset's label map to episode class ids (its ``reduce_zero_label`` and ``label_map``
    included); ``mask_reading`` (set by :class:`~mmfss.datasets.ClassFolderDataset`) reads the
    mask file with :func:`~mmfss.datasets.mask_reader.read_mask` and those options instead of
    ``gt_seg_map`` (1 object, 0 background, 255 ignore).

    Protocols that read the ignore label as background (``ignore_as_background``, set by the
    dataset: HSNet's COCO-20i) get 0 where ``ignore_index`` is.

    Required keys: ``gt_seg_map``, ``class_id`` (class label maps). Optional keys:
    ``label_threshold``, ``foreground_label``, ``mask_annotation``, ``class_ids``,
    ``label_lut``, ``mask_reading``, ``ignore_as_background``. Modified keys: ``gt_seg_map`` (uint8, [H, W];
    uint16 for a ``foreground_label`` from 255 on).

    Args:
        ignore_index (int): Label value kept as is. Defaults to 255.
        box_connectivity (int): Connectivity of the regions boxed for ``'bbox'`` supports.
    """

    def __init__(self, ignore_index: int = 255, box_connectivity: int = 8) -> None:
        if box_connectivity not in (4, 8):
            raise ValueError(f'box_connectivity must be 4 or 8, got {box_connectivity!r}')
        self.ignore_index = ignore_index
        self.box_connectivity = box_connectivity

    def transform(self, results: dict) -> dict:
        if 'gt_seg_map' not in results:
            raise KeyError('BinarizeMask needs gt_seg_map: put LoadAnnotations before it '
                           f'(image {results.get("img_path")})')
        label = results['gt_seg_map']
        threshold: Optional[int] = results.get('label_threshold')
        class_ids = results.get('class_ids')
        if 'label_lut' in results:  # EpisodicSegDataset: stored values -> episode class ids
            label = apply_label_lut(label, results['label_lut'], results.get('seg_map_path'))
        if 'mask_reading' in results:  # ClassFolderDataset: a user's mask, one class
            # read from the file again: LoadAnnotations' array has lost what the reader needs
            # (uint8 cast of 16-bit values, BGR order, the file's mode and whether it is lossy)
            with warnings.catch_warnings():  # the dataset warned once when it was built
                warnings.simplefilter('ignore', MaskReadingWarning)
                reading = read_mask(results['seg_map_path'], **results['mask_reading'])
            binary = reading.mask.copy()
            if class_ids is not None:  # N-way query: its own class's way
                binary[binary == 1] = list(class_ids).index(results['class_id']) + 1
        elif threshold is not None:
            # the file as HSNet reads it (PIL convert('L')), not LoadAnnotations' array
            # (cv2's BGR channels, 16-bit values cast)
            if not results.get('seg_map_path'):
                raise KeyError('BinarizeMask: label_threshold needs the mask file '
                               f'(seg_map_path) of {results.get("img_path")}')
            grey = read_grey_levels(results['seg_map_path'])
            if grey.shape != label.shape[:2]:
                raise ValueError(f'{results["seg_map_path"]}: PIL reads {grey.shape}, '
                                 f'LoadAnnotations {label.shape[:2]}')
            binary = (grey >= threshold).astype(np.uint8)
            if class_ids is not None:  # N-way query: the mask of its own class
                binary *= np.uint8(list(class_ids).index(results['class_id']) + 1)
            elif 'foreground_label' in results:  # base-class view (BaseClassDataset)
                label_value = int(results['foreground_label'])
                binary = binary.astype(np.uint8 if label_value < 255 else np.uint16)
                binary *= binary.dtype.type(label_value)
        elif class_ids is not None:
            if label.ndim != 2:
                raise ValueError(f'label map {results.get("seg_map_path")} must be '
                                 f'single-channel, got shape {label.shape}')
            binary = np.zeros(label.shape, dtype=np.uint8)
            for way, class_id in enumerate(class_ids, 1):
                binary[label == class_id] = way
            if not results.get('ignore_as_background'):
                binary[label == self.ignore_index] = self.ignore_index
        else:
            if 'class_id' not in results:
                raise KeyError('BinarizeMask needs class_id: use it inside ApplyToEpisode')
            if label.ndim != 2:
                raise ValueError(f'label map {results.get("seg_map_path")} must be '
                                 f'single-channel, got shape {label.shape}')
            binary = (label == results['class_id']).astype(np.uint8)
            if not results.get('ignore_as_background'):
                binary[label == self.ignore_index] = self.ignore_index
        annotation = results.get('mask_annotation', 'mask')
        if annotation == 'bbox':
            binary = masks_to_boxes(binary == 1, self.box_connectivity)
        elif annotation != 'mask':
            raise ValueError(f"mask_annotation must be 'mask' or 'bbox', got {annotation!r}")
        results['gt_seg_map'] = binary
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(ignore_index={self.ignore_index}, '
                f'box_connectivity={self.box_connectivity})')
