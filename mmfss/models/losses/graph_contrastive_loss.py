import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor

__all__ = ['GraphContrastiveLoss', 'graph_contrastive_loss']

VARIANTS = ('gcl', 'gcl2')


def graph_contrastive_loss(query_obj: Tensor, query_bg: Tensor, support_obj: Tensor,
                           support_bg: Tensor, tau: float = 0.1, variant: str = 'gcl',
                           eps: float = 1e-8) -> Tensor:
    """DOTGraph's graph contrastive losses over graph nodes (supplement §1.5).

    With ``s(x, y) = cos(x, y) / tau`` at each node i (cosine similarity over channels):

    * ``'gcl'`` (L_GCL, InfoNCE): the query-object node against the support-object node is
      the positive, against the support-background node the negative:
      ``-1/N sum_i log(e^{s(Qo_i, So_i)} / (e^{s(Qo_i, So_i)} + e^{s(Qo_i, Sb_i)}))``.
    * ``'gcl2'`` (L_GCL2, exactly as written in §1.5): the denominator holds the
      query-object/support-background and both query-background terms:
      ``-1/N sum_i log(e^{s(Qo_i, So_i)} / (e^{s(Qo_i, Sb_i)} + e^{s(Qb_i, So_i)} +
      e^{s(Qb_i, Sb_i)}))``.

    A zero vector (e.g. an object embedding at a background node) has similarity 0.

    Args:
        query_obj, query_bg, support_obj, support_bg (Tensor): [B, C, N] node embeddings.
        tau (float): Temperature.
        variant (str): ``'gcl'`` or ``'gcl2'``.

    Returns:
        Tensor: The scalar loss (mean over batch and nodes).
    """
    if variant not in VARIANTS:
        raise ValueError(f'variant must be one of {VARIANTS}, got {variant!r}')

    def s(x, y):
        return F.cosine_similarity(x, y, dim=1, eps=eps) / tau

    pos = s(query_obj, support_obj)
    if variant == 'gcl':
        denominator = torch.stack([pos, s(query_obj, support_bg)]).logsumexp(dim=0)
    else:
        denominator = torch.stack([s(query_obj, support_bg), s(query_bg, support_obj),
                                   s(query_bg, support_bg)]).logsumexp(dim=0)
    return (denominator - pos).mean()


@MODELS.register_module()
class GraphContrastiveLoss(nn.Module):
    """Loss module of :func:`graph_contrastive_loss` (``loss_name`` names it in the logs).

    Args:
        variant (str): ``'gcl'`` (L_GCL, default) or ``'gcl2'`` (L_GCL2), Table 2.
        tau (float): Temperature.
        loss_weight (float): Weight of the loss.
        loss_name (str): Key of the loss in the losses dict.
    """

    def __init__(self, variant: str = 'gcl', tau: float = 0.1, loss_weight: float = 1.0,
                 loss_name: str = 'loss_gcl') -> None:
        super().__init__()
        if variant not in VARIANTS:
            raise ValueError(f'variant must be one of {VARIANTS}, got {variant!r}')
        if not tau > 0:
            raise ValueError(f'tau must be > 0, got {tau!r}')
        self.variant = variant
        self.tau = tau
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        return self._loss_name

    def forward(self, query_obj: Tensor, query_bg: Tensor, support_obj: Tensor,
                support_bg: Tensor) -> Tensor:
        return self.loss_weight * graph_contrastive_loss(
            query_obj, query_bg, support_obj, support_bg, self.tau, self.variant)
