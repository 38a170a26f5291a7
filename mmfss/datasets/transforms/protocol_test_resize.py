from typing import Optional, Tuple

import cv2
import mmcv
import numpy as np
import torch
import torch.nn.functional as F
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS

from ..protocols import get_protocol, pfenet_resized_hw

__all__ = ['ProtocolTestResize']

ROLES = ('query', 'support')


def _nearest_like_torch(label: np.ndarray, size: int) -> np.ndarray:
    """``F.interpolate(mode='nearest')`` of a label map to ``size`` x ``size`` (HSNet)."""
    out = F.interpolate(torch.from_numpy(label.astype(np.float32))[None, None],
                        size=(size, size), mode='nearest')
    return out[0, 0].numpy().astype(label.dtype)


@TRANSFORMS.register_module()
class ProtocolTestResize(BaseTransform):
    """The test geometry of a reference protocol, for the query or a support of an episode.

    The geometry is the one of :mod:`mmfss.datasets.protocols`:

    * ``'pfenet'`` / ``'bam'`` (PFENet ``util/transform.py`` ``Resize``, ``test.py`` with
      ``ori_resize``): the image is resized (bilinear, in float32) so that its long side is
      ``size``, both sides floored to a multiple of 8
      (:func:`~mmfss.datasets.protocols.pfenet_resized_hw`), and placed top-left in a
      ``size`` x ``size`` image of zeros (zeros before normalisation, as PFENet). A
      support's mask is resized with nearest and padded with 255 the same way. The query's
      label stays at its original size and is placed top-left in a 255-filled square of its
      longer side L: the prediction is scored there, after the logits at the input size are
      resized bilinearly (``align_corners=True``) to L x L.
    * ``'hsnet'`` (HSNet ``data/dataset.py`` and ``data/pascal.py``): image stretched to
      ``size`` x ``size`` with PIL's bilinear filter (as torchvision's ``Resize`` on a PIL
      image); masks resized with torch's nearest to ``size`` x ``size``; the query is scored
      there, or, with ``use_original_imgsize=True``, at its original size after one bilinear
      (``align_corners=True``) resize of the model's logits from their own resolution
      (HSNet ``model/hsnet.py``: the model skips its upsampling to 400 then, and
      ``predict_mask_nshot`` resizes once; recorded as ``score_from_features``).

    Load and binarise the label (:class:`LoadAnnotations`, :class:`BinarizeMask`) before
    this transform. The frame that is scored is recorded as ``score_shape`` and
    ``score_align_corners``; :class:`~mmfss.models.FewShotSegmentor` resizes its logits to
    it (pack both keys with :class:`PackEpisodeInputs`, which does by default). A query
    without a label (inference, :class:`~mmfss.apis.FewShotInferencer`) gets the image
    geometry only, and ``img_padding_size`` (mmseg's left, right, top, bottom) so that the
    prediction is cropped to the image before it is resized back to the original size.

    Required keys: ``img``, ``gt_seg_map`` (supports; queries when evaluated). Modified
    keys: ``img``, ``gt_seg_map``, ``img_shape``. Added keys: ``pad_shape``,
    ``scale_factor``, ``score_shape``, ``score_align_corners`` and ``score_from_features``
    (labelled queries), ``img_padding_size`` (unlabelled queries).

    By default the protocol and the size come with the episode: the dataset's ``protocol``
    and ``test_size`` (:class:`~mmfss.datasets.BaseEpisodicDataset`, copied into each
    image's results by :class:`ApplyToEpisode`), so that one test pipeline serves every
    protocol and the dataset's ``protocol=`` alone switches sampling and geometry together.

    Args:
        role (str): ``'query'`` or ``'support'``.
        protocol (str, optional): ``'pfenet'``, ``'bam'`` or ``'hsnet'``; None: the
            episode's.
        size (int, optional): Input size (PFENet/BAM ``val_size``: 473 PASCAL, 641 COCO;
            HSNet 400); None: the episode's ``test_size``.
        use_original_imgsize (bool): HSNet's option of that name (query only).
    """

    def __init__(self, role: str = 'query', protocol: Optional[str] = None,
                 size: Optional[int] = None, use_original_imgsize: bool = False) -> None:
        if role not in ROLES:
            raise ValueError(f'role must be one of {ROLES}, got {role!r}')
        if protocol is not None:
            get_protocol(protocol)  # raises for an unknown name
        if size is not None and not (isinstance(size, int) and size >= 8):
            raise ValueError(f'size must be an int >= 8, got {size!r}')
        if use_original_imgsize and protocol is not None and \
                get_protocol(protocol).geometry != 'stretch':
            raise ValueError(f'use_original_imgsize is an option of HSNet\'s protocol, not of '
                             f'{protocol!r}')
        self.protocol = protocol
        self.size = size
        self.role = role
        self.use_original_imgsize = use_original_imgsize

    def _resolve(self, results: dict) -> Tuple[str, int]:
        protocol = self.protocol or results.get('protocol')
        size = self.size or results.get('test_size')
        if protocol is None or size is None:
            raise KeyError(f'ProtocolTestResize: no protocol for {results.get("img_path")}: '
                           'the episode comes from a dataset with protocol=None (use '
                           "mmseg's Resize in its test pipeline) or pass protocol= and size=")
        geometry = get_protocol(protocol).geometry
        if self.use_original_imgsize and geometry != 'stretch':
            raise ValueError(f'use_original_imgsize is an option of HSNet\'s protocol, not of '
                             f'{protocol!r}')
        return geometry, int(size)

    def transform(self, results: dict) -> dict:
        geometry, s = self._resolve(results)
        if 'gt_seg_map' not in results and self.role == 'support':
            raise KeyError(f'ProtocolTestResize needs the support mask gt_seg_map '
                           f'({results.get("img_path")}): load and binarise it before')
        img = results['img']
        h, w = img.shape[:2]
        label = results.get('gt_seg_map')
        if label is None:  # an unlabelled query (inference): the image geometry only
            label = np.zeros((h, w), np.uint8)
        elif label.shape[:2] != (h, w):
            raise ValueError(f'{results.get("img_path")}: image {h}x{w} and label '
                             f'{label.shape[0]}x{label.shape[1]} differ in size')
        if geometry == 'pad_long_side':
            new_h, new_w = pfenet_resized_hw(h, w, s)
            out = np.zeros((s, s, img.shape[2]), np.float32)
            out[:new_h, :new_w] = cv2.resize(img.astype(np.float32), (new_w, new_h),
                                             interpolation=cv2.INTER_LINEAR)
            if self.role == 'support':
                new_label = np.full((s, s), 255, label.dtype)
                new_label[:new_h, :new_w] = cv2.resize(label, (new_w, new_h),
                                                       interpolation=cv2.INTER_NEAREST)
                label = new_label
                score = None
            else:
                side = max(h, w)
                square = np.full((side, side), 255, label.dtype)
                square[:h, :w] = label
                label, score = square, (side, side)
            scale = (new_w / w, new_h / h)
        else:
            out = mmcv.imresize(img, (s, s), interpolation='bilinear', backend='pillow')
            scale = (s / w, s / h)
            if self.role == 'query' and self.use_original_imgsize:
                score = (h, w)
                results['score_from_features'] = True
            else:
                label = _nearest_like_torch(label, s)
                score = (s, s) if self.role == 'query' else None
        results['img'] = out
        if 'gt_seg_map' not in results:
            if geometry == 'pad_long_side':
                results['img_padding_size'] = (0, s - new_w, 0, s - new_h)
            score = None
        else:
            results['gt_seg_map'] = label
        results['img_shape'] = out.shape[:2]
        results['pad_shape'] = out.shape[:2]
        results['scale_factor'] = scale
        if score is not None:
            results['score_shape'] = score
            results['score_align_corners'] = True
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(role={self.role!r}, protocol={self.protocol!r}, '
                f'size={self.size}, use_original_imgsize={self.use_original_imgsize})')

