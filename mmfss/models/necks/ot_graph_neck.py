import math
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptConfigType
from torch import Tensor

from mmfss.ot import KERNEL_MIN_EPS_PER_COST, kernel_sinkhorn_scalings, sinkhorn
from mmfss.ot.precision import full_precision, island_dtype
from mmfss.ot.validation import value_checks
from ..utils.lazy_levels import add_levels, map_levels
from ..utils import (EpisodeFeatures, foreground_weights, masked_average_pooling,
                     resize_concat, resize_to, segmentation_loss, shared_forward)

__all__ = ['OTGraphNeck', 'DualBranchGraphLayer', 'squared_euclidean_cost']


def squared_euclidean_cost(query: Tensor, support: Tensor, unit_norm: bool = False) -> Tensor:
    """DOTGraph's cost (supplement Eq. 2): ``C_ij = ||v_i^Q - v_j^S||^2``.

    Args:
        query (Tensor): [B, C, Nq]; support (Tensor): [B, C, Ns].
        unit_norm (bool): The nodes have unit L2 norm, so ``C = 2 - 2 q^T s`` (one fused
            matrix product, no extra pass over the N x N matrix).

    Returns:
        Tensor: [B, Nq, Ns] (clamped at 0 against rounding unless ``unit_norm``).
    """
    q_t = query.transpose(1, 2)
    if unit_norm:
        return torch.baddbmm(query.new_full((1, 1, 1), 2.0), q_t, support, alpha=-2.0)
    q2 = query.square().sum(1)[:, :, None]
    s2 = support.square().sum(1)[:, None, :]
    return torch.baddbmm(q2 + s2, q_t, support, alpha=-2.0).clamp_min_(0)


class _Attention(nn.Module):
    """Single-head scaled dot-product attention (d channels) from targets to sources."""

    def __init__(self, channels: int, attn_channels: int) -> None:
        super().__init__()
        self.query = nn.Conv1d(channels, attn_channels, 1)
        self.key = nn.Conv1d(channels, attn_channels, 1)
        self.value = nn.Conv1d(channels, attn_channels, 1)
        self.out = nn.Conv1d(attn_channels, channels, 1)
        self.scale = 1.0 / math.sqrt(attn_channels)

    def forward(self, target: Tensor, source: Tensor, bias: Optional[Tensor] = None) -> Tensor:
        """target [B, C, Nt], source [B, C, Ns], bias [B, Ns] added to the logits of each
        source (``log`` of a source weight; -inf excludes it) -> [B, C, Nt]."""
        q, k, v = (x.transpose(1, 2)[:, None].contiguous()
                   for x in (self.query(target), self.key(source), self.value(source)))
        mask = None if bias is None else bias[:, None, None, :].to(q.dtype)
        # softmax(q k^T / sqrt(d) + bias) v, fused (the N x N weights are never stored)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=self.scale)
        return self.out(out[:, 0].transpose(1, 2))


def _log_weights(weights: Tensor) -> Tensor:
    """log of non-negative weights [B, N] as attention biases; an all-zero row gets zeros
    (every source equal) instead of a row of -inf."""
    empty = weights.sum(dim=1, keepdim=True) <= 0
    return torch.where(empty, torch.zeros_like(weights), weights.log())


