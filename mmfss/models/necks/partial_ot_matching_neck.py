from typing import Dict, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor

from mmfss.ot import KERNEL_MIN_EPS_PER_COST, partial_ot, sinkhorn
from mmfss.ot.precision import full_precision, island_dtype
from ..utils import EpisodeFeatures, NodeGrid, foreground_weights

__all__ = ['PartialOTMatchingNeck', 'cosine_cost']

TRANSPORTS = ('partial', 'full')
NORMALIZATIONS = ('demand', 'none')
SUPPLIES = ('object', 'uniform')


def cosine_cost(support: Tensor, query: Tensor, eps: float = 1e-8) -> Tensor:
    """CMNet Eq. 4: ``c_ij = 1 - s_i^T d_j / (||s_i|| ||d_j||)``.

    Computed in float32 under any autocast (float64 stays float64): in fp16 the cost's
    resolution near 1 is 5e-4, which ``exp(-C / eps)`` with eps = 0.05 turns into 1%
    errors of every kernel entry before the solver sees them.

    Args:
        support (Tensor): [N, C, Ns] supplier nodes.
        query (Tensor): [N, C, Nq] demander nodes.

    Returns:
        Tensor: [N, Ns, Nq] costs in [0, 2] (float32, or float64).
    """
    dtype = island_dtype(support.dtype)
    with full_precision(support.device):
        s = F.normalize(support.to(dtype), dim=1, eps=eps)
        q = F.normalize(query.to(dtype), dim=1, eps=eps)
        return 1.0 - torch.einsum('ncs,ncq->nsq', s, q)


