"""Multi-level features resized to one grid, without resizing what is already there.

Bilinear interpolation to a tensor's own size reproduces it exactly (every output pixel
falls on an input pixel, with or without ``align_corners``), but ``F.interpolate`` still
writes a copy, and in training a copy of its gradient: at 473x473 that is 4 copies of the
1024- and 512-channel levels per episode in the heads' ``resize_concat`` alone. These
helpers hand such a tensor on as it is; every other one goes through mmseg's ``resize``
(without its advice on ``align_corners`` sizes: the references' own sizes are kept).
"""
from typing import List, Sequence, Tuple

import torch
from mmseg.models.utils import resize
from torch import Tensor

__all__ = ['resize_concat', 'resize_to', 'ResizeConcatInputsMixin']


def resize_to(x: Tensor, size: Sequence[int], align_corners: bool = False) -> Tensor:
    """``x`` [N, C, h, w] resized (bilinear) to ``size``; ``x`` itself when it has that size.

    Args:
        x (Tensor): [N, C, h, w].
        size (Sequence[int]): Target (H, W).
        align_corners (bool): As in ``F.interpolate``.

    Returns:
        Tensor: [N, C, H, W].
    """
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return resize(x, size=tuple(size), mode='bilinear', align_corners=align_corners,
                  warning=False)


def resize_concat(levels: List[Tensor], in_index: Sequence[int],
                  align_corners: bool = False) -> Tensor:
    """Multi-level features: the levels ``in_index`` resized (bilinear) to the first one and
    concatenated along channels (mmseg's ``input_transform='resize_concat'``).

    Args:
        levels (list[Tensor]): Backbone levels, each [N, C_l, h_l, w_l].
        in_index (Sequence[int]): Levels used, the first sets the size.
        align_corners (bool): As in ``F.interpolate``.

    Returns:
        Tensor: [N, sum C_l, h, w].
    """
    x = [levels[i] for i in in_index]
    size: Tuple[int, int] = tuple(x[0].shape[-2:])
    return torch.cat([resize_to(t, size, align_corners) for t in x], dim=1)


class ResizeConcatInputsMixin:
    """For mmseg decode heads: ``input_transform='resize_concat'`` through
    :func:`resize_concat` (mmseg's ``BaseDecodeHead._transform_inputs`` interpolates every
    level, the first one to its own size too); the other transforms are mmseg's.

    Put it before ``BaseDecodeHead`` in the bases of a head.
    """

    def _transform_inputs(self, inputs):
        if self.input_transform == 'resize_concat':
            return resize_concat(inputs, self.in_index, self.align_corners)
        return super()._transform_inputs(inputs)