class DualBranchGraphLayer(nn.Module):
    """One graph iteration of DOTGraph: OT branch + support-query attention branch, fused.

    OT branch (supplement §1.3, §1.7, §5): two balanced Sinkhorn problems sharing one cost
    (Eq. 2, squared Euclidean, on L2-normalised nodes when ``normalize_nodes``): the query
    against the support-object nodes (mass proportional to the support mask) and against the
    support-background nodes (mass proportional to the background weights); K shots are
    pooled into one distribution. The query side is the query-object distribution: mass
    proportional to the query's CLIP foreground prior (``query_mass``; uniform, Eq. 1's
    ``nu``, when none is given), so the support mass goes to the nodes CLIP calls object
    (CLIP-driven background filtering of the query, §1.5). Each plan is a message: the
    barycentric projection ``m_i = sum_j T_ij s_j / sum_j T_ij`` of the support nodes onto
    every query node i. The update moves the query node toward the support-object message
    and away from the support-background one, ``Δ_ot = g_o (m_obj - q) - g_b (m_bg - q)``,
    with per-node gates ``g = sigmoid(conv1x1([q, m_obj, m_bg]))`` (the supplement describes
    the direction, not the parametrisation; this is ours).

    SQA branch (§1.8): single-head scaled dot-product attention with ``d`` channels from the
    query nodes to the support nodes, each key's logit shifted by ``log`` of its weight
    (``sqa_weights``: the support-object weights, so background nodes drop out and boundary
    nodes count by their object fraction), plus, with ``query_weights``, the query-object
    feature F_obj^Q (§2.3: weighted masked average pooling of the query nodes with the
    query's CLIP prior) as one more key/value, so the query also attends to its own
    CLIP-filtered object. The branches are fused by a 1x1 conv and added to the query nodes.
    The support nodes are refined by the same kind of attention toward the query (they feed
    the auxiliary support-mask prediction). The SQA runs on the same 1/8 nodes as the OT
    (60x60 at 473): §1.8 credits SQA with "higher-resolution features", but the next finer
    level of the dilated ResNet is layer1 at 1/4, where N = 119^2 makes the N x N attention
    16 times the cost, and the supplement's own complexity analysis (§5) counts one N for
    both branches.

    Args:
        channels (int): Node width C.
        attn_channels (int): SQA width d.
        use_ot (bool), use_sqa (bool): Branch switches.
        eps (float): Sinkhorn regularisation; num_iters (int): Sinkhorn iterations.
        normalize_nodes (bool): L2-normalise the nodes inside the cost (costs in [0, 4]).
        compile (bool | str): Passed to :func:`mmfss.ot.sinkhorn`.
        ot_domain (str): ``'log'``: :func:`mmfss.ot.sinkhorn` (log domain, one plan per
            problem); ``'kernel'``: :func:`mmfss.ot.kernel_sinkhorn_scalings` (the same
            iterations on ``K = exp(-C / eps)``, computed once for both problems, messages
            as products with K, no plan formed), valid when the costs are bounded, i.e.
            ``normalize_nodes`` and ``eps >= 4 / 80``; ``'auto'`` (default): kernel when
            valid, else log.
    """

    OT_DOMAINS = ('auto', 'log', 'kernel')

    def __init__(self, channels: int, attn_channels: int = 128, use_ot: bool = True,
                 use_sqa: bool = True, eps: float = 0.1, num_iters: int = 3,
                 normalize_nodes: bool = True, compile: Union[bool, str] = 'auto',
                 ot_domain: str = 'auto') -> None:
        super().__init__()
        if not (use_ot or use_sqa):
            raise ValueError('at least one of use_ot and use_sqa must be on')
        if ot_domain not in self.OT_DOMAINS:
            raise ValueError(f'ot_domain must be one of {self.OT_DOMAINS}, got {ot_domain!r}')
        kernel_ok = normalize_nodes and eps >= 4 * KERNEL_MIN_EPS_PER_COST
        if ot_domain == 'kernel' and not kernel_ok:
            raise ValueError("ot_domain='kernel' needs normalize_nodes=True and eps >= 0.05 "
                             f'(bounded costs); got normalize_nodes={normalize_nodes}, '
                             f'eps={eps}')
        self.use_kernel = kernel_ok if ot_domain == 'auto' else ot_domain == 'kernel'
        self.use_ot, self.use_sqa = use_ot, use_sqa
        self.eps, self.num_iters = eps, num_iters
        self.normalize_nodes = normalize_nodes
        self.compile = compile
        if use_ot:
            self.gates = nn.Conv1d(3 * channels, 2, 1)
        if use_sqa:
            self.sqa = _Attention(channels, attn_channels)
        self.fuse = nn.Conv1d(channels * (int(use_ot) + int(use_sqa)), channels, 1)
        self.support_attn = _Attention(channels, attn_channels)

    @staticmethod
    def _normalise(mass: Tensor) -> Tuple[Tensor, Tensor]:
        """Masses with the nodes along dim 1 -> probability vectors over dim 1 and a mask of
        the empty ones (replaced by uniform)."""
        total = mass.sum(dim=1, keepdim=True)
        empty = total <= 0
        return torch.where(empty, torch.full_like(mass, 1.0 / mass.shape[1]),
                           mass / total.clamp_min(1e-12)), empty

    def transport(self, query: Tensor, support: Tensor, *masses: Tensor,
                  query_mass: Optional[Tensor] = None) -> List[Tensor]:
        """Barycentric messages of ``support`` [B, C, Ns] onto ``query`` [B, C, Nq].

        One balanced Sinkhorn problem per support mass vector ([B, Ns] each), all sharing
        one cost matrix and the query masses ``query_mass`` ([B, Nq], positive; None:
        uniform), solved in one batched call. Returns one [B, C, Nq] message per mass
        vector; a mass vector that sums to 0 (empty mask) gives a zero message.
        """
        # OTGraphNeck floors its query masses; checking them reads the device (a host
        # sync), so only under MMFSS_DEBUG_CHECKS=1
        if query_mass is not None and value_checks(False) and not (query_mass > 0).all():
            raise ValueError('query masses must be positive (every query node receives a '
                             'message)')
        if self.use_kernel:
            return self._kernel_transport(query, support, masses, query_mass)
        bsz, nq = query.shape[0], query.shape[-1]
        b, empty = self._normalise(torch.cat(masses))  # [M*B, Ns]
        if query_mass is None:
            a = query.new_full((b.shape[0], nq), 1.0 / nq, dtype=torch.float32)
        else:
            a = self._normalise(query_mass.float())[0].repeat(len(masses), 1)
        # costs, plan and messages in float32 under any autocast (float64 stays float64):
        # a plan entry is ~1/(Nq Ns) ~ 1e-7 at 60x60 nodes, below fp16's smallest normal
        dtype = island_dtype(query.dtype)
        with full_precision(query.device):
            q32, s32 = query.to(dtype), support.to(dtype)
            qn, sn = ((F.normalize(q32, dim=1), F.normalize(s32, dim=1))
                      if self.normalize_nodes else (q32, s32))
            cost = squared_euclidean_cost(qn, sn, unit_norm=self.normalize_nodes)
            plan = sinkhorn(cost.repeat(len(masses), 1, 1), a, b, self.eps, self.num_iters,
                            self.compile, domain='log', check=False)
            # Sinkhorn ends with the row update, so row i of the plan sums to exactly a_i:
            # the barycentric projection sum_j T_ij s_j / sum_j T_ij is (T s)_i / a_i
            message = torch.bmm(s32.repeat(len(masses), 1, 1), plan.to(dtype)
                                .transpose(1, 2)) / a.to(dtype)[:, None, :]
            message = message * (~empty).to(dtype)[:, :, None]
        return list(message.to(query.dtype).split(bsz))

    def _kernel_transport(self, query: Tensor, support: Tensor, masses: Sequence[Tensor],
                          query_mass: Optional[Tensor]) -> List[Tensor]:
        """:meth:`transport` in the kernel domain (unit-norm nodes, costs in [0, 4])."""
        bsz, c, nq = query.shape
        dtype = island_dtype(query.dtype)
        with full_precision(query.device):
            q = F.normalize(query.to(dtype), dim=1)
            s = F.normalize(support.to(dtype), dim=1)
            b, empty = self._normalise(torch.stack([m.to(dtype) for m in masses], dim=-1))
            if query_mass is None:
                a = q.new_full((bsz, nq, len(masses)), 1.0 / nq)
            else:
                a = self._normalise(query_mass.to(dtype))[0][..., None].expand(
                    -1, -1, len(masses)).contiguous()
            # K = exp(-C / eps) with C = 2 - 2 q^T s: one product, one exp, both problems
            kernel = torch.baddbmm(q.new_full((1, 1, 1), -2.0 / self.eps), q.transpose(1, 2),
                                   s, alpha=2.0 / self.eps).exp_()
            u, v = kernel_sinkhorn_scalings(kernel, a, b, self.num_iters)
            # barycentric message m_i = sum_j K_ij v_j s_j / sum_j K_ij v_j (u_i cancels):
            # one product with K for all problems
            weighted = v[:, :, None, :] * support.to(dtype).transpose(1, 2)[..., None]
            out = torch.bmm(kernel, weighted.flatten(2)).view(bsz, nq, c, len(masses))
            out = out / torch.bmm(kernel, v)[:, :, None, :]
            out = out * (~empty)[:, :, None, :].to(dtype)
        return [out[..., i].transpose(1, 2).to(query.dtype) for i in range(len(masses))]

    def forward(self, query: Tensor, support: Tensor, obj_mass: Tensor,
                bg_mass: Optional[Tensor], query_mass: Optional[Tensor] = None,
                sqa_weights: Optional[Tensor] = None,
                query_weights: Optional[Tensor] = None
                ) -> Tuple[Tensor, Tensor, Dict[str, Tensor]]:
        """One iteration.

        Args:
            query (Tensor): [B, C, Nq] nodes; support (Tensor): [B, C, Ns] (K shots
                concatenated).
            obj_mass, bg_mass (Tensor): [B, Ns] support-object and support-background masses
                (bg_mass None: no disentanglement, one transport and no background term).
            query_mass (Tensor, optional): [B, Nq] positive query masses (None: uniform).
            sqa_weights (Tensor, optional): [B, Ns] weights of the support nodes as SQA keys
                (None: all equal).
            query_weights (Tensor, optional): [B, Nq] query prior; F_obj^Q pooled with it
                joins the SQA keys.

        Returns:
            tuple: refined query [B, C, Nq], refined support [B, C, Ns] and the OT messages.
        """
        parts, messages = [], {}
        if self.use_ot and bg_mass is None:
            m_obj, = self.transport(query, support, obj_mass, query_mass=query_mass)
            g = torch.sigmoid(self.gates(torch.cat([query, m_obj, torch.zeros_like(m_obj)], 1)))
            parts.append(g[:, :1] * (m_obj - query))
            messages = dict(support_obj=m_obj)
        elif self.use_ot:
            m_obj, m_bg = self.transport(query, support, obj_mass, bg_mass,
                                         query_mass=query_mass)
            g = torch.sigmoid(self.gates(torch.cat([query, m_obj, m_bg], dim=1)))
            parts.append(g[:, :1] * (m_obj - query) - g[:, 1:] * (m_bg - query))
            messages = dict(support_obj=m_obj, support_bg=m_bg)
        if self.use_sqa:
            keys, bias = support, None
            if sqa_weights is not None:
                bias = _log_weights(sqa_weights)
            if query_weights is not None:
                # F_obj^Q: weighted masked average pooling of the query nodes with the prior
                proto = masked_average_pooling(query[..., None],
                                               query_weights[:, None, :, None])[:, :, None]
                keys = torch.cat([support, proto], dim=2)
                bias = torch.cat([support.new_zeros(support.shape[0], support.shape[-1])
                                  if bias is None else bias,
                                  support.new_zeros(support.shape[0], 1)], dim=1)
            parts.append(self.sqa(query, keys, bias))
        new_query = query + self.fuse(torch.cat(parts, dim=1))
        new_support = support + self.support_attn(support, query)
        return new_query, new_support, messages


