"""HDMNet's meta learner: reductions, merges and the hierarchical matching transformer."""
from typing import Dict, Optional, Sequence

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, SampleList
from torch import Tensor
from torch.nn.modules.batchnorm import _BatchNorm

from mmfss.ot.precision import full_precision, island_dtype
from ..utils import (EpisodeFeatures, ResizeConcatInputsMixin, decode_losses,
                     foreground_weights, masked_average_pooling, resize_to)
from ..utils.hierarchical_matching_transformer import HierarchicalMatchingTransformer
from ..utils.lazy_levels import map_levels

__all__ = ['HierarchicalMatchingHead']


@MODELS.register_module()
class HierarchicalMatchingHead(ResizeConcatInputsMixin, BaseDecodeHead):
    """HDMNet's meta learner (*Hierarchical Dense Correlation Distillation for Few-Shot
    Segmentation*, Bohao Peng, Zhuotao Tian, Xiaoyang Wu, Chengyao Wang, Shu Liu, Jingyong
    Su and Jiaya Jia, CVPR 2023; reference code Pbihao/HDMNet ``model/HDMNet.py``), as a
    few-shot decode head; with CLIP priors it is PI-CLIP's (vangjin/PI-CLIP
    ``model/PI_CLIP.py``).

    1. The levels ``in_index`` (HDMNet: layer3, layer2, resized to the first) of the query
       and of all supports, concatenated and reduced by separate 1x1 convolutions
       (``down_query``, ``down_supp``: no bias, ReLU, Dropout2d(0.5)), the query first and
       the K supports in one call, as HDMNet draws its dropout masks.
    2. Each support's prototype (masked average pooling, mask resized bilinearly, area +
       5e-4) tiled over its map; ``supp_merge`` (1x1 to ``embed_dims``, no bias, ReLU) of
       [support, prototype]; ``query_merge`` of [query, the shots' mean prototype,
       ``prior_scale`` x priors]. The priors are ``prior_keys`` of the episode, resized to
       the query grid and concatenated in that order (HDMNet: the cosine priors of the
       PSP bottleneck and of layer4; PI-CLIP: its visual-text and visual-visual priors).
    3. :class:`~mmfss.models.utils.hierarchical_matching_transformer.HierarchicalMatchingTransformer`
       over the merged query and supports (support masks at input resolution, the priors
       unscaled), then ``conv_seg`` (1x1 with bias, in float32 under autocast).

    In training the stages' matching weights are kept for :meth:`aux_loss` (HDMNet's
    distillation, ``loss_distill``); the batch norms stay in eval mode with ``norm_eval``
    (HDMNet's ``fix_bn`` applies to every batch norm of the model, the transformer's
    included: their statistics never move from 0 / 1). Used as ``meta_head`` of
    :class:`~mmfss.models.EnsembleFewShotHead` (HDMNet: BAM's ensemble) or alone. PyTorch's
    default initialisation, as HDMNet's code (its ``init_weights`` is never called).

    Args:
        prior_keys (Sequence[str]): Priors of the episode, concatenated in order.
        prior_scale (float): Factor of the priors in ``query_merge`` (HDMNet 10).
        prior_channels (int, optional): Channels of the concatenated priors; None: one per
            key (PI-CLIP: its visual-text prior twice and 2K visual-visual maps).
        embed_dims (int): Width of the merges and the transformer (64).
        reduce_dropout (float): Dropout2d after the reductions (0.5).
        mask_eps (float): Added to the prototype's mask area (5e-4).
        norm_eval (bool): Keep the batch norms in eval mode in training (HDMNet's code:
            True; the paper is silent).
        transformer (dict, optional): Arguments of the transformer besides
            ``embed_dims``, ``num_prior_channels`` and ``norm_cfg``.
        loss_distill (dict, optional): The distillation loss; None: off.
        **kwargs: :class:`BaseDecodeHead` arguments (``in_channels`` a list matching
            ``in_index``, ``channels`` = the reduction width 256, ``norm_cfg`` of the
            transformer's batch norms, ``align_corners=True``, ``loss_decode``).

    Shapes:
        input: ``EpisodeFeatures`` with the levels, ``support_masks`` [B, K, Hs, Ws] and the
        priors; output: [B, 2, h, w] on the first level's grid.
    """

    def __init__(self,
                 prior_keys: Sequence[str] = ('prior_psp', 'prior'),
                 prior_scale: float = 10.0,
                 prior_channels: Optional[int] = None,
                 embed_dims: int = 64,
                 reduce_dropout: float = 0.5,
                 mask_eps: float = 5e-4,
                 norm_eval: bool = True,
                 transformer: Optional[dict] = None,
                 loss_distill: Optional[dict] = dict(type='AttentionDistillationLoss'),
                 **kwargs) -> None:
        kwargs.setdefault('input_transform', 'resize_concat')
        kwargs.setdefault('num_classes', 2)
        kwargs.setdefault('align_corners', True)
        kwargs.setdefault('dropout_ratio', 0.0)
        kwargs.setdefault('norm_cfg', dict(type='BN', requires_grad=True))
        kwargs.setdefault('init_cfg', None)  # PyTorch's initialisation, as HDMNet
        super().__init__(**kwargs)
        if self.num_classes != 2:
            raise ValueError('HierarchicalMatchingHead predicts background/foreground: '
                             f'num_classes must be 2, got {self.num_classes}')
        if isinstance(prior_keys, str) or not prior_keys:
            raise ValueError(f'prior_keys must be a non-empty list of prior names, got '
                             f'{prior_keys!r}')
        self.prior_keys = list(prior_keys)
        self.prior_scale = prior_scale
        self.mask_eps = mask_eps
        self.norm_eval = norm_eval
        c, e = self.channels, embed_dims
        p = len(self.prior_keys) if prior_channels is None else int(prior_channels)

        def conv(in_channels: int, out_channels: int) -> ConvModule:
            return ConvModule(in_channels, out_channels, 1, bias=False, norm_cfg=None,
                              act_cfg=dict(type='ReLU'))

        self.down_query = nn.Sequential(conv(self.in_channels, c), nn.Dropout2d(reduce_dropout))
        self.down_supp = nn.Sequential(conv(self.in_channels, c), nn.Dropout2d(reduce_dropout))
        self.query_merge = conv(2 * c + p, e)
        self.supp_merge = conv(2 * c, e)
        self.transformer = HierarchicalMatchingTransformer(
            embed_dims=e, num_prior_channels=p, norm_cfg=self.norm_cfg, **(transformer or {}))
        self.conv_seg = nn.Conv2d(self.transformer.out_channels, self.out_channels, 1)
        self.loss_distill = MODELS.build(loss_distill) if loss_distill else None

    def train(self, mode: bool = True) -> 'HierarchicalMatchingHead':
        super().train(mode)
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self

    def _priors(self, feats: EpisodeFeatures, size) -> Tensor:
        missing = [k for k in self.prior_keys if k not in feats.priors]
        if missing:
            raise KeyError(f'HierarchicalMatchingHead needs priors {missing}, but the necks '
                           f'produced {sorted(feats.priors)}')
        priors = torch.cat([
            resize_to(feats.priors[k], size, self.align_corners) for k in self.prior_keys], dim=1)
        if priors.shape[1] != self.query_merge.conv.in_channels - 2 * self.channels:
            raise ValueError(
                f'HierarchicalMatchingHead was built for '
                f'{self.query_merge.conv.in_channels - 2 * self.channels} prior channels '
                f'(prior_channels), but the priors {self.prior_keys} have {priors.shape[1]}')
        return priors

    def forward(self, feats: EpisodeFeatures) -> Tensor:
        """[B, 2, h, w] meta logits."""
        b, k = feats.batch_size, feats.shot
        query = self.down_query(self._transform_inputs(feats.query_feats))
        support = self.down_supp(self._transform_inputs(
            map_levels(feats.support_feats, lambda f: f.flatten(0, 1))))
        masks = feats.support_masks.flatten(0, 1)
        prototypes = masked_average_pooling(
            support, foreground_weights(masks, support.shape[-2:]), self.mask_eps)
        supp = self.supp_merge(torch.cat(
            [support, prototypes[:, :, None, None].expand_as(support)], dim=1))
        prototype = prototypes.view(b, k, -1).mean(dim=1)[:, :, None, None]
        priors = self._priors(feats, query.shape[-2:])
        x = self.query_merge(torch.cat(
            [query, prototype.expand_as(query), priors * self.prior_scale], dim=1))
        out, weights = self.transformer(x, supp, (masks == 1)[:, None].to(x.dtype), priors)
        if self.training:  # read by aux_loss, also when another head wraps this one
            feats.extras['matching_weights'] = weights
        return self.cls_seg(out)

    def cls_seg(self, feat: Tensor) -> Tensor:
        """The 1x1 classifier in full precision under autocast."""
        with full_precision(feat.device):
            return self.conv_seg(feat.to(island_dtype(feat.dtype)))

    def aux_loss(self, feats: EpisodeFeatures, label: Tensor) -> Dict[str, Tensor]:
        """HDMNet's distillation of the matching weights of the last training forward.

        Args:
            feats (EpisodeFeatures): The episode the head has just run on.
            label (Tensor): Query ground truth [B, 1, H, W].
        """
        if self.loss_distill is None:
            return {}
        return {self.loss_distill.loss_name: self.loss_distill(
            feats.extras['matching_weights'], label[:, 0])}

    def loss(self, inputs: EpisodeFeatures, batch_data_samples: SampleList,
             train_cfg: ConfigType) -> dict:
        """The decode losses and the distillation loss, without host synchronisations."""
        label = self._stack_batch_gt(batch_data_samples)
        losses = decode_losses(self, self.forward(inputs), label)
        losses.update(self.aux_loss(inputs, label))
        return losses
