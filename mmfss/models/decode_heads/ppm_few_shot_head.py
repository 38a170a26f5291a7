from typing import List, Sequence

import torch
import torch.distributed as dist
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.models.decode_heads.psp_head import PPM
from mmseg.registry import MODELS
from mmseg.utils import SampleList
from torch import Tensor
from torch.nn.modules.batchnorm import _BatchNorm

from ..utils.lazy_levels import map_levels
from ..utils import (EpisodeFeatures, ResizeConcatInputsMixin, after_conv, conv_channels,
                     decode_losses, foreground_weights, masked_average_pooling, resize_to,
                     shared_forward, splits_by_channels)

__all__ = ['PPMFewShotHead', 'SINGLE_EPISODE_NORMS']

SINGLE_EPISODE_NORMS = ('running_stats', 'error')


def _single_value_norms(branch: nn.Module) -> List[_BatchNorm]:
    """Batch norms of a pooling branch that would see one value per channel, excluding
    SyncBN in a distributed run (it normalises over every rank's episodes)."""
    syncing = dist.is_available() and dist.is_initialized()
    return [m for m in branch.modules() if isinstance(m, _BatchNorm)
            and not (isinstance(m, nn.SyncBatchNorm) and syncing)]


@MODELS.register_module()
class PPMFewShotHead(ResizeConcatInputsMixin, BaseDecodeHead):
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

    A training batch of one episode (the last batch of an epoch without ``drop_last``, or
    ``batch_size=1``) leaves the PPM's 1x1 pooling branch one value per channel, where
    batch norm has no statistics (torch raises "Expected more than 1 value per channel").
    ``single_episode_norm`` states what happens then: ``'running_stats'`` (default)
    normalises that branch with its running statistics, as in evaluation, without updating
    them (the other branches and layers keep batch statistics over their positions);
    ``'error'`` raises a ValueError that names the fix. The paper configs drop the last
    batch (``drop_last=True``, as PFENet's and BAM's loaders), so they never meet it; under
    DDP with SyncBN the statistics span every rank's episodes and nothing changes.

    Args:
        pool_scales (Sequence[int]): PPM pooling scales. Defaults to (1, 2, 3, 6).
        prior_keys (Sequence[str]): Priors of :class:`EpisodeFeatures` to use, in order.
        refine_iters (int): Mask refinement iterations (0: none).
        single_episode_norm (str): ``'running_stats'`` or ``'error'``, see above.
        **kwargs: :class:`~mmseg.models.decode_heads.decode_head.BaseDecodeHead` arguments
            (``in_channels`` a list matching ``in_index``, ``channels``, ``num_classes=2``,
            ``loss_decode``, ...).
    """

    def __init__(self, pool_scales: Sequence[int] = (1, 2, 3, 6),
                 prior_keys: Sequence[str] = ('prior', ), refine_iters: int = 0,
                 single_episode_norm: str = 'running_stats', **kwargs) -> None:
        kwargs.setdefault('input_transform', 'resize_concat')
        kwargs.setdefault('num_classes', 2)
        super().__init__(**kwargs)
        if self.num_classes != 2:
            raise ValueError(f'PPMFewShotHead predicts background/foreground: num_classes must '
                             f'be 2, got {self.num_classes}')
        if single_episode_norm not in SINGLE_EPISODE_NORMS:
            raise ValueError(f'single_episode_norm must be one of {SINGLE_EPISODE_NORMS}, '
                             f'got {single_episode_norm!r}')
        self.single_episode_norm = single_episode_norm
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
            self._transform_inputs(map_levels(feats.support_feats, lambda f: f.flatten(0, 1))))
        weights = foreground_weights(feats.support_masks.flatten(0, 1), support.shape[-2:])
        prototype = feats.shot_mean(masked_average_pooling(support, weights).view(b, k, -1))
        parts = [query, prototype[:, :, None, None].expand_as(query)]
        for key in self.prior_keys:
            if key not in feats.priors:
                raise KeyError(f'PPMFewShotHead needs prior {key!r}, but the necks produced '
                               f'{sorted(feats.priors)}; add the neck or change prior_keys')
            parts.append(resize_to(feats.priors[key], query.shape[-2:], self.align_corners))
        x = self.merge(torch.cat(parts, dim=1))
        x = self.bottleneck(torch.cat([x, *self.pyramid(x)], dim=1))
        return self.refine_logits(x, self.cls_seg(x))

    def refine_logits(self, x: Tensor, logits: Tensor) -> Tensor:
        """The mask refinement: ``refine_iters`` times
        ``logits = cls_seg(x + R(concat(x, softmax(logits))))``.

        R's first convolution is linear in its input channels: its response to ``x`` is the
        same in every iteration, so it is computed once and each iteration adds the response
        to the probabilities (equal to the concatenated convolution up to rounding;
        ``test_mask_refinement``). A conv layer that does not split so runs the
        concatenation.

        Args:
            x (Tensor): [B, C, h, w] bottleneck features.
            logits (Tensor): [B, 2, h, w] logits before refinement.

        Returns:
            Tensor: [B, 2, h, w] refined logits (``logits`` when ``refine_iters=0``).
        """
        if not self.refine_iters:
            return logits
        first, rest = self.refine[0], self.refine[1:]
        if not splits_by_channels(first):
            for _ in range(self.refine_iters):
                logits = self.cls_seg(x + self.refine(torch.cat([x, logits.softmax(1)], 1)))
            return logits
        c = x.shape[1]
        from_x = conv_channels(first, x, 0, c, bias=True)
        for _ in range(self.refine_iters):
            probs = conv_channels(first, logits.softmax(1), c, c + self.num_classes)
            logits = self.cls_seg(x + rest(after_conv(first, from_x + probs)))
        return logits

    def pyramid(self, x: Tensor) -> List[Tensor]:
        """The PPM branches, upsampled to ``x`` [B, C, h, w]; a branch pooled to one value
        per channel in training follows ``single_episode_norm``."""
        outs = []
        for scale, branch in zip(self.psp_modules.pool_scales, self.psp_modules):
            norms = (_single_value_norms(branch)
                     if self.training and x.shape[0] * scale * scale == 1 else [])
            if norms and self.single_episode_norm == 'error':
                raise ValueError(
                    'PPMFewShotHead got a training batch of one episode: batch norm of its '
                    f'{scale}x{scale} pooling branch has one value per channel. Set '
                    'train_dataloader.drop_last=True and batch_size >= 2, or '
                    "single_episode_norm='running_stats'")
            for norm in norms:
                norm.eval()
            try:
                out = branch(x)
            finally:
                for norm in norms:
                    norm.train()
            outs.append(resize_to(out, x.shape[2:], self.align_corners))
        return outs

    def loss_by_feat(self, seg_logits: Tensor, batch_data_samples: SampleList) -> dict:
        """mmseg's decode losses and accuracy without host synchronisations
        (:func:`~mmfss.models.utils.decode_losses`)."""
        return decode_losses(self, seg_logits, self._stack_batch_gt(batch_data_samples))
