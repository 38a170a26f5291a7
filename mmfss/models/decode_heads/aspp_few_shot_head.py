"""BAM's meta learner: one merge of query, prototype and prior, then BAM's ASPP."""
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, SampleList
from torch import Tensor

from mmfss.ot.precision import full_precision, island_dtype
from ..utils.lazy_levels import map_levels
from ..utils import (EpisodeFeatures, ResizeConcatInputsMixin, decode_losses,
                     foreground_weights, masked_average_pooling, resize_to)

__all__ = ['ASPPFewShotHead', 'BAMASPP']


class BAMASPP(nn.Module):
    """BAM's ASPP (chunbolang/BAM ``model/ASPP.py``): image pooling, 1x1, and 3x3 at
    ``dilations``, each a conv *with* bias and a ReLU, no batch norm (not mmseg's
    ``ASPPHead``), concatenated: [B, (2 + len(dilations)) * C, h, w]. Convolutions start
    from ``kaiming_normal_`` weights, as BAM's ``_init_weight``.

    Args:
        channels (int): Input and output channels of every branch.
        dilations (Sequence[int]): Dilations of the 3x3 branches (BAM: 6, 12, 18).
    """

    def __init__(self, channels: int = 256, dilations: Sequence[int] = (6, 12, 18)) -> None:
        super().__init__()
        cfg = dict(bias=True, norm_cfg=None, act_cfg=dict(type='ReLU', inplace=False))
        self.image_pool = ConvModule(channels, channels, 1, **cfg)
        self.branches = nn.ModuleList(
            [ConvModule(channels, channels, 1, **cfg)] +
            [ConvModule(channels, channels, 3, padding=d, dilation=d, **cfg) for d in dilations])
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                m.reset_parameters()  # the bias as nn.Conv2d draws it
                nn.init.kaiming_normal_(m.weight)

    def forward(self, x: Tensor) -> Tensor:
        pooled = self.image_pool(F.avg_pool2d(x, kernel_size=x.shape[-2:]))
        return torch.cat([pooled.expand(-1, -1, *x.shape[-2:])] +
                         [branch(x) for branch in self.branches], dim=1)