@MODELS.register_module()
class OTGraphNeck(BaseModule):
    """DOTGraph's dual-branch OT graph refinement with feature disentanglement (§1.3-1.8, §5).

    1. Nodes: the backbone levels ``in_index`` (default layer2 + layer3, as §2.3) resized to
       the first and concatenated; their projection to ``channels`` (C = 256) by a 1x1 conv
       gives one node per position of the 1/8 map (60x60 at 473 crops).
    2. Feature disentanglement (§1.1, §1.5, §2.3), on both sides:

       * support: object weights = the support mask at the node grid (bilinear, PFENet's
         resize); background weights = the labelled non-object fraction (padding and
         ignore pixels, 255, count as neither), times the support's CLIP background prior
         ``extras['support_' + support_bg_prior_key]`` when given;
       * query: the query's CLIP foreground prior ``priors[query_prior_key]`` at the node
         grid weighs the query nodes: it is the query-object distribution of the OT problems
         (``query_mass='prior'``) and pools F_obj^Q, the query-object feature that joins the
         SQA keys (``sqa_query_object``). No query ground truth is read outside the training
         losses.
    3. ``num_iters`` (T, default 2) :class:`DualBranchGraphLayer` iterations, each with its
       own weights; ``use_ot``/``use_sqa`` switch the branches. The SQA keys are the
       support-object nodes (``sqa_keys='object'``) or every support node (``'all'``).
    4. Outputs: refined query nodes and support nodes appended as a new last level of
       ``query_feats``/``support_feats``. In training: the graph contrastive loss (L_GCL or
       L_GCL2, ``loss_contrast``, :func:`~mmfss.models.losses.graph_contrastive_loss`) at the
       final query nodes, weighted by the query ground truth's object and background
       fractions, against the last OT messages (support-object and support-background
       embeddings transported to each node; without the OT branch the support prototypes of
       the final nodes stand in), and the auxiliary support-mask prediction
       (``loss_support``): a 1x1 conv on the refined support nodes. §2.1 feeds the refined
       support "into the decoder"; the decoder here (the PPM meta head with the query's
       priors and the support prototype, ensembled with the base learner) has no support-side
       input for those priors, so the support mask is predicted by its own classifier.

    Where the supplement leaves a choice, the defaults and the alternatives:

    * ``query_mass='prior'`` (default): §1.5's CLIP background filtering of the query and §5's
      "object vs. object, object vs. background" costs, read as OT between the query-object
      distribution (mass = CLIP foreground prior, at least ``query_mass_floor`` of a full
      node so every node receives a well-defined message) and the support object /
      background distributions. ``'uniform'``: Eq. 1's uniform query measure.
    * ``sqa_keys='object'`` (default): SQA "after disentanglement" (§1.8) attends to the
      support-object nodes (logits shifted by ``log`` of the object fraction); ``'all'``:
      every support node.
    * ``sqa_query_object=True`` (default): F_obj^Q (§2.3) is one more SQA key/value.

    Args:
        in_channels (Sequence[int]), in_index (Sequence[int]): Backbone levels used.
        channels (int): Node width C.
        attn_channels (int): SQA width d (128).
        num_iters (int): Graph iterations T.
        use_ot (bool), use_sqa (bool): Branch switches.
        ot_eps (float), ot_iters (int): Sinkhorn settings (<= 3 iterations in §5).
        normalize_nodes (bool): See :class:`DualBranchGraphLayer`.
        query_prior_key (str, optional): The query's CLIP foreground prior (``'clip_fg'``).
        support_bg_prior_key (str, optional): The supports' CLIP background prior.
        query_mass (str): ``'prior'`` or ``'uniform'`` (see above).
        query_mass_floor (float): Smallest query-node mass, relative to a node of prior 1.
        sqa_keys (str): ``'object'`` or ``'all'`` (see above).
        sqa_query_object (bool): F_obj^Q as an SQA key (needs ``query_prior_key``).
        disentangle (bool): Split the support into object and background (step 2; default).
            False is supplement Table 1's "No BG Prompt": "no feature disentanglement
            stage": the OT branch transports every labelled support node with uniform mass
            (§1.3, Eq. 1) to a uniform query in one problem, the gate has no background term,
            SQA attends to every support node; it needs ``query_prior_key=None``,
            ``support_bg_prior_key=None`` and ``loss_contrast=None`` (the loss contrasts
            object and background).
        loss_contrast (dict, optional): :class:`GraphContrastiveLoss` config; None: off.
        loss_support (dict, optional): Loss of the support-mask prediction; None: off.
        norm_cfg (dict): Norm of the projection.
        align_corners (bool): For resizing.
        compile (bool | str): Passed to :func:`mmfss.ot.sinkhorn`.
        ot_domain (str): ``'auto'``, ``'log'`` or ``'kernel'``; see
            :class:`DualBranchGraphLayer`.
    """

    QUERY_MASSES = ('prior', 'uniform')
    SQA_KEYS = ('object', 'all')

    def __init__(self,
                 in_channels: Sequence[int] = (512, 1024),
                 in_index: Sequence[int] = (1, 2),
                 channels: int = 256,
                 attn_channels: int = 128,
                 num_iters: int = 2,
                 use_ot: bool = True,
                 use_sqa: bool = True,
                 ot_eps: float = 0.1,
                 ot_iters: int = 3,
                 normalize_nodes: bool = True,
                 query_prior_key: Optional[str] = 'clip_fg',
                 support_bg_prior_key: Optional[str] = 'clip_bg',
                 query_mass: str = 'prior',
                 query_mass_floor: float = 1e-3,
                 sqa_keys: str = 'object',
                 sqa_query_object: bool = True,
                 disentangle: bool = True,
                 loss_contrast: OptConfigType = dict(type='GraphContrastiveLoss'),
                 loss_support: OptConfigType = dict(
                     type='CrossEntropyLoss', loss_weight=1.0, avg_non_ignore=True,
                     loss_name='loss_support'),
                 norm_cfg: ConfigType = dict(type='BN', requires_grad=True),
                 align_corners: bool = False,
                 compile: Union[bool, str] = 'auto',
                 ot_domain: str = 'auto',
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if len(in_channels) != len(in_index):
            raise ValueError(f'in_channels {in_channels} and in_index {in_index} must have '
                             'the same length')
        if not (isinstance(num_iters, int) and num_iters >= 1):
            raise ValueError(f'num_iters must be an int >= 1, got {num_iters!r}')
        if query_mass not in self.QUERY_MASSES:
            raise ValueError(f'query_mass must be one of {self.QUERY_MASSES}, got '
                             f'{query_mass!r}')
        if sqa_keys not in self.SQA_KEYS:
            raise ValueError(f'sqa_keys must be one of {self.SQA_KEYS}, got {sqa_keys!r}')
        if not 0 < query_mass_floor <= 1:
            raise ValueError(f'query_mass_floor must be in (0, 1], got {query_mass_floor!r}')
        if not disentangle and (loss_contrast or support_bg_prior_key or query_prior_key):
            raise ValueError('disentangle=False (no disentanglement stage) needs '
                             'loss_contrast=None, support_bg_prior_key=None and '
                             'query_prior_key=None')
        if disentangle and query_prior_key is None and (query_mass == 'prior'
                                                        or sqa_query_object):
            raise ValueError("query_mass='prior' and sqa_query_object=True need "
                             "query_prior_key (the query's CLIP foreground prior)")
        self.in_index = tuple(in_index)
        self.align_corners = align_corners
        self.query_prior_key = query_prior_key
        self.support_bg_prior_key = support_bg_prior_key
        self.query_mass = query_mass if disentangle else 'uniform'
        self.query_mass_floor = query_mass_floor
        self.sqa_keys = sqa_keys if disentangle else 'all'
        self.sqa_query_object = sqa_query_object and disentangle
        self.disentangle = disentangle
        self.use_ot = use_ot
        self.out_channels = channels  # of the level it appends to the episode's features
        self.reduce = ConvModule(sum(in_channels), channels, 1, norm_cfg=norm_cfg,
                                 act_cfg=dict(type='ReLU'))
        self.layers = nn.ModuleList([
            DualBranchGraphLayer(channels, attn_channels, use_ot, use_sqa, ot_eps, ot_iters,
                                 normalize_nodes, compile, ot_domain)
            for _ in range(num_iters)
        ])
        self.loss_contrast = MODELS.build(loss_contrast) if loss_contrast else None
        self.loss_support = MODELS.build(loss_support) if loss_support else None
        if self.loss_support is not None:
            self.support_cls = nn.Conv2d(channels, 2, 1)

    def _concat(self, levels: List[Tensor]) -> Tensor:
        return resize_concat(levels, self.in_index, self.align_corners)

    def _prior(self, feats: EpisodeFeatures, key: Optional[str], where: str,
               size) -> Optional[Tensor]:
        if key is None:
            return None
        source = feats.priors if where == 'query' else feats.extras
        name = key if where == 'query' else f'support_{key}'
        if name not in source:
            raise KeyError(f'OTGraphNeck needs {where} prior {name!r} (from CLIPPriorNeck); set '
                           f'{where}_*prior_key=None to run without it')
        prior = source[name]
        prior = prior.flatten(0, 1) if where == 'support' else prior
        return resize_to(prior, size, self.align_corners)

    @staticmethod
    def object_and_background_weights(masks: Tensor, size) -> Tuple[Tensor, Tensor]:
        """Object and background fractions [N, 1, h, w] of each node of label masks
        [N, H, W] (1 object, 0 background, 255 ignore: neither)."""
        obj = foreground_weights(masks, size, foreground=1)
        bg = foreground_weights(masks, size, foreground=0)
        return obj, bg

    def forward(self, feats: EpisodeFeatures) -> EpisodeFeatures:
        b, k = feats.batch_size, feats.shot
        q_in = self._concat(feats.query_feats)
        s_in = self._concat(map_levels(feats.support_feats, lambda f: f.flatten(0, 1)))
        q, s = shared_forward(self.reduce, q_in, s_in)
        c, h, w = q.shape[1:]
        hs, ws = s.shape[-2:]

        def pool_shots(x: Tensor) -> Tensor:  # [BK, 1, hs, ws] -> [B, K*hs*ws]
            return x.view(b, k, -1).flatten(1)

        # feature disentanglement: support
        obj_w, bg_w = self.object_and_background_weights(feats.support_masks.flatten(0, 1),
                                                         (hs, ws))
        s_bg_prior = self._prior(feats, self.support_bg_prior_key, 'support', (hs, ws))
        if s_bg_prior is not None:
            bg_w = bg_w * s_bg_prior
        if self.disentangle:
            obj_mass, bg_mass = pool_shots(obj_w), pool_shots(bg_w)
        else:  # one distribution over every labelled support node (§1.3, Eq. 1)
            obj_mass, bg_mass = (pool_shots(obj_w + bg_w) > 0).to(obj_w.dtype), None
        # feature disentanglement: query (its CLIP prior; never its ground truth)
        q_prior = self._prior(feats, self.query_prior_key, 'query', (h, w))
        q_weights = None if q_prior is None else q_prior.flatten(1).clamp_min(0)
        query_mass = (q_weights.clamp_min(self.query_mass_floor)
                      if self.query_mass == 'prior' else None)
        sqa_weights = obj_mass if self.sqa_keys == 'object' else None
        sqa_query = q_weights if self.sqa_query_object else None

        qn, sn = q.flatten(2), s.view(b, k, c, hs * ws).permute(0, 2, 1, 3).flatten(2)
        messages = {}
        for layer in self.layers:
            qn, sn, msg = layer(qn, sn, obj_mass, bg_mass, query_mass, sqa_weights, sqa_query)
            messages = msg or messages
        support_out = sn.view(b, c, k, hs * ws).permute(0, 2, 1, 3).reshape(b, k, c, hs, ws)
        feats.query_feats = list(feats.query_feats) + [qn.view(b, c, h, w)]
        feats.support_feats = add_levels(feats.support_feats, [support_out])
        if feats.query_masks is not None and self.training:
            self._losses(feats, qn, support_out, messages, obj_w, bg_w, (h, w))
        return feats

    def _losses(self, feats, qn, support_out, messages, obj_w, bg_w, size) -> None:
        b, k = feats.batch_size, feats.shot
        if self.loss_contrast is not None:
            q_obj_w, q_bg_w = self.object_and_background_weights(feats.query_masks, size)
            if messages:
                s_obj, s_bg = messages['support_obj'], messages['support_bg']
            else:  # no OT branch: the support prototypes of the final nodes stand in
                flat = support_out.flatten(0, 1)
                protos = [masked_average_pooling(flat, w).view(b, k, -1).mean(1)
                          for w in (obj_w, bg_w)]
                s_obj, s_bg = (p[:, :, None].expand_as(qn) for p in protos)
            feats.aux_losses[self.loss_contrast.loss_name] = self.loss_contrast(
                qn, q_obj_w.flatten(1), q_bg_w.flatten(1), s_obj, s_bg)
        if self.loss_support is not None:
            masks = feats.support_masks.flatten(0, 1)
            logits = resize(self.support_cls(support_out.flatten(0, 1)), size=masks.shape[-2:],
                            mode='bilinear', align_corners=self.align_corners)
            feats.aux_losses[self.loss_support.loss_name] = segmentation_loss(
                self.loss_support, logits, masks.long(), ignore_index=255)
