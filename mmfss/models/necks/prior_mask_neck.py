import torch
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor

from ..utils import EpisodeFeatures, foreground_weights

__all__ = ['PriorMaskNeck', 'prior_mask']


def prior_mask(query_feat: Tensor, support_feat: Tensor, support_masks: Tensor,
               eps: float = 1e-7) -> Tensor:
    """PFENet's training-free prior mask.

    For each query position: the maximum cosine similarity to the masked support features
    (support features multiplied by the bilinearly resized foreground mask, so background
    positions have zero features and zero similarity), min-max normalised over the query
    positions of each (episode, shot), then averaged over the K shots.

    Args:
        query_feat (Tensor): [B, C, h, w].
        support_feat (Tensor): [B, K, C, hs, ws].
        support_masks (Tensor): [B, K, Hs, Ws] (1 foreground, 0 background, 255 ignore).
        eps (float): PFENet's cosine epsilon (1e-7).

    Returns:
        Tensor: [B, 1, h, w] prior in [0, 1].
    """
    b, c, h, w = query_feat.shape
    k, hs, ws = support_feat.shape[1], support_feat.shape[-2], support_feat.shape[-1]
    weights = foreground_weights(support_masks.flatten(0, 1), (hs, ws)).view(b, k, 1, hs, ws)
    support = (support_feat * weights).flatten(3)  # [B, K, C, Ns]
    query = query_feat.flatten(2)  # [B, C, Nq]
    dots = torch.einsum('bcq,bkcs->bkqs', query, support)
    norms = query.norm(dim=1)[:, None, :, None] * support.norm(dim=2)[:, :, None, :]
    similarity = (dots / (norms + eps)).max(dim=-1).values  # [B, K, Nq]
    low = similarity.min(dim=-1, keepdim=True).values
    high = similarity.max(dim=-1, keepdim=True).values
    similarity = (similarity - low) / (high - low + eps)
    return similarity.mean(dim=1).view(b, 1, h, w)


@MODELS.register_module()
class PriorMaskNeck(BaseModule):
    """Adds PFENet's prior mask (:func:`prior_mask`) to the episode's priors.

    Args:
        in_index (int): Backbone level used (PFENet: the last, high-level one).
        prior_key (str): Name of the prior in ``EpisodeFeatures.priors``.
        detach (bool): Compute without gradients, as PFENet (the prior is training-free;
            its backbone level is frozen there).
        eps (float): Cosine epsilon.
    """

    def __init__(self, in_index: int = -1, prior_key: str = 'prior', detach: bool = True,
                 eps: float = 1e-7, init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.in_index = in_index
        self.prior_key = prior_key
        self.detach = detach
        self.eps = eps

    def forward(self, feats: EpisodeFeatures) -> EpisodeFeatures:
        if self.prior_key in feats.priors:
            raise KeyError(f'prior {self.prior_key!r} already exists; give each prior neck its '
                           'own prior_key')
        query = feats.query_feats[self.in_index]
        support = feats.support_feats[self.in_index]
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.detach):
            prior = prior_mask(query, support, feats.support_masks, self.eps)
        feats.priors[self.prior_key] = prior
        return feats
