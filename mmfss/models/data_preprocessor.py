from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.structures import PixelData
from mmseg.models.data_preprocessor import SegDataPreProcessor
from mmseg.registry import MODELS
from mmseg.utils import stack_batch

__all__ = ['FewShotDataPreProcessor']


@MODELS.register_module()
class FewShotDataPreProcessor(SegDataPreProcessor):
    """Normalise and batch few-shot episodes.

    Input (from :class:`~mmfss.datasets.transforms.PackEpisodeInputs` and mmengine's
    ``pseudo_collate``): ``inputs = dict(query=[Tensor[3, H, W], ...],
    support=[Tensor[K, 3, Hs, Ws], ...])`` (a list of per-episode dicts is accepted too),
    ``data_samples`` a list of SegDataSample with ``support_masks``.

    Output: ``dict(inputs=dict(query=Tensor[B, 3, H, W], support=Tensor[B, K, 3, Hs, Ws],
    support_masks=Tensor[B, K, Hs, Ws]), data_samples=...)``. Queries and their
    ``gt_sem_seg`` are padded with mmseg's :func:`~mmseg.utils.stack_batch` (which records
    ``padding_size``/``pad_shape`` in the metainfo); supports and support masks, which
    ``stack_batch`` does not handle, are padded here to the largest support (or ``size``)
    with ``pad_val``/``seg_pad_val``, and the padded masks are written back to the samples.
    The support masks are lifted into ``inputs`` because they are model inputs at inference.

    Args:
        mean, std, size, size_divisor, pad_val, seg_pad_val, bgr_to_rgb, rgb_to_bgr: As in
            :class:`~mmseg.models.SegDataPreProcessor`; ``size`` and ``size_divisor`` apply
            to the supports too. Without either, a batch is padded to its largest image.
            As in mmseg, ``size`` applies in training only: evaluation batches are padded
            to their largest image (rounded up to ``size_divisor``), so a protocol's test
            geometry (:class:`~mmfss.datasets.transforms.ProtocolTestResize`) reaches the
            model as it is.
    """

    @property
    def target_device(self) -> torch.device:
        """Where batches are built: the device of the normalisation buffers (they follow
        the model through ``.to()``/``.cuda()``), else mmengine's recorded device."""
        return self.mean.device if self._enable_normalize else self.device

    def _normalize(self, img: torch.Tensor) -> torch.Tensor:
        """[..., 3, H, W] uint8/float on any device -> float on :attr:`target_device`,
        channel-converted and normalised (moved first, as loaded: a uint8 image crosses
        to the GPU at a quarter of its float size)."""
        img = img.to(self.target_device, non_blocking=True)
        if self.channel_conversion and img.shape[-3] == 3:
            img = img.flip(-3)
        img = img.float()
        if self._enable_normalize:
            img = (img - self.mean) / self.std
        return img

    def target_size(self, shapes: List[Sequence[int]], training: bool = True) -> List[int]:
        """(H, W) that images of ``shapes`` are padded to: their maximum, at least
        ``size`` (in training), rounded up to ``size_divisor``."""
        h = max(s[0] for s in shapes)
        w = max(s[1] for s in shapes)
        if self.size is not None and training:
            h, w = max(h, self.size[0]), max(w, self.size[1])
        if self.size_divisor is not None and self.size_divisor > 1:
            d = self.size_divisor
            h, w = (h + d - 1) // d * d, (w + d - 1) // d * d
        return [h, w]

    @staticmethod
    def _as_episode_list(inputs) -> List[Dict[str, torch.Tensor]]:
        if isinstance(inputs, dict):
            if not {'query', 'support'} <= set(inputs):
                raise KeyError(f'episode inputs need "query" and "support", got {sorted(inputs)}')
            query, support = inputs['query'], inputs['support']
            if isinstance(query, torch.Tensor) and query.dim() == 3:
                query, support = [query], [support]
            if len(query) != len(support):
                raise ValueError(f'{len(query)} queries but {len(support)} support sets')
            return [dict(query=q, support=s) for q, s in zip(query, support)]
        if isinstance(inputs, (list, tuple)) and all(isinstance(x, dict) for x in inputs):
            return list(inputs)
        raise TypeError('FewShotDataPreProcessor expects episode inputs dict(query=[Tensor[3,H,W]'
                        f', ...], support=[Tensor[K,3,H,W], ...]), got {type(inputs).__name__}')

    def forward(self, data: dict, training: bool = False) -> Dict[str, Any]:
        data = self.cast_data(data)
        inputs = self._as_episode_list(data['inputs'])
        data_samples = data.get('data_samples')
        if data_samples is None or len(data_samples) != len(inputs):
            raise ValueError('FewShotDataPreProcessor needs one data sample per episode: the '
                             'support masks travel in data_samples[i].support_masks')
        shots = {x['support'].shape[0] for x in inputs}
        if len(shots) != 1:
            raise ValueError(f'all episodes of a batch must have the same number of supports, '
                             f'got {sorted(shots)}')
        query, data_samples = self.batch_queries([x['query'] for x in inputs], data_samples,
                                                 training)
        supports, masks = [], []
        size = self.target_size([x['support'].shape[-2:] for x in inputs], training)
        for x, sample in zip(inputs, data_samples):
            mask = sample.support_masks.data
            if mask.shape[-2:] != x['support'].shape[-2:] or mask.shape[0] != x['support'].shape[0]:
                raise ValueError(f'support masks {tuple(mask.shape)} do not match support '
                                 f'images {tuple(x["support"].shape)} ({sample.get("img_path")})')
            sup, mask = self.pad_supports(x['support'], mask, size)
            sample.support_masks = PixelData(data=mask)
            supports.append(sup)
            masks.append(mask)
        batch_inputs = dict(
            query=query, support=torch.stack(supports), support_masks=torch.stack(masks))
        return dict(inputs=batch_inputs, data_samples=data_samples)

    def batch_queries(self, queries: List[torch.Tensor], data_samples: List,
                      training: bool = True) -> Tuple[torch.Tensor, List]:
        """Normalise and pad query images [3, H, W] (any device) into a batch on
        :attr:`target_device` (mmseg's ``stack_batch``).

        Returns:
            tuple: the batch [B, 3, H, W] and the data samples, whose metainfo gains
            ``padding_size``/``pad_shape`` (and whose ``gt_sem_seg`` is padded).
        """
        queries = [self._normalize(q) for q in queries]
        # stack_batch takes exactly one of size / size_divisor; pad to the batch maximum
        # (size_divisor=1) when neither is configured.
        size = self.size if training else None
        size_divisor = None if size is not None else (self.size_divisor or 1)
        return stack_batch(queries, data_samples, size=size, size_divisor=size_divisor,
                           pad_val=self.pad_val, seg_pad_val=self.seg_pad_val)

    def pad_supports(self, support: torch.Tensor, masks: torch.Tensor,
                     size: Optional[Sequence[int]] = None
                     ) -> Tuple[torch.Tensor, torch.Tensor]:
        """Normalise support images and pad them and their masks to one size.

        Args:
            support (Tensor): [S, 3, H, W] images (uint8 as loaded, or float), on any
                device: the result is on :attr:`target_device`.
            masks (Tensor): [S, H, W] masks (uint8 as loaded, or any integer type).
            size (sequence, optional): Target (H, W); defaults to the configured size,
                rounded up to ``size_divisor``, or the images' own size.

        Returns:
            tuple[Tensor, Tensor]: [S, 3, H', W'] float images and [S, H', W'] int64 masks,
            padded with ``pad_val`` / ``seg_pad_val``.
        """
        h, w = size if size is not None else self.target_size([support.shape[-2:]])
        pad = (0, w - support.shape[-1], 0, h - support.shape[-2])
        masks = masks.to(self.target_device, non_blocking=True)
        return (F.pad(self._normalize(support), pad, value=self.pad_val),
                F.pad(masks.long(), pad, value=self.seg_pad_val))
