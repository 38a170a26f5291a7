from typing import List, Sequence

import torch
from mmseg.models.utils import resize
from torch import Tensor

__all__ = ['resize_concat']


def resize_concat(levels: List[Tensor], in_index: Sequence[int],
                  align_corners: bool = False) -> Tensor:
    """Multi-level features: the levels ``in_index`` resized (bilinear) to the first one and
    concatenated along channels (mmseg's ``input_transform='resize_concat'``).

    Args:
        levels (list[Tensor]): Backbone levels, each [N, C_l, h_l, w_l].
        in_index (Sequence[int]): Levels used, the first sets the size.

    Returns:
        Tensor: [N, sum C_l, h, w].
    """
    x = [levels[i] for i in in_index]
    size = x[0].shape[-2:]
    # a level already at the size is used as is (interpolating it would only copy it)
    return torch.cat([x[0]] + [
        t if t.shape[-2:] == size else
        resize(t, size=size, mode='bilinear', align_corners=align_corners) for t in x[1:]
    ], dim=1)
