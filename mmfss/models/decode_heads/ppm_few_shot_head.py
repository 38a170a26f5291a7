from typing import Sequence

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.decode_heads.psp_head import PPM
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from torch import Tensor

from ..utils import (EpisodeFeatures, foreground_weights, masked_average_pooling,
                     shared_forward)

__all__ = ['PPMFewShotHead']


@MODELS.register_module()
class PPMFewShotHead(BaseDecodeHead):
    """Few-shot decode head: PSPNet's pyramid pooling over query, prototype and priors.

    1. The backbone levels ``in_index`` of the query and of each support are resized to the
       first one and concatenated (``input_transform='resize_concat'``; PFENet concatenates
       layer2 and layer3), then reduced to ``channels`` by a shared 1x1 conv.
    2. The support prototype is the masked average pooling of the reduced support features
       over the resized foreground mask, averaged over the K shots (weighted by
       ``EpisodeFeatures.shot_weights`` when set: BAM's K-shot reweighting).
    3. Query features, the prototype expanded over the query grid and the prior maps named in
       ``prior_keys`` are concatenated and merged by a 1x1 conv.
    4. mmseg's :class:`~mmseg.models.decode_heads.psp_head.PPM` and a 3x3 bottleneck, as in
       PSPHead, then ``cls_seg`` gives [B, num_classes=2, h, w] logits.
    5. Optional CANet-style iterative mask refinement (``refine_iters > 0``; CANet's
       iterative optimisation module, used by CMNet's "MR"): ``refine_iters`` times,
       ``x_t = x + R(concat(x, softmax(logits_{t-1})))`` with a small residual block R (two
       3x3 convs; weights shared across iterations, as CANet) and
       ``logits_t = cls_seg(x_t)``; the last logits are the output (and what the loss sees).

    Args:
        pool_scales (Sequence[int]): PPM pooling scales. Defaults to (1, 2, 3, 6).
        prior_keys (Sequence[str]): Priors of :class:`EpisodeFeatures` to use, in order.
        refine_iters (int): Mask refinement iterations (0: none).
        **kwargs: :class:`~mmseg.models.decode_heads.decode_head.BaseDecodeHead` arguments
            (``in_channels`` a list matching ``in_index``, ``channels``, ``num_classes=2``,
            ``loss_decode``, ...).
    """

    def __init__(self, pool_scales: Sequence[int] = (1, 2, 3, 6),
                 prior_keys: Sequence[str] = ('prior', ), refine_iters: int = 0,
                 **kwargs) -> None:
        kwargs.setdefault('input_transform', 'resize_concat')
        kwargs.setdefault('num_classes', 2)
        super().__init__(**kwargs)
        if self.num_classes != 2:
            raise ValueError(f'PPMFewShotHead predicts background/foreground: num_classes must '
                             f'be 2, got {self.num_classes}')
        self.prior_keys = tuple(prior_keys)
        cfg = dict(conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg, act_cfg=self.act_cfg)
        self.reduce = ConvModule(self.in_channels, self.channels, 1, **cfg)
        self.merge = ConvModule(2 * self.channels + len(self.prior_keys), self.channels, 1,
                                **cfg)
        self.psp_modules = PPM(pool_scales, self.channels, self.channels,
                               align_corners=self.align_corners, **cfg)
        self.bottleneck = ConvModule(
            self.channels * (len(pool_scales) + 1), self.channels, 3, padding=1, **cfg)
        if not (isinstance(refine_iters, int) and refine_iters >= 0):
            raise ValueError(f'refine_iters must be an int >= 0, got {refine_iters!r}')
        self.refine_iters = refine_iters
        if refine_iters:
            self.refine = nn.Sequential(
                ConvModule(self.channels + self.num_classes, self.channels, 3, padding=1,
                           **cfg),
                ConvModule(self.channels, self.channels, 3, padding=1,
                           conv_cfg=self.conv_cfg, norm_cfg=self.norm_cfg, act_cfg=None))

    def forward(self, feats: EpisodeFeatures) -> Tensor:
        """[B, 2, h, w] logits at the resolution of the first ``in_index`` level."""
        b, k = feats.batch_size, feats.shot
        query, support = shared_forward(
            self.reduce, self._transform_inputs(feats.query_feats),
            self._transform_inputs([f.flatten(0, 1) for f in feats.support_feats]))
        weights = foreground_weights(feats.support_masks.flatten(0, 1), support.shape[-2:])
        prototype = feats.shot_mean(masked_average_pooling(support, weights).view(b, k, -1))
        parts = [query, prototype[:, :, None, None].expand_as(query)]
        for key in self.prior_keys:
            if key not in feats.priors:
                raise KeyError(f'PPMFewShotHead needs prior {key!r}, but the necks produced '
                               f'{sorted(feats.priors)}; add the neck or change prior_keys')
            parts.append(resize(feats.priors[key], size=query.shape[-2:], mode='bilinear',
                                align_corners=self.align_corners))
        x = self.merge(torch.cat(parts, dim=1))
        x = self.bottleneck(torch.cat([x, *self.psp_modules(x)], dim=1))
        logits = self.cls_seg(x)
        for _ in range(self.refine_iters):
            logits = self.cls_seg(x + self.refine(torch.cat([x, logits.softmax(dim=1)], 1)))
        return logits
