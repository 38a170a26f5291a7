"""A convolution over concatenated inputs computed as the sum of its parts' responses."""
from typing import Optional

import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from torch import Tensor

__all__ = ['splits_by_channels', 'conv_channels', 'after_conv']

_CONV_FNS = {nn.Conv1d: F.conv1d, nn.Conv2d: F.conv2d}


def splits_by_channels(module: ConvModule) -> bool:
    """Whether ``module``'s convolution of ``cat([a, b], 1)`` equals
    ``conv_channels(module, a, 0, ca, bias=True) + conv_channels(module, b, ca, ca + cb)``
    followed by :func:`after_conv`: a plain ``nn.Conv1d`` / ``nn.Conv2d`` (zero padding, one
    group, no explicit padding layer) that runs first in the module's order."""
    conv = module.conv
    return (type(conv) in _CONV_FNS and conv.groups == 1 and conv.padding_mode == 'zeros'
            and not module.with_explicit_padding and module.order[0] == 'conv')


def conv_channels(module: ConvModule, x: Tensor, start: int, stop: int,
                  bias: bool = False) -> Tensor:
    """The response of ``module``'s convolution to input channels ``[start, stop)`` only.

    A convolution is linear in its input channels, so its response to a concatenation is
    the sum of the responses to the parts (one of them with the bias); a part that stays the
    same over several calls is then convolved once.

    Args:
        module (ConvModule): With :func:`splits_by_channels` true.
        x (Tensor): [N, stop - start, *spatial], the input's channels ``[start, stop)``.
        start (int): First input channel of the part.
        stop (int): One past its last input channel.
        bias (bool): Add the convolution's bias (to exactly one part).

    Returns:
        Tensor: [N, out_channels, *spatial'], before the module's norm and activation.
    """
    conv = module.conv
    b: Optional[Tensor] = conv.bias if bias else None
    return _CONV_FNS[type(conv)](x, conv.weight[:, start:stop], b, conv.stride, conv.padding,
                                 conv.dilation)


def after_conv(module: ConvModule, x: Tensor) -> Tensor:
    """The rest of ``module`` (its norm and activation, in its order) on its conv's output
    ``x``."""
    for layer in module.order[1:]:
        if layer == 'norm' and module.with_norm:
            x = module.norm(x)
        elif layer == 'act' and module.with_activation:
            x = module.activate(x)
    return x