@MODELS.register_module()
class ASPPFewShotHead(ResizeConcatInputsMixin, BaseDecodeHead):
    """BAM's meta learner (*Learning What Not to Segment: A New Perspective on Few-Shot
    Segmentation*, Chunbo Lang, Gong Cheng, Binfei Tu and Junwei Han, CVPR 2022; reference
    code chunbolang/BAM ``model/BAM.py``, "Meta Learner"), as a few-shot decode head:

    1. The levels ``in_index`` (BAM: layer3, layer2) of the query and of each support,
       resized to the first and concatenated, reduced by separate 1x1 convolutions
       (``down_query``, ``down_supp``: no bias, ReLU, Dropout2d(0.5)); the supports shot by
       shot, as BAM, so training draws its dropout masks in BAM's order.
    2. The prototype: masked average pooling of each shot (BAM's Weighted_GAP, mask area +
       5e-4), combined over the shots by ``EpisodeFeatures.shot_mean`` (BAM's K-shot
       weights when the ensemble set them, else the mean).
    3. ``init_merge`` (1x1, no bias, ReLU) of [query, prototype, prior]; BAM's ASPP
       (:class:`BAMASPP`); ``res1_meta`` (1x1, no bias, ReLU); ``res2_meta`` (two 3x3, no
       bias, ReLU) as a residual; ``cls_meta``: 3x3 (no bias, ReLU), then mmseg's
       ``cls_seg`` (Dropout2d(0.1), the 1x1 ``conv_seg`` with bias; float32 under autocast).

    Used as ``meta_head`` of :class:`~mmfss.models.EnsembleFewShotHead` (BAM); alone, it is
    a one-learner head. Layers other than the ASPP keep PyTorch's default initialisation,
    as BAM's.

    Args:
        prior_key (str): The prior of :class:`EpisodeFeatures` (PFENet's).
        dilations (Sequence[int]): The ASPP's dilations.
        reduce_dropout (float): Dropout2d after the reductions (BAM 0.5).
        mask_eps (float): Added to the mask area of the prototype (BAM 5e-4).
        **kwargs: :class:`BaseDecodeHead` arguments (``in_channels`` a list matching
            ``in_index``, ``channels`` = BAM's ``reduce_dim`` 256, ``dropout_ratio`` 0.1,
            ``align_corners=True``, ``loss_decode``).

    Shapes:
        input: ``EpisodeFeatures`` with the levels, ``support_masks`` [B, K, Hs, Ws] and
        ``priors[prior_key]``; output: [B, 2, h, w] on the first level's grid.
    """

    def __init__(self, prior_key: str = 'prior', dilations: Sequence[int] = (6, 12, 18),
                 reduce_dropout: float = 0.5, mask_eps: float = 5e-4, **kwargs) -> None:
        kwargs.setdefault('input_transform', 'resize_concat')
        kwargs.setdefault('num_classes', 2)
        kwargs.setdefault('align_corners', True)
        kwargs.setdefault('init_cfg', None)  # PyTorch's and BAM's initialisation
        super().__init__(**kwargs)
        if self.num_classes != 2:
            raise ValueError(f'ASPPFewShotHead predicts background/foreground: num_classes '
                             f'must be 2, got {self.num_classes}')
        self.prior_key = prior_key
        self.mask_eps = mask_eps
        c = self.channels

        def conv(in_channels: int, kernel: int = 1) -> ConvModule:
            return ConvModule(in_channels, c, kernel, padding=kernel // 2, bias=False,
                              conv_cfg=self.conv_cfg, norm_cfg=None, act_cfg=self.act_cfg)

        self.down_query = nn.Sequential(conv(self.in_channels), nn.Dropout2d(reduce_dropout))
        self.down_supp = nn.Sequential(conv(self.in_channels), nn.Dropout2d(reduce_dropout))
        self.init_merge = conv(2 * c + 1)
        self.res1_meta = conv(c * (2 + len(dilations)))
        self.res2_meta = nn.Sequential(conv(c, 3), conv(c, 3))
        self.cls_meta = conv(c, 3)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                module.reset_parameters()
        self.aspp = BAMASPP(c, dilations)  # BAM's Kaiming normal, after the reset

    def forward(self, feats: EpisodeFeatures) -> Tensor:
        """[B, 2, h, w] meta logits."""
        if self.prior_key not in feats.priors:
            raise KeyError(f'ASPPFewShotHead needs prior {self.prior_key!r}, but the necks '
                           f'produced {sorted(feats.priors)}; add a PriorMaskNeck')
        query = self.down_query(self._transform_inputs(feats.query_feats))
        prototypes = []
        for shot in range(feats.shot):
            support = self.down_supp(
                self._transform_inputs(map_levels(feats.support_feats, lambda f: f[:, shot])))
            weights = foreground_weights(feats.support_masks[:, shot], support.shape[-2:])
            prototypes.append(masked_average_pooling(support, weights, self.mask_eps))
        prototype = feats.shot_mean(torch.stack(prototypes, 1))[:, :, None, None]
        prior = resize_to(feats.priors[self.prior_key], query.shape[-2:], self.align_corners)
        x = self.init_merge(torch.cat([query, prototype.expand_as(query), prior], 1))
        x = self.res1_meta(self.aspp(x))
        x = self.res2_meta(x) + x
        return self.cls_seg(self.cls_meta(x))

    def cls_seg(self, feat: Tensor) -> Tensor:
        """Dropout and the 1x1 classifier, the latter in full precision under autocast."""
        if self.dropout is not None:
            feat = self.dropout(feat)
        with full_precision(feat.device):
            return self.conv_seg(feat.to(island_dtype(feat.dtype)))

    def loss(self, inputs: EpisodeFeatures, batch_data_samples: SampleList,
             train_cfg: ConfigType) -> dict:
        """mmseg's decode losses and accuracy without host synchronisations."""
        return decode_losses(self, self.forward(inputs), self._stack_batch_gt(batch_data_samples))
