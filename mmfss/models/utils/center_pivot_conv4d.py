"""Center-pivot 4D convolution over a correlation tensor."""
from typing import Sequence

import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

__all__ = ['CenterPivotConv4d']


class CenterPivotConv4d(nn.Module):
    """HSNet's center-pivot 4D convolution (Min et al., *Hypercorrelation Squeeze for
    Few-Shot Segmentation*, ICCV 2021; reference code juhongm999/hsnet
    ``model/base/conv4d.py``): a 4D kernel restricted to its two center-pivot slices, i.e. a
    2D convolution over the query dimensions (applied at every support position kept by the
    support stride) plus a 2D convolution over the support dimensions (at every query
    position), summed.

    Args:
        in_channels (int): Input channels.
        out_channels (int): Output channels.
        kernel_size (Sequence[int]): (kq_h, kq_w, ks_h, ks_w).
        stride (Sequence[int]): (sq_h, sq_w, ss_h, ss_w); HSNet strides the support
            dimensions only.
        padding (Sequence[int]): (pq_h, pq_w, ps_h, ps_w).
        bias (bool): Biases of both 2D convolutions.
        groups (int): Groups of both 2D convolutions (``in_channels``: FoundationFSS's
            depth-wise ``DWConv4d``, DUT-CSJ/FoundationFSS ``model/base/conv4d.py``).

    Shapes:
        input: [B, C, Hq, Wq, Hs, Ws]; output: [B, C', Hq', Wq', Hs', Ws'].
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Sequence[int],
                 stride: Sequence[int], padding: Sequence[int], bias: bool = True,
                 groups: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, tuple(kernel_size[:2]),
                               stride=tuple(stride[:2]), padding=tuple(padding[:2]), bias=bias,
                               groups=groups)
        self.conv2 = nn.Conv2d(in_channels, out_channels, tuple(kernel_size[2:]),
                               stride=tuple(stride[2:]), padding=tuple(padding[2:]), bias=bias,
                               groups=groups)
        self.support_stride = tuple(stride[2:])

    def forward(self, x: Tensor) -> Tensor:
        b, c, hq, wq, hs, ws = x.shape
        sh, sw = self.support_stride
        # the query slice at every support position the support stride keeps (HSNet "prune")
        pruned = x[..., ::sh, ::sw] if (sh, sw) != (1, 1) else x
        hs1, ws1 = pruned.shape[-2:]
        out1 = self.conv1(pruned.permute(0, 4, 5, 1, 2, 3).reshape(-1, c, hq, wq))
        out1 = out1.view(b, hs1, ws1, *out1.shape[1:]).permute(0, 3, 4, 5, 1, 2)
        flat = x.permute(0, 2, 3, 1, 4, 5).reshape(-1, c, hs, ws)
        kh, kw = self.conv2.kernel_size
        ph, pw = self.conv2.padding
        single = ((hs + 2 * ph - kh) // sh + 1, (ws + 2 * pw - kw) // sw + 1) == (1, 1)
        if single and self.conv2.stride != (1, 1):
            # a strided convolution with one output position is its stride-1 convolution's
            # first position (torch 2.14's CPU bfloat16 kernel returns NaN weight gradients
            # for a strided convolution with a 1x1 output, e.g. a 1x1 or 2x2 map at stride
            # 4; measured, see tests)
            out2 = F.conv2d(flat, self.conv2.weight, self.conv2.bias, stride=1,
                            padding=self.conv2.padding, groups=self.conv2.groups)[..., :1, :1]
        else:
            out2 = self.conv2(flat)
        out2 = out2.view(b, hq, wq, *out2.shape[1:]).permute(0, 3, 1, 2, 4, 5)
        return out1 + out2
