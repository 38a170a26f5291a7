"""HSNet's hypercorrelation squeeze learner as an mmseg decode head."""
from typing import List, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, SampleList
from torch import Tensor

from ..utils import EpisodeFeatures, class_argmax, decode_losses, foreground_weights
from ..utils.center_pivot_conv4d import CenterPivotConv4d

__all__ = ['HypercorrelationHead', 'hypercorrelation', 'fuse_shots', 'SHOT_FUSIONS']

SHOT_FUSIONS = ('vote', 'mean')


def hypercorrelation(query_feats: Sequence[Tensor], support_feats: Sequence[Tensor],
                     eps: float = 1e-5) -> List[Tensor]:
    """HSNet's multi-layer correlation (``model/base/correlation.py``): per level the cosine
    similarity of every query position with every (masked) support position, clamped at 0.

    Args:
        query_feats: levels [B, C_l, Hq_l, Wq_l].
        support_feats: the same levels of the masked supports [B, C_l, Hs_l, Ws_l].
        eps (float): Added to the norms (HSNet 1e-5).

    Returns:
        list[Tensor]: [B, Hq_l, Wq_l, Hs_l, Ws_l] per level.
    """
    out = []
    for q, s in zip(query_feats, support_feats):
        b, c, hq, wq = q.shape
        hs, ws = s.shape[-2:]
        q = q.flatten(2)
        s = s.flatten(2)
        q = q / (q.norm(dim=1, keepdim=True) + eps)
        s = s / (s.norm(dim=1, keepdim=True) + eps)
        out.append(torch.bmm(q.transpose(1, 2), s).view(b, hq, wq, hs, ws).clamp(min=0))
    return out


def fuse_shots(logits: Sequence[Tensor], size, mode: str, training: bool,
               align_corners: bool = True) -> Tensor:
    """HSNet's K-shot fusion of per-shot logits [B, 2, h, w]: their mean in training or with
    ``mode='mean'``; else HSNet's vote (``predict_mask_nshot``: each shot's argmax at the
    input ``size``, the votes over the largest per episode (at least 1), object where >= 0.5)
    as one-hot logits [B, 2, *size]."""
    if len(logits) == 1:
        return logits[0]
    if training or mode == 'mean':
        return torch.stack(list(logits)).mean(0)
    votes = sum(class_argmax(F.interpolate(x, size, mode='bilinear',
                                           align_corners=align_corners), dim=1)
                for x in logits)
    peak = votes.flatten(1).max(dim=1).values.clamp(min=1).view(-1, 1, 1)
    fg = (votes.float() / peak >= 0.5).float()
    return torch.stack([1 - fg, fg], 1)


