import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor

from mmfss.ot.precision import full_precision, island_dtype

__all__ = ['GraphContrastiveLoss', 'graph_contrastive_loss']

VARIANTS = ('gcl', 'gcl2')


def graph_contrastive_loss(query: Tensor, obj_weight: Tensor, bg_weight: Tensor,
                           support_obj: Tensor, support_bg: Tensor, tau: float = 0.1,
                           variant: str = 'gcl', eps: float = 1e-8) -> Tensor:
    """DOTGraph's graph contrastive losses over graph nodes (main paper Eq. 9, supplement
    §1.5).

    The query object graph G_Q^obj is the set of query nodes on the object, G_Q^bg those on
    the background (``obj_weight``/``bg_weight``: each node's object and background
    fractions from the query ground truth; ignore pixels count as neither). A node belongs
    to one graph or the other, so each term is taken where its query node exists, never on
    a zeroed-out stand-in (which would add a constant ``log 2`` per background node to L_GCL
    and constant ``exp(0)`` terms to L_GCL2). With ``s(x, y) = cos(x, y) / tau`` and G_S the
    support-object / support-background embeddings at each node (OT messages):

    * ``'gcl'`` (L_GCL, InfoNCE), averaged over the query-object nodes (weights
      ``obj_weight``): ``-log(e^{s(Q_i, So_i)} / (e^{s(Q_i, So_i)} + e^{s(Q_i, Sb_i)}))``.
    * ``'gcl2'`` (L_GCL2), averaged likewise: ``-log(e^{s(Q_i, So_i)} / (e^{s(Q_i, Sb_i)} +
      e^{s(Qb, So_i)} + e^{s(Qb, Sb_i)}))`` where the query-background graph enters at node
      i through its pooled embedding Qb (the ``bg_weight``-weighted mean of the query
      nodes), as the node i itself is an object node; an episode without background nodes
      drops the two Qb terms.

    Args:
        query (Tensor): [B, C, N] query node embeddings.
        obj_weight, bg_weight (Tensor): [B, N] object and background fractions of each node.
        support_obj, support_bg (Tensor): [B, C, N] support embeddings at each node.
        tau (float): Temperature.
        variant (str): ``'gcl'`` or ``'gcl2'``.

    Returns:
        Tensor: The scalar loss (0, still in the graph, when no node is on an object),
        computed in float32 (float64 for float64 inputs) under any autocast.
    """
    if variant not in VARIANTS:
        raise ValueError(f'variant must be one of {VARIANTS}, got {variant!r}')
    # float32 whatever the inputs: under float16 a zero-norm message (an empty support
    # background) meets cosine_similarity's eps=1e-8, which float16 rounds to 0: 0 / 0
    dtype = island_dtype(query.dtype)
    with full_precision(query.device):
        return _graph_contrastive_loss(*(t.to(dtype) for t in (
            query, obj_weight, bg_weight, support_obj, support_bg)), tau, variant, eps)


def _graph_contrastive_loss(query: Tensor, obj_weight: Tensor, bg_weight: Tensor,
                            support_obj: Tensor, support_bg: Tensor, tau: float,
                            variant: str, eps: float) -> Tensor:

    def s(x, y):
        return F.cosine_similarity(x, y, dim=1, eps=eps) / tau

    pos = s(query, support_obj)
    if variant == 'gcl':
        denominator = torch.stack([pos, s(query, support_bg)]).logsumexp(dim=0)
    else:
        bg_total = bg_weight.sum(dim=1)
        q_bg = (query * bg_weight[:, None]).sum(-1) / bg_total.clamp_min(1e-12)[:, None]
        q_bg = q_bg[:, :, None].expand_as(query)
        absent = torch.where(bg_total > 0, 0.0, float('-inf')).to(pos.dtype)[:, None]
        denominator = torch.stack([s(query, support_bg), s(q_bg, support_obj) + absent,
                                   s(q_bg, support_bg) + absent]).logsumexp(dim=0)
    per_node = denominator - pos
    return (per_node * obj_weight).sum() / obj_weight.sum().clamp_min(1e-12)


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

    def forward(self, query: Tensor, obj_weight: Tensor, bg_weight: Tensor,
                support_obj: Tensor, support_bg: Tensor) -> Tensor:
        """See :func:`graph_contrastive_loss`."""
        return self.loss_weight * graph_contrastive_loss(
            query, obj_weight, bg_weight, support_obj, support_bg, self.tau, self.variant)
