from typing import Optional

import torch.nn as nn
from mmcv.cnn import ConvModule
from mmseg.models.decode_heads import PSPHead
from mmseg.registry import MODELS

__all__ = ['PSPBottleneckHead']


@MODELS.register_module()
class PSPBottleneckHead(PSPHead):
    """mmseg's :class:`~mmseg.models.decode_heads.PSPHead` with the width of its pyramid
    branches and of its bottleneck set apart.

    PSPNet's code (and BAM's base learners, chunbolang/BAM ``model/PSPNet.py``) reduces each
    pyramid branch to ``in_channels / len(pool_scales)`` and maps the concatenation to 512
    channels: with a ResNet (2048 in) both widths are 512, mmseg's ``PSPHead(channels=512)``;
    with VGG-16 (512 in) the branches have 128 channels and the bottleneck 512, which one
    ``channels`` cannot say.

    Args:
        bottleneck_channels (int, optional): Output channels of the 3x3 bottleneck and input
            of the classifier; None: ``channels`` (mmseg's ``PSPHead``).
        **kwargs: See :class:`~mmseg.models.decode_heads.PSPHead` (``channels``: the width of
            each pyramid branch).

    Shapes:
        input: the levels of ``in_index``, e.g. [B, 512, h, w] (VGG-16's last stage).
        output: [B, num_classes, h, w].
    """

    def __init__(self, bottleneck_channels: Optional[int] = None, **kwargs) -> None:
        super().__init__(**kwargs)
        if bottleneck_channels is None or bottleneck_channels == self.channels:
            return
        self.bottleneck = ConvModule(
            self.in_channels + len(self.pool_scales) * self.channels,
            bottleneck_channels,
            3,
            padding=1,
            conv_cfg=self.conv_cfg,
            norm_cfg=self.norm_cfg,
            act_cfg=self.act_cfg)
        self.conv_seg = nn.Conv2d(bottleneck_channels, self.out_channels, kernel_size=1)
        self.bottleneck_channels = bottleneck_channels