@MODELS.register_module()
class PartialOTMatchingNeck(BaseModule):
    """CMNet's partial optimal transport matching (III.A), as a foreground prior.

    For each episode and shot: the support nodes are the suppliers and the query nodes the
    demanders (``1/Nq`` each); the cost is ``1 - cosine similarity`` (Eq. 4).
    ``transport='partial'`` moves exactly ``M = mass_scale * |support object| / Ns`` (the
    fraction of support nodes inside the support mask, scaled; at most the supply) with
    :func:`mmfss.ot.partial_ot` (dummy supplier/demander, Eq. 3); ``transport='full'``
    moves all the mass with balanced Sinkhorn (Table III's "Full").

    The supply (``supply``). Eq. 2-3 give each supplier ``s_i`` a mass ``w_i`` and fix the
    matched amount ``M`` "according to the object size obtained from the ground truth of
    the support image", so that "the query is forced to activate the object parts and match
    them until no matching flow is left" (§I): the flow that must be matched is the
    object's. mmfss's reading (``supply='object'``, default): the suppliers are the support
    object's nodes, ``w_i = 1/Ns`` inside the support mask and 0 outside, so ``ws = M``
    (for ``mass_scale=1``) and every unit of M leaves an object node; the support mask
    applied after solving (the paper's filtering step) then keeps all of it. The other
    reading, ``supply='uniform'`` (every support node supplies ``1/Ns`` and the mask only
    filters the plan), lets the whole budget M flow background to background when
    background features are more alike than object features, and the prior collapses (see
    the tests); it is kept for comparison. Full transport always uses ``supply='uniform'``
    (Table III's "Full" matches all nodes).

    The plan is multiplied by the binary support mask at the node grid and summed
    over the support nodes: the mass each query node receives from the support object. With
    ``normalize='demand'`` (default) it is divided by the node's demand ``1/Nq``, giving the
    fraction of the node's demand served by the object, in [0, 1] (the paper calls the
    filtered flow weight "the foreground probability" without fixing its scale; dividing by
    the demand makes it a probability whatever the grid size). The K shots are averaged and
    the map [B, 1, h, w] is added to ``priors[prior_key]`` for the decoder.

    Gradients flow through all Sinkhorn iterations into the node features (the matching
    trains the message flow); the masses and M are constants.

    ``matching_stride`` s > 1 is a speed option that changes results (off by default, as
    the paper matches every node): query and support nodes are averaged over s x s cells
    of their grids (:class:`~mmfss.models.utils.NodeGrid`), a support cell is inside the
    mask when the mask covers at least ``mask_threshold`` of it (the mean of its nodes'
    mask fractions), the matching runs between the cells, and the prior is resized
    bilinearly from the query's cells to its nodes. Cost, Sinkhorn and plan cost 1/s^4
    (3600 x 3600 nodes at 473 crops: 900 x 900 with s = 2); docs/speed.md has its measured
    speed and its effect on Shapes-5i.

    Args:
        in_index (int): Level of ``query_feats``/``support_feats`` used as nodes (-1: the
            message flow output).
        transport (str): ``'partial'`` or ``'full'``.
        mass_scale (float): Scale of the support object fraction that sets M (> 0; with
            ``supply='object'`` M is at most the object's supply, so values above 1 act as 1).
        supply (str): ``'object'`` (default) or ``'uniform'``, see above.
        eps (float): Entropic regularisation; costs lie in [0, 2]. The paper leaves it open;
            0.05 as DeepEMD's cosine-cost Sinkhorn.
        num_iters (int): Sinkhorn iterations (fixed, unrolled). With ``supply='object'``
            and ``mass_scale=1`` the matched mass is M exactly after any number of
            iterations (Sinkhorn ends with the row update and the dummy demander's mass is
            0); the iterations bring the query side to its demand: at N = 3600 and eps
            0.05 the prior's maximum is 1.06 after 10 iterations, 1.02 after 30 (default),
            1.001 after 100 (``tools/analysis_tools/partial_ot_mass.py``).
        mask_threshold (float, optional): A node is inside the support mask when the
            bilinearly resized mask covers at least this fraction of it (binary mask, as the
            paper); None uses the fraction itself as a soft mask.
        normalize (str): ``'demand'`` or ``'none'`` (raw flow, which sums to M over nodes).
        prior_key (str): Name of the prior in ``EpisodeFeatures.priors``.
        compile (bool | str): Passed to :mod:`mmfss.ot`.
        matching_stride (int): Grid cell (s x s nodes) the matching runs between; 1
            (default) = every node.
    """

    def __init__(self,
                 in_index: int = -1,
                 transport: str = 'partial',
                 mass_scale: float = 1.0,
                 supply: str = 'object',
                 eps: float = 0.05,
                 num_iters: int = 30,
                 mask_threshold: Optional[float] = 0.5,
                 normalize: str = 'demand',
                 prior_key: str = 'ot_prior',
                 compile: Union[bool, str] = 'auto',
                 matching_stride: int = 1,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if transport not in TRANSPORTS:
            raise ValueError(f'transport must be one of {TRANSPORTS}, got {transport!r}')
        if normalize not in NORMALIZATIONS:
            raise ValueError(f'normalize must be one of {NORMALIZATIONS}, got {normalize!r}')
        if supply not in SUPPLIES:
            raise ValueError(f'supply must be one of {SUPPLIES}, got {supply!r}')
        if not mass_scale > 0:
            raise ValueError(f'mass_scale must be > 0, got {mass_scale!r}')
        if not (isinstance(matching_stride, int) and matching_stride >= 1):
            raise ValueError(f'matching_stride must be an int >= 1, got {matching_stride!r}')
        self.matching_stride = matching_stride
        self.in_index = in_index
        self.transport = transport
        self.mass_scale = float(mass_scale)
        self.supply = supply
        self.eps = eps
        self.num_iters = num_iters
        self.mask_threshold = mask_threshold
        self.normalize = normalize
        self.prior_key = prior_key
        self.compile = compile
        # costs lie in [0, 2]: the kernel domain is exact when 2 / eps <= 80, decided here
        # rather than by reading max|C| on every call (a host sync)
        self.ot_domain = 'kernel' if eps >= 2 * KERNEL_MIN_EPS_PER_COST else 'log'

    def support_node_mask(self, support_masks: Tensor, size: Sequence[int],
                          stride: int = 1) -> Tensor:
        """Support mask at the node grid: [N, Hs, Ws] labels -> [N, Ns] in [0, 1]; with
        ``stride`` s, at its s x s cells ([N, cells]: the mean of their nodes' fractions)."""
        weights = NodeGrid(size, stride).pool(
            foreground_weights(support_masks, tuple(size)).flatten(2)).flatten(1)
        if self.mask_threshold is None:
            return weights
        return (weights >= self.mask_threshold).to(weights.dtype)

    def match(self, query: Tensor, support: Tensor, support_masks: Tensor) -> Dict[str, Tensor]:
        """Solve the matching of each (episode, shot).

        Args:
            query (Tensor): [B, C, h, w] query nodes.
            support (Tensor): [B, K, C, hs, ws] support nodes.
            support_masks (Tensor): [B, K, Hs, Ws] labels (1 foreground).

        Returns:
            dict: ``plan`` [B*K, Ns, Nq], ``mass`` [B*K] (M; 1 for full transport),
            ``node_mask`` [B*K, Ns] and ``prior`` [B, 1, h, w], float32 (float64 for
            float64 nodes) under any autocast. With ``matching_stride`` > 1, Ns and Nq
            count cells, and the prior is resized to the query's nodes.
        """
        b, k, c, hs, ws = support.shape
        h, w = query.shape[-2:]
        q_grid = NodeGrid((h, w), self.matching_stride)
        s_grid = NodeGrid((hs, ws), self.matching_stride)
        s = s_grid.pool(support.flatten(0, 1).flatten(2))  # [BK, C, Ns]
        q = q_grid.pool(query.flatten(2))  # [B, C, Nq]
        q = q[:, None].expand(b, k, c, q.shape[-1]).flatten(0, 1)  # [BK, C, Nq]
        cost = cosine_cost(s, q)
        node_mask = self.support_node_mask(support_masks.flatten(0, 1), (hs, ws),
                                           self.matching_stride).float()
        ns, nq = s.shape[-1], q.shape[-1]
        a = cost.new_full((b * k, ns), 1.0 / ns, dtype=torch.float32)
        d = cost.new_full((b * k, nq), 1.0 / nq, dtype=torch.float32)
        if self.transport == 'partial':
            share = node_mask.mean(dim=1)
            if self.supply == 'object':
                # supply on the object's nodes only; an episode without object moves
                # nothing (mass 0: the zero plan), its supply is left uniform
                a = torch.where(share[:, None] > 0, node_mask / ns, a)
                mass = (self.mass_scale * share).clamp(max=1.0).minimum(share)
            else:
                mass = (self.mass_scale * share).clamp(0.0, 1.0)
            plan = partial_ot(cost, a, d, mass, self.eps, self.num_iters, self.compile,
                              domain=self.ot_domain, check=False)
        else:
            mass = torch.ones(b * k, device=cost.device)
            plan = sinkhorn(cost, a, d, self.eps, self.num_iters, self.compile,
                            domain=self.ot_domain, check=False)
        with full_precision(plan.device):  # ~1/(Ns Nq) entries: below fp16's normals
            flow = torch.einsum('ns,nsq->nq', node_mask.to(plan.dtype), plan)
        if self.normalize == 'demand':
            flow = flow * nq
        prior = q_grid.unpool(flow.view(b, k, nq).mean(dim=1, keepdim=True)).view(b, 1, h, w)
        return dict(plan=plan, mass=mass, node_mask=node_mask, prior=prior)

    def forward(self, feats: EpisodeFeatures) -> EpisodeFeatures:
        if self.prior_key in feats.priors:
            raise KeyError(f'prior {self.prior_key!r} already exists; give each prior neck its '
                           'own prior_key')
        query = feats.query_feats[self.in_index]
        support = feats.support_feats[self.in_index]
        out = self.match(query, support, feats.support_masks)
        feats.priors[self.prior_key] = out['prior'].to(query.dtype)
        return feats
