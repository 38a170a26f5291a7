from typing import Dict, Optional

import torch
import torch.nn as nn
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, SampleList
from torch import Tensor

from mmfss.ot.precision import full_precision, island_dtype

from ..utils import EpisodeFeatures, decode_losses, resize_to, segmentation_loss

__all__ = ['EnsembleFewShotHead', 'gram_matrix', 'scene_difference', 'kshot_weights']


def gram_matrix(feat: Tensor, eps: float = 1e-7) -> Tensor:
    """BAM's normalised Gram matrix: channel-by-channel cosine similarity over positions
    (BAM model/BAM.py ``get_gram_matrix``: ``x x^T / (|x| |x|^T + 1e-7)``).

    Computed in float32 whatever the input dtype and autocast state (float64 stays
    float64): the raw products sum h*w squares (3600 at 473 crops), which overflow fp16's
    65504 for features of RMS above about 4 and make the scene difference inf - inf.

    Args:
        feat (Tensor): [N, C, h, w].

    Returns:
        Tensor: [N, C, C] (float32, or float64 for float64 features).
    """
    with full_precision(feat.device):
        x = feat.flatten(2).to(island_dtype(feat.dtype))
        norms = x.norm(dim=2, keepdim=True)
        return torch.bmm(x, x.transpose(1, 2)) / (torch.bmm(norms, norms.transpose(1, 2))
                                                  + eps)


def scene_difference(query: Tensor, support: Tensor) -> Tensor:
    """BAM's estimate of the query/support scene difference, per shot (BAM model/BAM.py:
    ``est_val_list``).

    ``||G_q - G_s||_F / ||1||_F`` with ``G`` the normalised Gram matrices (so 0 for
    identical scenes and at most 2).

    Args:
        query (Tensor): [B, C, h, w] low-level query features.
        support (Tensor): [B, K, C, hs, ws] low-level support features.

    Returns:
        Tensor: [B, K] differences.
    """
    b, k = support.shape[:2]
    gq = gram_matrix(query)
    gs = gram_matrix(support.flatten(0, 1)).view(b, k, *gq.shape[1:])
    norm = torch.ones_like(gq[0]).norm()
    return (gq[:, None] - gs).flatten(2).norm(dim=2) / norm


def kshot_weights(differences: Tensor, reweight: nn.Module, restore_order: bool = True) -> Tensor:
    """BAM's K-shot reweighting (BAM model/BAM.py, "K-Shot Reweighting"): the shots'
    scene differences sorted in ascending order go through the learned ``reweight``
    (1x1 convs over the K sorted values), the outputs are put back in the shots' order,
    and a softmax over the shots gives their weights.

    Args:
        differences (Tensor): [B, K] scene differences (:func:`scene_difference`).
        reweight (nn.Module): Maps [B, K, 1, 1] to [B, K, 1, 1].
        restore_order (bool): Put the outputs back in the shots' order (BAM). False: leave
            them in ascending order of difference, the i-th weight going to the i-th shot
            whatever its difference, as HDMNet's and PI-CLIP's code do (their gather index
            ``idx1.gather(1, idx2)`` composes the sort with its inverse: the identity).

    Returns:
        Tensor: [B, K] weights summing to 1.
    """
    ordered, order = differences.sort(dim=1)
    logits = reweight(ordered[:, :, None, None])[:, :, 0, 0]
    if restore_order:
        logits = logits.gather(1, order.argsort(dim=1))
    return logits.softmax(dim=1)


