from typing import Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor

from ..utils import EpisodeFeatures, foreground_weights

__all__ = ['PriorMaskNeck', 'prior_mask']


def prior_mask(query_feat: Tensor, support_feat: Tensor, support_masks: Tensor,
               eps: float = 1e-7, per_shot: bool = False, min_max: bool = True,
               mask_mode: str = 'bilinear') -> Tensor:
    """PFENet's training-free prior mask (PFENet model/PFENet.py, ``forward``: the loop
    over ``final_supp_list``).

    For each query position: the maximum cosine similarity to the masked support features
    (support features multiplied by the foreground mask resized bilinearly with
    align_corners=True, so background positions have zero features and zero similarity),
    min-max normalised over the query positions of each (episode, shot), then averaged
    over the K shots. (PFENet resizes each shot's map to layer3's grid before the mean; with
    a dilated backbone layer3 and layer4 share the grid, so that resize is the identity.)

    Args:
        query_feat (Tensor): [B, C, h, w].
        support_feat (Tensor): [B, K, C, hs, ws].
        support_masks (Tensor): [B, K, Hs, Ws] (1 foreground, 0 background, 255 ignore).
        eps (float): PFENet's cosine epsilon (1e-7).
        per_shot (bool): Return each shot's map, not their mean.
        min_max (bool): Min-max normalise each map (PFENet, BAM); False: the raw maximum
            cosine (HDMNet ``model/HDMNet.py`` ``get_similarity``).
        mask_mode (str): Resize of the foreground mask to the support grid: ``'bilinear'``
            (align_corners=True; PFENet) or ``'nearest'`` (HDMNet).

    Returns:
        Tensor: [B, 1, h, w] prior in [0, 1] ([B, K, h, w] with ``per_shot``; in [-1, 1]
        without ``min_max``).
    """
    b, c, h, w = query_feat.shape
    k, hs, ws = support_feat.shape[1], support_feat.shape[-2], support_feat.shape[-1]
    flat = support_masks.flatten(0, 1)
    if mask_mode == 'bilinear':
        weights = foreground_weights(flat, (hs, ws))
    elif mask_mode == 'nearest':
        weights = F.interpolate((flat == 1).float()[:, None], size=(hs, ws), mode='nearest')
    else:
        raise ValueError(f"mask_mode must be 'bilinear' or 'nearest', got {mask_mode!r}")
    weights = weights.view(b, k, 1, hs, ws)
    support = (support_feat * weights).flatten(3)  # [B, K, C, Ns]
    query = query_feat.flatten(2)  # [B, C, Nq]
    dots = torch.einsum('bcq,bkcs->bkqs', query, support)
    norms = query.norm(dim=1)[:, None, :, None] * support.norm(dim=2)[:, :, None, :]
    similarity = (dots / (norms + eps)).max(dim=-1).values  # [B, K, Nq]
    if not min_max:
        return similarity.view(b, k, h, w) if per_shot else similarity.mean(dim=1).view(
            b, 1, h, w)
    low = similarity.min(dim=-1, keepdim=True).values
    high = similarity.max(dim=-1, keepdim=True).values
    similarity = (similarity - low) / (high - low + eps)
    if per_shot:
        return similarity.view(b, k, h, w)
    return similarity.mean(dim=1).view(b, 1, h, w)


