"""VGG with batch norm in PFENet's and BAM's layout, as an mmseg backbone."""
from typing import List, Optional, Sequence, Tuple

import torch.nn as nn
from mmcv.cnn import build_norm_layer
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from mmseg.utils import OptConfigType
from torch import Tensor
from torch.nn.modules.batchnorm import _BatchNorm

__all__ = ['VGG', 'VGG_ARCHS']

# torchvision's (and PFENet's model/vgg.py) layer lists: channels, 'M' = max pooling
VGG_ARCHS = {
    11: (64, 'M', 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'),
    13: (64, 64, 'M', 128, 128, 'M', 256, 256, 'M', 512, 512, 'M', 512, 512, 'M'),
    16: (64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512,
         'M'),
    19: (64, 64, 'M', 128, 128, 'M', 256, 256, 256, 256, 'M', 512, 512, 512, 512, 'M', 512,
         512, 512, 512, 'M'),
}


@MODELS.register_module()
class VGG(BaseModule):
    """VGG (with batch norm) whose stages end at its max poolings: PFENet's and BAM's split.

    ``features`` is the ``nn.Sequential`` of torchvision's ``vgg*_bn`` (conv 3x3 with bias,
    batch norm, ReLU per layer; 2x2 max pooling), so ImageNet weights in torchvision's
    layout (``features.N.*``, e.g. ``vgg16_bn.pth`` that PFENet and BAM load) load by name.
    PFENet (``model/PFENet.py``, ``get_vgg16_layer``) and BAM split it into five stages that
    end after each pooling, the last one without its pooling (``features[34:43]`` of
    VGG-16-BN): stage outputs at 1/2, 1/4, 1/8, 1/16, 1/16; channels 64, 128, 256, 512, 512.
    Their pooling uses ``ceil_mode=True`` (PFENet's ``make_layers``; torchvision's does not):
    a 473 input gives 237, 119, 60, 30.

    Args:
        depth (int): 11, 13, 16 or 19.
        out_indices (Sequence[int]): Stages returned (0-4). Defaults to (1, 2, 3, 4): the
            levels PFENet reads as layer1-layer4, as the ResNets' ``out_indices=(0, 1, 2,
            3)``.
        norm_cfg (dict, optional): Norm layer; None: the plain VGG (no batch norm).
        ceil_mode (bool): Max pooling rounds up (PFENet, BAM).
        with_last_pool (bool): Keep the pooling that ends the last stage (PFENet, BAM: no).
        norm_eval (bool): Keep the batch norms in eval mode while training.
        init_cfg (dict, optional): e.g. ``dict(type='Pretrained',
            checkpoint='pretrain/vgg16_bn.pth')``.
    """

    def __init__(self,
                 depth: int = 16,
                 out_indices: Sequence[int] = (1, 2, 3, 4),
                 norm_cfg: OptConfigType = dict(type='BN', requires_grad=True),
                 ceil_mode: bool = True,
                 with_last_pool: bool = False,
                 norm_eval: bool = False,
                 init_cfg: OptConfigType = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if depth not in VGG_ARCHS:
            raise ValueError(f'VGG depth must be one of {sorted(VGG_ARCHS)}, got {depth!r}')
        self.depth = depth
        self.out_indices = tuple(out_indices)
        if not self.out_indices or any(not 0 <= i <= 4 for i in self.out_indices) or \
                list(self.out_indices) != sorted(set(self.out_indices)):
            raise ValueError(f'out_indices must be increasing stages in 0..4, got {out_indices}')
        self.norm_eval = norm_eval
        layers: List[nn.Module] = []
        self.stage_ends: List[int] = []  # index in features after which each stage ends
        in_channels = 3
        arch = VGG_ARCHS[depth]
        for n, value in enumerate(arch):
            if value == 'M':
                if n < len(arch) - 1 or with_last_pool:
                    layers.append(nn.MaxPool2d(kernel_size=2, stride=2, ceil_mode=ceil_mode))
                self.stage_ends.append(len(layers))
                continue
            layers.append(nn.Conv2d(in_channels, value, 3, padding=1))
            if norm_cfg is not None:
                layers.append(build_norm_layer(norm_cfg, value)[1])
            layers.append(nn.ReLU(inplace=True))
            in_channels = value
        self.features = nn.Sequential(*layers)

    def stage_range(self, stage: int) -> Tuple[int, int]:
        """[start, end) of stage ``stage`` in ``features``."""
        return (0 if stage == 0 else self.stage_ends[stage - 1]), self.stage_ends[stage]

    def run_stages(self, x: Tensor, first: int, last: int) -> Tensor:
        """Stages ``first`` .. ``last`` (inclusive) applied to ``x``."""
        start, _ = self.stage_range(first)
        _, end = self.stage_range(last)
        for module in self.features[start:end]:
            x = module(x)
        return x

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """Outputs of the stages ``out_indices``: [B, C_s, H / 2^(s+1), ...] each (the last
        stage at the fourth's resolution without its pooling)."""
        outs = []
        for stage in range(max(self.out_indices) + 1):
            x = self.run_stages(x, stage, stage)
            if stage in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def train(self, mode: bool = True) -> 'VGG':
        super().train(mode)
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self