@MODELS.register_module()
class EnsembleFewShotHead(BaseDecodeHead):
    """BAM's ensemble of a meta learner and a frozen base learner (DOTGraph §2.1, [1]).

    * ``meta_head``: any few-shot head (e.g. :class:`PPMFewShotHead`) giving meta logits
      [B, 2, h, w];
    * ``base_learner``: the decode head of a PSPNet trained on the fold's base-class view
      (an mmseg ``PSPHead`` config with ``num_classes = n_base + 1``; load it from the
      stage-1 checkpoint with ``base_learner_init``), frozen, predicting the base classes on
      the query;
    * the scene difference ``psi`` of the query and support low-level features (level
      ``gram_index``; BAM uses layer2) by :func:`scene_difference`;
    * for K > 1 shots (``shot``), BAM's K-shot reweighting (:func:`kshot_weights`, a
      learned ``kshot_rw``: Conv 1x1 K -> ``kshot_trans_dim`` -> K with a ReLU, or one K x K
      conv initialised to 1/K when ``kshot_trans_dim`` is 0, as BAM): the shot weights
      ``w`` replace the mean over shots in ``psi`` (``sum_k w_k psi_k``), in every prior
      with per-shot maps (``EpisodeFeatures.shot_priors``, e.g. PFENet's prior:
      ``sum_k w_k prior_k``) and, through ``EpisodeFeatures.shot_weights``, in the meta
      head's prototype. With K = 1 the weight is 1 (BAM: ``ones_like``).

    As BAM: ``p_meta = softmax(meta)``, ``p_base = softmax(base)``; the base map is the sum
    of the base-class probabilities, leaving out, in training, the episode's own class
    (``base_label`` of the metainfo); ``bg' = conv1x1_g([p_meta_bg, psi])``,
    ``fg' = conv1x1_g([p_meta_fg, psi])``, ``bg'' = conv1x1_c([bg', base map])`` (both 1x1
    convs without bias, initialised to pass the first input through), and the output is
    ``[bg'', fg']``. Training losses: ``loss_decode`` on the output and ``loss_meta`` on the
    meta logits (BAM's auxiliary meta loss).

    Args:
        meta_head (dict): Config of the meta learner head.
        base_learner (dict): Config of the base learner (an mmseg decode head).
        base_learner_init (dict, optional): ``init_cfg`` of the base learner, e.g.
            ``dict(type='Pretrained', checkpoint=..., prefix='decode_head.')``.
        gram_index (int): Backbone level of the scene difference.
        gram_size_index (int, optional): Resize the ``gram_index`` level of the query and
            the supports to the size of this level (bilinear, ``align_corners`` of the head)
            before their Gram matrices: BAM with VGG-16 resizes layer2 (1/8) to layer3
            (1/16) first and computes the Gram matrices there (``model/BAM.py``: its
            ``query_feat_2`` / ``supp_feat_2`` are reassigned before they are read). None:
            the level as the backbone gives it (BAM with ResNet).
        shot (int): Shots K of the episodes; K > 1 builds ``kshot_rw`` (BAM builds it only
            then, and its size depends on K: a model serves one K).
        kshot_trans_dim (int): Hidden width of ``kshot_rw`` (BAM's default 2; 0: one
            linear K x K layer).
        kshot_restore_order (bool): Give each shot the weight computed for its rank
            (BAM, default); False: HDMNet's and PI-CLIP's gather, which leaves the weights
            in ascending order of difference (:func:`kshot_weights`). Their configs set it
            False to equal their code and released weights.
        base_learner_level (int, optional): Read the base learner's bottleneck (before
            its activation) from this level, added by :class:`~mmfss.models.PSPLevelNeck`
            from the same base learner, and apply only its activation, dropout and
            classifier (HDMNet's ``base_learnear`` over ``query_feat_5``); None: run the
            whole base learner on the backbone's levels (BAM).
        reweight_priors (bool): Re-aggregate the per-shot priors and the meta head's
            prototype with the shot weights (BAM); False: the shot weights reach only the
            scene difference (HDMNet, PI-CLIP).
        loss_meta (dict, optional): Loss on the meta logits; None: off.
        **kwargs: :class:`BaseDecodeHead` arguments (``in_channels``/``channels`` are
            unused placeholders; ``loss_decode``, ``align_corners``).
    """

    def __init__(self,
                 meta_head: ConfigType,
                 base_learner: ConfigType,
                 base_learner_init: Optional[dict] = None,
                 gram_index: int = 1,
                 gram_size_index: Optional[int] = None,
                 shot: int = 1,
                 kshot_trans_dim: int = 2,
                 kshot_restore_order: bool = True,
                 reweight_priors: bool = True,
                 base_learner_level: Optional[int] = None,
                 loss_meta: Optional[dict] = dict(
                     type='CrossEntropyLoss', loss_weight=1.0, avg_non_ignore=True,
                     loss_name='loss_meta'),
                 **kwargs) -> None:
        kwargs.setdefault('in_channels', 1)
        kwargs.setdefault('channels', 1)
        kwargs.setdefault('num_classes', 2)
        kwargs.setdefault('init_cfg', None)  # no classifier of its own to initialise
        super().__init__(**kwargs)
        self.meta_head = MODELS.build(meta_head)
        if base_learner_init is not None:
            base_learner = dict(base_learner, init_cfg=base_learner_init)
        self.base_learner = MODELS.build(base_learner)
        self.base_learner.eval()
        for p in self.base_learner.parameters():
            p.requires_grad = False
        self.gram_index = gram_index
        self.gram_size_index = gram_size_index
        if not (isinstance(shot, int) and shot >= 1):
            raise ValueError(f'shot must be an int >= 1, got {shot!r}')
        if not (isinstance(kshot_trans_dim, int) and kshot_trans_dim >= 0):
            raise ValueError(f'kshot_trans_dim must be an int >= 0, got {kshot_trans_dim!r}')
        self.shot, self.kshot_trans_dim = shot, kshot_trans_dim
        self.kshot_restore_order, self.reweight_priors = kshot_restore_order, reweight_priors
        self.base_learner_level = base_learner_level
        self.kshot_rw = None
        if shot > 1:
            self.kshot_rw = (nn.Conv2d(shot, shot, 1, bias=False) if kshot_trans_dim == 0 else
                             nn.Sequential(nn.Conv2d(shot, kshot_trans_dim, 1), nn.ReLU(),
                                           nn.Conv2d(kshot_trans_dim, shot, 1)))
        self.gram_merge = nn.Conv2d(2, 1, 1, bias=False)
        self.cls_merge = nn.Conv2d(2, 1, 1, bias=False)
        self.loss_meta = MODELS.build(loss_meta) if loss_meta else None
        self.conv_seg = None  # the ensemble has no classifier of its own
        self.dropout = None

    def init_weights(self) -> None:
        super().init_weights()
        for conv in (self.gram_merge, self.cls_merge):
            nn.init.constant_(conv.weight, 0.0)
            conv.weight.data[0, 0] = 1.0
        if isinstance(self.kshot_rw, nn.Conv2d):
            nn.init.constant_(self.kshot_rw.weight, 1.0 / self.shot)

    def train(self, mode: bool = True) -> 'EnsembleFewShotHead':
        super().train(mode)
        self.base_learner.eval()
        return self

    def _reweight_shots(self, feats: EpisodeFeatures) -> Tensor:
        """Per-shot scene differences, BAM's shot weights set on ``feats`` (K > 1) and the
        per-shot priors re-aggregated with them. Returns psi [B]."""
        query = feats.query_feats[self.gram_index]
        support = feats.support_feats[self.gram_index]
        if self.gram_size_index is not None:
            size = feats.query_feats[self.gram_size_index].shape[-2:]
            query = resize_to(query, size, self.align_corners)
            b, k = support.shape[:2]
            support = resize_to(support.flatten(0, 1), size,
                                self.align_corners).view(b, k, -1, *size)
        psi = scene_difference(query, support)
        k = psi.shape[1]
        if k != self.shot:
            raise ValueError(f'EnsembleFewShotHead(shot={self.shot}) got {k}-shot episodes: '
                             'BAM\'s K-shot reweighting is built for one K; set '
                             'decode_head.shot to the episodes\' shot')
        if k == 1:
            return psi[:, 0]
        weights = kshot_weights(psi, self.kshot_rw, self.kshot_restore_order)
        if not self.reweight_priors:
            return (weights * psi).sum(dim=1)
        feats.shot_weights = weights
        for key, shots in feats.shot_priors.items():
            feats.priors[key] = feats.shot_mean(shots[:, :, None])
        return (weights * psi).sum(dim=1)

    def _forward(self, feats: EpisodeFeatures) -> Dict[str, Tensor]:
        psi = self._reweight_shots(feats)
        meta = self.meta_head(feats)
        with torch.no_grad():
            if self.base_learner_level is None:
                base = self.base_learner(list(feats.query_feats))
            else:
                learner = self.base_learner
                base = learner.cls_seg(learner.bottleneck.activate(
                    feats.query_feats[self.base_learner_level]))
        base = resize_to(base, meta.shape[-2:], self.align_corners)
        p_meta, p_base = meta.softmax(dim=1), base.softmax(dim=1)
        base_fg = p_base[:, 1:]
        if self.training:
            labels = [int(m.get('base_label', 0)) for m in feats.img_metas]
            keep = torch.ones_like(base_fg[:, :, :1, :1])
            for i, label in enumerate(labels):
                if label > 0:
                    keep[i, label - 1] = 0  # the episode's own class is the target here
            base_fg = base_fg * keep
        base_map = base_fg.sum(dim=1, keepdim=True)
        psi = psi[:, None, None, None].expand_as(base_map)
        bg = self.gram_merge(torch.cat([p_meta[:, :1], psi], dim=1))
        fg = self.gram_merge(torch.cat([p_meta[:, 1:], psi], dim=1))
        bg = self.cls_merge(torch.cat([bg, base_map], dim=1))
        return dict(out=torch.cat([bg, fg], dim=1), meta=meta)

    def forward(self, feats: EpisodeFeatures) -> Tensor:
        return self._forward(feats)['out']

    def loss(self, inputs: EpisodeFeatures, batch_data_samples: SampleList,
             train_cfg: ConfigType) -> dict:
        outs = self._forward(inputs)
        label = self._stack_batch_gt(batch_data_samples)
        losses = decode_losses(self, outs['out'], label)
        if self.loss_meta is not None:
            meta = resize_to(outs['meta'], label.shape[2:], self.align_corners)
            losses[self.loss_meta.loss_name] = segmentation_loss(
                self.loss_meta, meta, label.squeeze(1), self.ignore_index)
        if hasattr(self.meta_head, 'aux_loss'):  # e.g. PFENet's inner classifiers
            losses.update(self.meta_head.aux_loss(inputs, label))
        return losses

    def loss_by_feat(self, seg_logits: Tensor, batch_data_samples: SampleList) -> dict:
        """mmseg's decode losses and accuracy without host synchronisations
        (:func:`~mmfss.models.utils.decode_losses`)."""
        return decode_losses(self, seg_logits, self._stack_batch_gt(batch_data_samples))