@MODELS.register_module()
class PriorMaskNeck(BaseModule):
    """Adds PFENet's prior mask (:func:`prior_mask`) to the episode's priors.

    The support features are PFENet's (and BAM's): the last stage applied to the masked
    previous level, ``layer4(layer3_support * mask)`` with the foreground mask resized
    bilinearly (align_corners=True) to layer3's grid, so an object's features carry no
    background context (PFENet model/PFENet.py: ``supp_feat_4 = self.layer4(supp_feat_3 *
    mask)``). The query's are the backbone's own last level. The masked stage runs once per
    support encoding (reused across query batches, see
    :meth:`EpisodeFeatures.support_only`). The per-shot maps are kept in
    ``EpisodeFeatures.shot_priors`` (BAM re-weights them, see
    :class:`~mmfss.models.EnsembleFewShotHead`); the prior is their mean (PFENet), or
    their weighted sum when ``shot_weights`` is already set.

    Args:
        in_index (int): Backbone level used (PFENet: the last, high-level one).
        mask_support_stage (bool | str): ``True``: compute the support level as
            ``stage(previous level * mask)`` (PFENet, BAM) through
            ``EpisodeFeatures.run_stage``; ``False``: use the backbone's own support
            features of that level, masked in :func:`prior_mask` (the stage sees the
            background; cheaper); ``'auto'`` (default): True where the backbone's stages
            can be addressed (the ResNet family, MobileNetV2/V3, Swin, MiT, a backbone
            with ``run_stage``), else False (a plain ViT; see
            :mod:`~mmfss.models.utils.backbone_stages`).
        prior_key (str): Name of the prior in ``EpisodeFeatures.priors``.
        detach (bool): Compute without gradients, as PFENet (the prior is training-free;
            its backbone level is frozen there).
        eps (float): Cosine epsilon.
        min_max (bool): Min-max normalise the prior (PFENet, BAM: True; HDMNet: False).
        mask_mode (str): Resize of the masks to the support grid, ``'bilinear'`` (PFENet)
            or ``'nearest'`` (HDMNet).
        reweight_shots (bool): Keep the per-shot maps in ``EpisodeFeatures.shot_priors``
            so that BAM's K-shot weights re-aggregate them (BAM); False: the prior stays
            the mean over the shots (HDMNet, whose shot weights reach only the ensemble).

    HDMNet's priors (supports masked at the input, ``FewShotSegmentor(mask_support_input=
    True)``): ``mask_support_stage=False, min_max=False, mask_mode='nearest',
    reweight_shots=False``, one neck on layer4 and one on the base learner's bottleneck.
    """

    def __init__(self, in_index: int = -1, prior_key: str = 'prior', detach: bool = True,
                 eps: float = 1e-7, mask_support_stage: Union[bool, str] = 'auto',
                 min_max: bool = True, mask_mode: str = 'bilinear',
                 reweight_shots: bool = True, init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if mask_support_stage not in (True, False, 'auto'):
            raise ValueError(f"mask_support_stage must be True, False or 'auto', got "
                             f'{mask_support_stage!r}')
        self.in_index = in_index
        self.mask_support_stage = mask_support_stage
        self.prior_key = prior_key
        self.detach = detach
        self.eps = eps
        if mask_mode not in ('bilinear', 'nearest'):
            raise ValueError(f"mask_mode must be 'bilinear' or 'nearest', got {mask_mode!r}")
        self.min_max, self.mask_mode, self.reweight_shots = min_max, mask_mode, reweight_shots

    def forward(self, feats: EpisodeFeatures) -> EpisodeFeatures:
        if self.prior_key in feats.priors:
            raise KeyError(f'prior {self.prior_key!r} already exists; give each prior neck its '
                           'own prior_key')
        query = feats.query_feats[self.in_index]
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.detach):
            masked = (feats.run_stage is not None if self.mask_support_stage == 'auto'
                      else self.mask_support_stage)
            support = (self.masked_support_stage(feats) if masked else
                       feats.support_feats[self.in_index])
            shots = prior_mask(query, support, feats.support_masks, self.eps, per_shot=True,
                               min_max=self.min_max, mask_mode=self.mask_mode)
        if not self.reweight_shots:
            feats.priors[self.prior_key] = shots.mean(dim=1, keepdim=True)
            return feats
        feats.shot_priors[self.prior_key] = shots
        feats.priors[self.prior_key] = feats.shot_mean(shots[:, :, None])
        return feats

    def masked_support_stage(self, feats: EpisodeFeatures) -> Tensor:
        """``stage(previous level * mask)`` of every support: [B, K, C, hs, ws]."""
        if feats.run_stage is None:
            raise ValueError(
                'PriorMaskNeck(mask_support_stage=True) runs the backbone\'s last stage on '
                f'masked support features, but the stages of {feats.backbone or "the backbone"}'
                ' cannot be addressed (mmfss.models.utils.backbone_stages: give it '
                "run_stage(x, level)); set mask_support_stage='auto' or False")
        b, k = feats.support_masks.shape[:2]
        level = self.in_index

        def compute(n: int) -> Tensor:
            before = feats.support_feats[level - 1][:n].flatten(0, 1)
            masks = feats.support_masks[:n].flatten(0, 1)
            return feats.run_stage(before * foreground_weights(masks, before.shape[-2:]), level)

        out = feats.support_only(f'{self.prior_key}.masked_support_stage', compute)
        return out.view(b, k, *out.shape[1:])
