"""PFENet's feature enrichment module as an mmseg decode head."""
from typing import Dict, Sequence, Union

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, SampleList
from torch import Tensor

from mmfss.ot.precision import full_precision, island_dtype
from ..utils.lazy_levels import map_levels
from ..utils import (EpisodeFeatures, ResizeConcatInputsMixin, decode_losses,
                     foreground_weights, masked_average_pooling, resize_to, segmentation_loss)

__all__ = ['FeatureEnrichmentHead']

INNER_KEY = 'feature_enrichment.inner_logits'  # EpisodeFeatures.extras of a training pass

Scale = Union[int, float]


@MODELS.register_module()
class FeatureEnrichmentHead(ResizeConcatInputsMixin, BaseDecodeHead):
    """PFENet's feature enrichment module (FEM) and classifier over an episode's features.

    *Prior Guided Feature Enrichment Network for Few-Shot Segmentation*, Zhuotao Tian,
    Hengshuang Zhao, Michelle Shu, Zhicheng Yang, Ruiyu Li and Jiaya Jia, TPAMI 2020; the
    reference code (dvlab-research/PFENet ``model/PFENet.py``) is the specification:

    1. The levels ``in_index`` (PFENet: layer3 then layer2) of the query and of each support
       are resized to the first (bilinear, ``align_corners``) and concatenated, then reduced
       by *separate* 1x1 convolutions for the query and the supports (``down_query``,
       ``down_supp``: no bias, ReLU, Dropout2d(0.5)); the supports shot by shot, as PFENet,
       so that training draws its dropout masks in PFENet's order.
    2. The support prototype: masked average pooling of the reduced support features over
       the foreground mask resized bilinearly (align_corners=True) to their grid, with
       PFENet's 5e-4 added to the mask area, averaged over the K shots.
    3. For each scale of ``scales`` (PFENet PASCAL: bins 60, 30, 15, 8; COCO: the ratios
       1.0, 0.5, 0.25, 0.125 of the query grid, ``int(h * ratio)``): the query features
       average-pooled to the bin, the prototype expanded over it and the prior resized to it
       are merged (``init_merge``: 1x1, no bias, ReLU); from the second scale on, the
       previous scale's output (already resized to the query grid, then to this bin) is
       concatenated and added back through ``alpha_conv`` (1x1, no bias, ReLU); then
       ``beta_conv`` (two 3x3, no bias, ReLU) as a residual, and the inner classifier
       ``inner_cls`` (3x3, ReLU, Dropout2d(0.1), 1x1 with bias) gives that scale's logits.
       Each scale's output is resized to the query grid.
    4. ``res1`` (1x1 over the concatenated scales, no bias, ReLU), ``res2`` (two 3x3, no
       bias, ReLU) as a residual, and the classifier: ``cls`` (3x3, no bias, ReLU), then
       mmseg's ``cls_seg`` (Dropout2d(0.1) and the 1x1 ``conv_seg`` with bias).

    No layer has batch norm and every layer starts from PyTorch's default initialisation, as
    in PFENet; under mixed precision the 1x1 classifiers run in
    float32 (their weight gradients overflow float16). Training adds the auxiliary loss over the inner
    classifiers, ``aux_weight`` times the mean of their losses, each logit map resized to
    the label as the main one (PFENet ``train.py``: ``main_loss + aux_weight * aux_loss``,
    aux_weight 1.0); :meth:`aux_loss` is also added by a head that wraps this one (BAM's
    :class:`EnsembleFewShotHead` with ``meta_head=FeatureEnrichmentHead``). Every resize is
    bilinear with ``align_corners`` (PFENet: True).

    Args:
        scales (Sequence[int | float]): Bins (ints > 1) or ratios of the query grid
            (floats <= 1), in PFENet's order (largest first).
        prior_key (str): The prior of :class:`EpisodeFeatures` (PFENet's, from
            :class:`~mmfss.models.PriorMaskNeck`).
        aux_weight (float): Weight of the inner classifiers' mean loss (0: none).
        reduce_dropout (float): Dropout2d after the query/support reductions (PFENet 0.5).
        inner_dropout (float): Dropout2d inside the inner classifiers (PFENet 0.1).
        mask_eps (float): Added to the support mask area in the prototype (PFENet 5e-4).
        **kwargs: :class:`~mmseg.models.decode_heads.decode_head.BaseDecodeHead` arguments
            (``in_channels`` a list matching ``in_index``, ``channels`` = PFENet's
            ``reduce_dim`` 256, ``dropout_ratio`` = the classifier's Dropout2d 0.1,
            ``num_classes=2``, ``align_corners=True``, ``loss_decode``).

    Shapes:
        input: ``EpisodeFeatures`` with ``query_feats[l]`` [B, C_l, h_l, w_l],
        ``support_feats[l]`` [B, K, C_l, h_l, w_l], ``support_masks`` [B, K, Hs, Ws] and
        ``priors[prior_key]`` [B, 1, h', w'].
        output: [B, 2, h, w] logits on the grid of the first ``in_index`` level.
    """

    def __init__(self,
                 scales: Sequence[Scale] = (60, 30, 15, 8),
                 prior_key: str = 'prior',
                 aux_weight: float = 1.0,
                 reduce_dropout: float = 0.5,
                 inner_dropout: float = 0.1,
                 mask_eps: float = 5e-4,
                 **kwargs) -> None:
        kwargs.setdefault('input_transform', 'resize_concat')
        kwargs.setdefault('num_classes', 2)
        kwargs.setdefault('align_corners', True)
        kwargs.setdefault('init_cfg', None)  # PyTorch's default init, see below
        super().__init__(**kwargs)
        if self.num_classes != 2:
            raise ValueError('FeatureEnrichmentHead predicts background/foreground: '
                             f'num_classes must be 2, got {self.num_classes}')
        scales = tuple(scales)
        if not scales or any(not ((isinstance(s, int) and s > 1) or
                                  (isinstance(s, float) and 0 < s <= 1)) for s in scales):
            raise ValueError('scales must be bins (ints > 1) or ratios of the query grid '
                             f'(floats in (0, 1]), got {scales}')
        self.scales = scales
        self.prior_key = prior_key
        self.aux_weight = float(aux_weight)
        self.mask_eps = mask_eps
        c = self.channels

        def conv(in_channels: int, kernel: int = 1) -> ConvModule:
            return ConvModule(in_channels, c, kernel, padding=kernel // 2, bias=False,
                              conv_cfg=self.conv_cfg, norm_cfg=None, act_cfg=self.act_cfg)

        self.down_query = nn.Sequential(conv(self.in_channels), nn.Dropout2d(reduce_dropout))
        self.down_supp = nn.Sequential(conv(self.in_channels), nn.Dropout2d(reduce_dropout))
        self.init_merge = nn.ModuleList(conv(2 * c + 1) for _ in scales)
        self.alpha_conv = nn.ModuleList(conv(2 * c) for _ in scales[1:])
        self.beta_conv = nn.ModuleList(nn.Sequential(conv(c, 3), conv(c, 3)) for _ in scales)
        self.inner_cls = nn.ModuleList(
            nn.Sequential(conv(c, 3), nn.Dropout2d(inner_dropout),
                          nn.Conv2d(c, self.num_classes, 1)) for _ in scales)
        self.res1 = conv(c * len(scales))
        self.res2 = nn.Sequential(conv(c, 3), conv(c, 3))
        self.cls = conv(c, 3)
        # PFENet's layers keep PyTorch's default initialisation (nn.Conv2d: Kaiming uniform
        # with a=sqrt(5)), not mmcv's Kaiming normal of ConvModule nor mmseg's N(0, 0.01)
        # classifier: without normalisation, the start decides the scale of every feature
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                module.reset_parameters()

    def _bin(self, scale: Scale, size: int) -> int:
        """PFENet's bin: an int as it is, a ratio as ``int(size * ratio)`` (at least 1,
        for grids smaller than PFENet's, where ``int`` would give 0)."""
        return scale if isinstance(scale, int) else max(1, int(size * scale))

    def forward(self, feats: EpisodeFeatures) -> Tensor:
        """[B, 2, h, w] logits; in training each scale's inner logits go to
        ``feats.extras`` for :meth:`aux_loss`."""
        if self.prior_key not in feats.priors:
            raise KeyError(f'FeatureEnrichmentHead needs prior {self.prior_key!r}, but the '
                           f'necks produced {sorted(feats.priors)}; add a PriorMaskNeck')
        b, k = feats.batch_size, feats.shot
        query = self.down_query(self._transform_inputs(feats.query_feats))
        # shot by shot, as PFENet: each shot draws its own dropout masks in PFENet's order
        prototypes = []
        for shot in range(k):
            support = self.down_supp(
                self._transform_inputs(map_levels(feats.support_feats, lambda f: f[:, shot])))
            weights = foreground_weights(feats.support_masks[:, shot], support.shape[-2:])
            prototypes.append(masked_average_pooling(support, weights, self.mask_eps))
        prototype = feats.shot_mean(torch.stack(prototypes, 1))[:, :, None, None]
        h, w = query.shape[-2:]
        prior = resize_to(feats.priors[self.prior_key], (h, w), self.align_corners)
        pyramid, inner = [], []
        for idx, scale in enumerate(self.scales):
            size = self._bin(scale, h)
            query_bin = nn.functional.adaptive_avg_pool2d(query, size)
            prior_bin = resize_to(prior, query_bin.shape[-2:], self.align_corners)
            merged = self.init_merge[idx](torch.cat(
                [query_bin, prototype.expand(-1, -1, *query_bin.shape[-2:]), prior_bin], 1))
            if idx >= 1:
                previous = resize_to(pyramid[idx - 1], merged.shape[-2:], self.align_corners)
                merged = self.alpha_conv[idx - 1](torch.cat([merged, previous], 1)) + merged
            merged = self.beta_conv[idx](merged) + merged
            inner.append(self._classify(self.inner_cls[idx][2],
                                        self.inner_cls[idx][1](self.inner_cls[idx][0](merged))))
            pyramid.append(resize_to(merged, (h, w), self.align_corners))
        x = self.res1(torch.cat(pyramid, 1))
        x = self.res2(x) + x
        logits = self.cls_seg(self.cls(x))
        if self.training:  # read by aux_loss, also when another head wraps this one
            feats.extras[INNER_KEY] = inner
        return logits

    @staticmethod
    def _classify(conv: nn.Module, x: Tensor) -> Tensor:
        """A 1x1 classifier in full precision under autocast: PFENet's features have no
        normalisation, and the classifier's weight gradient (a sum over every position of
        the loss-scaled gradient times the feature) overflows float16."""
        with full_precision(x.device):
            return conv(x.to(island_dtype(x.dtype)))

    def cls_seg(self, feat: Tensor) -> Tensor:
        """mmseg's classifier (dropout, ``conv_seg``), the 1x1 in full precision."""
        if self.dropout is not None:
            feat = self.dropout(feat)
        return self._classify(self.conv_seg, feat)

    def aux_loss(self, feats: EpisodeFeatures, label: Tensor) -> Dict[str, Tensor]:
        """``loss_aux``: ``aux_weight`` times the mean loss of the inner classifiers of the
        last training forward on ``feats`` (PFENet ``train.py``); {} without them.

        Args:
            feats (EpisodeFeatures): What the forward pass saw (its inner logits).
            label (Tensor): [B, 1, H, W] stacked ground truth.
        """
        inner = feats.extras.get(INNER_KEY) or []
        if not (self.aux_weight and inner):
            return {}
        modules = (self.loss_decode if isinstance(self.loss_decode, nn.ModuleList)
                   else [self.loss_decode])
        flat = label.squeeze(1)
        total = 0
        for logits in inner:
            logits = resize_to(logits, label.shape[2:], self.align_corners)
            for module in modules:
                total = total + segmentation_loss(module, logits, flat, self.ignore_index)
        return dict(loss_aux=self.aux_weight * total / len(inner))

    def loss(self, inputs: EpisodeFeatures, batch_data_samples: SampleList,
             train_cfg: ConfigType) -> dict:
        """The main loss and accuracy (mmseg's, without host syncs) and ``loss_aux``."""
        logits = self.forward(inputs)
        label = self._stack_batch_gt(batch_data_samples)
        losses = decode_losses(self, logits, label)
        losses.update(self.aux_loss(inputs, label))
        return losses