def _block(in_channels: int, channels: Sequence[int], kernels: Sequence[int],
           strides: Sequence[int], groups: int = 4) -> nn.Sequential:
    """HSNet's building block: per layer a center-pivot 4D conv (support stride), GroupNorm
    and ReLU."""
    layers: List[nn.Module] = []
    for i, (out, k, s) in enumerate(zip(channels, kernels, strides)):
        layers += [CenterPivotConv4d(in_channels if i == 0 else channels[i - 1], out, (k, ) * 4,
                                     (1, 1, s, s), (k // 2, ) * 4),
                   nn.GroupNorm(groups, out), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


@MODELS.register_module()
class HypercorrelationHead(BaseDecodeHead):
    """HSNet's 4D learner (*Hypercorrelation Squeeze for Few-Shot Segmentation*, Juhong Min,
    Dahyun Kang and Minsu Cho, ICCV 2021; reference code juhongm999/hsnet ``model/hsnet.py``,
    ``model/learner.py``) over the hypercolumn levels of
    :class:`~mmfss.models.HypercolumnResNet`:

    1. Each support level is multiplied by the support mask resized bilinearly
       (align_corners=True) to it; :func:`hypercorrelation` of every level; the levels
       stacked into one 4D tensor per backbone stage (``group_sizes``, in level order: the
       blocks of layer2, layer3, layer4).
    2. Squeezing blocks per stage (center-pivot 4D convs to 16, 64, 128 channels, GroupNorm
       with 4 groups, ReLU; support strides 2/2/2 for layer4, 4/2/2 for layer3, 4/4/2 for
       layer2, kernels as HSNet), mixing blocks (layer4 -> 3 -> 2: support dimensions
       resized bilinearly, summed, three 128-channel blocks each), the mean over the support
       dimensions, then the 2D decoder (two 3x3 convs to 128 / 64 with ReLU, x2 bilinear
       upsampling, 3x3 64 with ReLU, 3x3 to the 2 logits).
    3. K shots: one forward per shot. ``shot_fusion='vote'`` (HSNet's ``predict_mask_nshot``,
       default): each shot's prediction at the input size (logits resized with
       align_corners=True, argmax) is voted, the votes divided by the largest per episode
       (at least 1) and the object is where that is >= 0.5; the head returns
       one-hot logits of that mask at the input size. ``'mean'``: the shots' logits
       averaged. Training with K > 1 averages the logits (HSNet trains 1-shot).

    The loss is mmseg's cross-entropy on the logits resized to the label (align_corners).
    HSNet's own loss has no ignore label (its boundary pixels are background there); mmfss
    ignores the label's 255 pixels as everywhere else.

    Args:
        group_sizes (Sequence[int]): Levels per backbone stage in level order (ResNet-50:
            (4, 6, 3); ResNet-101: (4, 23, 3)).
        shot_fusion (str): ``'vote'`` or ``'mean'``.
        corr_eps (float): Epsilon of the cosine (HSNet 1e-5).
        **kwargs: :class:`BaseDecodeHead` arguments (``in_channels``/``channels`` unused
            placeholders; ``loss_decode``, ``align_corners=True``).

    Shapes:
        input: ``EpisodeFeatures`` whose levels are the hypercolumn, support masks
        [B, K, Hs, Ws]. Output: [B, 2, H/4, W/4] logits (the vote: [B, 2, H, W]).
    """

    def __init__(self, group_sizes: Sequence[int] = (4, 6, 3), shot_fusion: str = 'vote',
                 corr_eps: float = 1e-5, **kwargs) -> None:
        kwargs.setdefault('in_channels', 1)
        kwargs.setdefault('channels', 1)
        kwargs.setdefault('num_classes', 2)
        kwargs.setdefault('align_corners', True)
        kwargs.setdefault('init_cfg', None)  # PyTorch's initialisation, as HSNet
        super().__init__(**kwargs)
        if shot_fusion not in SHOT_FUSIONS:
            raise ValueError(f'shot_fusion must be one of {SHOT_FUSIONS}, got {shot_fusion!r}')
        if len(group_sizes) != 3 or any(n < 1 for n in group_sizes):
            raise ValueError(f'group_sizes must give the levels of three stages, got '
                             f'{group_sizes}')
        self.group_sizes = tuple(group_sizes)
        self.shot_fusion = shot_fusion
        self.corr_eps = corr_eps
        n2, n3, n4 = self.group_sizes
        c1, c2, c3 = 16, 64, 128
        self.encoder_layer4 = _block(n4, [c1, c2, c3], [3, 3, 3], [2, 2, 2])
        self.encoder_layer3 = _block(n3, [c1, c2, c3], [5, 3, 3], [4, 2, 2])
        self.encoder_layer2 = _block(n2, [c1, c2, c3], [5, 5, 3], [4, 4, 2])
        self.encoder_layer4to3 = _block(c3, [c3, c3, c3], [3, 3, 3], [1, 1, 1])
        self.encoder_layer3to2 = _block(c3, [c3, c3, c3], [3, 3, 3], [1, 1, 1])
        self.decoder1 = nn.Sequential(nn.Conv2d(c3, c3, 3, padding=1), nn.ReLU(),
                                      nn.Conv2d(c3, c2, 3, padding=1), nn.ReLU())
        self.decoder2 = nn.Sequential(nn.Conv2d(c2, c2, 3, padding=1), nn.ReLU(),
                                      nn.Conv2d(c2, 2, 3, padding=1))
        self.conv_seg = None  # decoder2 is the classifier
        self.dropout = None

    @staticmethod
    def _resize_query(x: Tensor, size) -> Tensor:
        b, c, hq, wq, hs, ws = x.shape
        x = x.permute(0, 4, 5, 1, 2, 3).reshape(b * hs * ws, c, hq, wq)
        x = F.interpolate(x, size, mode='bilinear', align_corners=True)
        return x.view(b, hs, ws, c, *size).permute(0, 3, 4, 5, 1, 2)

    def learner(self, pyramid: Sequence[Tensor]) -> Tensor:
        """HSNet's HPNLearner on [corr layer4, corr layer3, corr layer2]: [B, 2, h, w]."""
        sqz4 = self.encoder_layer4(pyramid[0])
        sqz3 = self.encoder_layer3(pyramid[1])
        sqz2 = self.encoder_layer2(pyramid[2])
        # the coarser stage's query dimensions resized to the finer one's (HSNet's
        # interpolate_support_dims; the support dimensions already agree after the strides)
        mix43 = self.encoder_layer4to3(self._resize_query(sqz4, sqz3.shape[2:4]) + sqz3)
        mix432 = self.encoder_layer3to2(self._resize_query(mix43, sqz2.shape[2:4]) + sqz2)
        encoded = mix432.flatten(4).mean(dim=-1)
        decoded = self.decoder1(encoded)
        size = (decoded.shape[-1] * 2, ) * 2
        decoded = F.interpolate(decoded, size, mode='bilinear', align_corners=True)
        return self.decoder2(decoded)

    def one_shot(self, feats: EpisodeFeatures, shot: int) -> Tensor:
        """The logits of one shot's episode: [B, 2, h, w]."""
        masks = feats.support_masks[:, shot]
        query, support = [], []
        for q, s in zip(feats.query_feats, feats.support_feats):
            s = s[:, shot]
            support.append(s * foreground_weights(masks, s.shape[-2:]))
            query.append(q)
        corrs = hypercorrelation(query, support, self.corr_eps)
        n2, n3, _ = self.group_sizes
        groups = [corrs[n2 + n3:], corrs[n2:n2 + n3], corrs[:n2]]
        return self.learner([torch.stack(g, 1) for g in groups])

    def forward(self, feats: EpisodeFeatures) -> Tensor:
        expected = sum(self.group_sizes)
        if len(feats.query_feats) != expected:
            raise ValueError(f'HypercorrelationHead(group_sizes={self.group_sizes}) reads '
                             f'{expected} hypercolumn levels, got {len(feats.query_feats)}: '
                             'use HypercolumnResNet and its group_sizes')
        return fuse_shots([self.one_shot(feats, i) for i in range(feats.shot)],
                          feats.query_inputs.shape[-2:], self.shot_fusion, self.training,
                          self.align_corners)

    def loss(self, inputs: EpisodeFeatures, batch_data_samples: SampleList,
             train_cfg: ConfigType) -> dict:
        """mmseg's decode losses and accuracy without host synchronisations."""
        return decode_losses(self, self.forward(inputs), self._stack_batch_gt(batch_data_samples))
