"""A ResNet that returns every bottleneck's output: HSNet's hypercolumn features."""
from typing import List, Sequence, Tuple

import torch
from mmseg.models.backbones import ResNet
from mmseg.registry import MODELS
from torch import Tensor

__all__ = ['HypercolumnResNet']


@MODELS.register_module()
class HypercolumnResNet(ResNet):
    """mmseg's ResNet returning the output of every residual block of ``stages`` *before its
    last ReLU* (HSNet ``model/base/feature.py`` ``extract_feat_res``: the sum of the residual
    branch and the shortcut), one level per block: 13 levels for ResNet-50 with stages 2-4
    (4 + 6 + 3), 30 for ResNet-101 (4 + 23 + 3).

    HSNet uses torchvision's ResNet (7x7 stem, stride in the 3x3 conv, no dilation), which is
    mmseg's ``ResNet(style='pytorch')`` with torchvision's key names; its ImageNet weights
    load with ``init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50')`` or
    from a file. The stages of this backbone are not addressed by PFENet's prior (its levels
    are blocks, not stages).

    Args:
        stages (Sequence[int]): 0-based stages whose blocks are returned (HSNet: 1, 2, 3 =
            layer2, layer3, layer4).
        **kwargs: :class:`mmseg.models.backbones.ResNet` arguments.
    """

    run_stage = None  # levels are blocks: no stage runner (see backbone_stages)

    def __init__(self, stages: Sequence[int] = (1, 2, 3), **kwargs) -> None:
        kwargs.setdefault('out_indices', (0, 1, 2, 3))
        super().__init__(**kwargs)
        self.stages = tuple(stages)
        if not self.stages or any(not 0 <= s < self.num_stages for s in self.stages):
            raise ValueError(f'stages must be in 0..{self.num_stages - 1}, got {stages}')

    @property
    def group_sizes(self) -> List[int]:
        """Levels per stage, in level order (e.g. [4, 6, 3] for ResNet-50)."""
        return [len(getattr(self, self.res_layers[s])) for s in self.stages]

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        if self.deep_stem:
            x = self.stem(x)
        else:
            x = self.relu(self.norm1(self.conv1(x)))
        x = self.maxpool(x)
        outs = []
        for i, name in enumerate(self.res_layers[:max(self.stages) + 1]):
            for block in getattr(self, name):
                if i in self.stages:
                    x = self._pre_relu(block, x)
                    outs.append(x)
                    x = torch.relu(x)  # not the block's in-place ReLU: x is a level
                else:
                    x = block(x)
        return tuple(outs)

    @staticmethod
    def _pre_relu(block, x: Tensor) -> Tensor:
        """A block's output before its final ReLU (BasicBlock or Bottleneck)."""
        identity = x if block.downsample is None else block.downsample(x)
        out = block.relu(block.norm1(block.conv1(x)))
        if hasattr(block, 'conv3'):
            out = block.relu(block.norm2(block.conv2(out)))
            out = block.norm3(block.conv3(out))
        else:
            out = block.norm2(block.conv2(out))
        return out + identity
