"""FoundationFSS's 4D learner over the correlations of every layer of a foundation model."""
from typing import List

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, SampleList
from torch import Tensor

from ..utils import EpisodeFeatures, decode_losses, foreground_weights
from ..utils.center_pivot_conv4d import CenterPivotConv4d
from .hypercorrelation_head import SHOT_FUSIONS, _block, fuse_shots, hypercorrelation

__all__ = ['LayerCorrelationHead']


def _separable_block(channels: int, depth: int = 3, groups: int = 4) -> nn.Sequential:
    """FoundationFSS's mixing block (``make_building_block_dwconv``): per layer a depth-wise
    center-pivot 4D conv (3x3, stride 1), a point-wise one (1x1), GroupNorm and ReLU."""
    layers: List[nn.Module] = []
    for _ in range(depth):
        layers += [CenterPivotConv4d(channels, channels, (3, ) * 4, (1, ) * 4, (1, ) * 4,
                                     groups=channels),
                   CenterPivotConv4d(channels, channels, (1, ) * 4, (1, ) * 4, (0, ) * 4),
                   nn.GroupNorm(groups, channels), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


@MODELS.register_module()
class LayerCorrelationHead(BaseDecodeHead):
    """FoundationFSS's learner (*High-Performance Few-Shot Segmentation with Foundation
    Models: An Empirical Study*, arXiv:2409.06305; reference code DUT-CSJ/FoundationFSS
    ``model/dino_fss.py``: DINOv2 ViT-B/14 with HSNet's 4D learner):

    1. The correlation of every backbone level (FoundationFSS: the 12 blocks of DINOv2,
       layer-normed, as ``get_intermediate_layers(n=range(12))``) between the query and the
       support, clamped cosine (HSNet's :func:`hypercorrelation`), the levels stacked as the
       channels of one 4D tensor [B, L, hq, wq, hs, ws]. The supports are masked at the input
       (``FewShotSegmentor(mask_support_input=True)``, as FoundationFSS multiplies the image);
       ``mask_features`` also masks each support level (HSNet's way).
    2. HSNet's squeezing block (center-pivot 4D convs to 16, 64, 128 channels, kernels 3,
       support strides 2/2/2, GroupNorm(4), ReLU), then two residual mixing blocks of
       depth-wise + point-wise center-pivot 4D convs (``x = mix(x) + x`` twice), the mean over
       the support dimensions and HSNet's 2D decoder (3x3 128 / 64 with ReLU, x2 bilinear,
       3x3 64 with ReLU, 3x3 to 2 logits).
    3. K shots: one forward per shot and HSNet's vote (``shot_fusion``, as
       :class:`HypercorrelationHead`).

    Args:
        num_levels (int): Correlation channels: the levels read (all of them).
        mask_features (bool): Also multiply each support level by its mask resized
            bilinearly (False: FoundationFSS masks only the image).
        shot_fusion (str): ``'vote'`` (default) or ``'mean'``.
        corr_eps (float): Cosine epsilon (1e-5).
        **kwargs: :class:`BaseDecodeHead` arguments (``loss_decode``, ``align_corners``).

    Shapes:
        input: ``EpisodeFeatures`` with ``num_levels`` levels; output [B, 2, 2 hq', 2 wq'].
    """

    def __init__(self, num_levels: int = 12, mask_features: bool = False,
                 shot_fusion: str = 'vote', corr_eps: float = 1e-5, **kwargs) -> None:
        kwargs.setdefault('in_channels', 1)
        kwargs.setdefault('channels', 1)
        kwargs.setdefault('num_classes', 2)
        kwargs.setdefault('align_corners', True)
        kwargs.setdefault('init_cfg', None)  # PyTorch's initialisation, as FoundationFSS
        super().__init__(**kwargs)
        if shot_fusion not in SHOT_FUSIONS:
            raise ValueError(f'shot_fusion must be one of {SHOT_FUSIONS}, got {shot_fusion!r}')
        if not (isinstance(num_levels, int) and num_levels >= 1):
            raise ValueError(f'num_levels must be an int >= 1, got {num_levels!r}')
        self.num_levels, self.mask_features = num_levels, mask_features
        self.shot_fusion, self.corr_eps = shot_fusion, corr_eps
        c1, c2, c3 = 16, 64, 128
        self.encoder_layer4 = _block(num_levels, [c1, c2, c3], [3, 3, 3], [2, 2, 2])
        self.encoder_layer4to3 = _separable_block(c3)
        self.encoder_layer3to2 = _separable_block(c3)
        self.decoder1 = nn.Sequential(nn.Conv2d(c3, c3, 3, padding=1), nn.ReLU(),
                                      nn.Conv2d(c3, c2, 3, padding=1), nn.ReLU())
        self.decoder2 = nn.Sequential(nn.Conv2d(c2, c2, 3, padding=1), nn.ReLU(),
                                      nn.Conv2d(c2, 2, 3, padding=1))
        self.conv_seg = None  # decoder2 is the classifier
        self.dropout = None

    def learner(self, corr: Tensor) -> Tensor:
        """[B, L, hq, wq, hs, ws] correlations -> [B, 2, 2 hq', 2 wq'] logits."""
        x = self.encoder_layer4(corr)
        x = self.encoder_layer4to3(x) + x
        x = self.encoder_layer3to2(x) + x
        decoded = self.decoder1(x.flatten(4).mean(dim=-1))
        size = (decoded.shape[-1] * 2, ) * 2
        decoded = F.interpolate(decoded, size, mode='bilinear', align_corners=True)
        return self.decoder2(decoded)

    def one_shot(self, feats: EpisodeFeatures, shot: int) -> Tensor:
        masks = feats.support_masks[:, shot]
        support = [s[:, shot] for s in feats.support_feats]
        if self.mask_features:
            support = [s * foreground_weights(masks, s.shape[-2:]) for s in support]
        corrs = hypercorrelation(list(feats.query_feats), support, self.corr_eps)
        return self.learner(torch.stack(corrs, 1))

    def forward(self, feats: EpisodeFeatures) -> Tensor:
        if len(feats.query_feats) != self.num_levels:
            raise ValueError(f'LayerCorrelationHead(num_levels={self.num_levels}) reads every '
                             f'level as a correlation channel, got {len(feats.query_feats)} '
                             'levels: set num_levels to the backbone\'s out_indices count')
        return fuse_shots([self.one_shot(feats, i) for i in range(feats.shot)],
                          feats.query_inputs.shape[-2:], self.shot_fusion, self.training,
                          self.align_corners)

    def loss(self, inputs: EpisodeFeatures, batch_data_samples: SampleList,
             train_cfg: ConfigType) -> dict:
        """mmseg's decode losses and accuracy without host synchronisations."""
        return decode_losses(self, self.forward(inputs), self._stack_batch_gt(batch_data_samples))
