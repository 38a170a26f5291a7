"""Nodes of a feature grid pooled to s x s cells, and values on the cells brought back."""
from typing import Sequence, Tuple

import torch.nn.functional as F
from torch import Tensor

__all__ = ['NodeGrid']


class NodeGrid:
    """Pools flattened grid nodes [N, C, h*w] to s x s cells and resizes cell values back.

    The speed options of CMNet's necks (``MessageFlowNeck(message_stride)``,
    ``PartialOTMatchingNeck(matching_stride)``) compute on cell averages instead of nodes.
    A cell averages the nodes it holds (``ceil_mode``: a partial cell at the border averages
    its own nodes only); a value computed per cell is resized bilinearly (half-pixel, as
    ``align_corners=False``) to every node. ``stride=1`` is the identity both ways.

    Args:
        size (tuple[int, int]): The node grid (h, w).
        stride (int): Cell side s (>= 1).
    """

    def __init__(self, size: Sequence[int], stride: int) -> None:
        self.size: Tuple[int, int] = (int(size[0]), int(size[1]))
        self.stride = stride

    @property
    def cells(self) -> Tuple[int, int]:
        """The cell grid (ceil(h/s), ceil(w/s))."""
        h, w = self.size
        return -(-h // self.stride), -(-w // self.stride)

    def pool(self, x: Tensor) -> Tensor:
        """[N, C, h*w] nodes -> [N, C, cells] cell averages."""
        if self.stride == 1:
            return x
        s = self.stride
        return F.avg_pool2d(x.unflatten(-1, self.size), s, s, ceil_mode=True).flatten(-2)

    def unpool(self, x: Tensor) -> Tensor:
        """[N, C, cells] cell values -> [N, C, h*w], resized bilinearly to every node."""
        if self.stride == 1:
            return x
        return F.interpolate(x.unflatten(-1, self.cells), size=self.size, mode='bilinear',
                             align_corners=False).flatten(-2)
