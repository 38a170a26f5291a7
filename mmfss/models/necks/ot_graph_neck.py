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
from ..utils import (EpisodeFeatures, foreground_weights, masked_average_pooling,
                     resize_concat, shared_forward)

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

    def forward(self, target: Tensor, source: Tensor) -> Tensor:
        q, k, v = (x.transpose(1, 2)[:, None].contiguous()
                   for x in (self.query(target), self.key(source), self.value(source)))
        # softmax(q k^T / sqrt(d)) v, fused (the N x N weights are never stored)
        out = F.scaled_dot_product_attention(q, k, v, scale=self.scale)
        return self.out(out[:, 0].transpose(1, 2))


class DualBranchGraphLayer(nn.Module):
    """One graph iteration of DOTGraph: OT branch + support-query attention branch, fused.

    OT branch (supplement §1.3, §1.7): the query nodes (uniform mass ``1/Nq``) are matched
    by balanced Sinkhorn with the squared Euclidean cost (Eq. 2, on L2-normalised nodes when
    ``normalize_nodes``) to the support-object nodes (mass proportional to the support mask,
    all K shots pooled into one distribution) and, separately, to the support-background
    nodes (mass proportional to the background weights). Each plan is a message: the
    barycentric projection ``m_i = sum_j T_ij s_j / sum_j T_ij`` of the support nodes onto
    query node i. The update moves the query node toward the support-object message and away
    from the support-background one, ``Δ_ot = g_o (m_obj - q) - g_b (m_bg - q)``, with
    per-node gates ``g = sigmoid(conv1x1([q, m_obj, m_bg]))`` (the supplement describes the
    direction, not the parametrisation; this is ours).

    SQA branch (§1.8): single-head scaled dot-product attention with ``d`` channels from the
    query nodes to all support nodes. The branches are fused by a 1x1 conv and added to the
    query nodes. The support nodes are refined by the same kind of attention toward the
    query (they feed the auxiliary support-mask prediction).

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

    def transport(self, query: Tensor, support: Tensor, *masses: Tensor) -> List[Tensor]:
        """Barycentric messages of ``support`` [B, C, Ns] onto ``query`` [B, C, Nq].

        One balanced Sinkhorn problem per mass vector ([B, Ns] each), all sharing one cost
        matrix and solved in one batched call. Returns one [B, C, Nq] message per mass
        vector; a mass vector that sums to 0 (empty mask) gives a zero message.
        """
        if self.use_kernel:
            return self._kernel_transport(query, support, masses)
        bsz, nq = query.shape[0], query.shape[-1]
        mass = torch.cat(masses)  # [M*B, Ns]
        total = mass.sum(dim=1, keepdim=True)
        empty = total <= 0
        b = torch.where(empty, torch.full_like(mass, 1.0 / mass.shape[1]),
                        mass / total.clamp_min(1e-12))
        a = query.new_full((mass.shape[0], nq), 1.0 / nq, dtype=torch.float32)
        qn, sn = ((F.normalize(query, dim=1), F.normalize(support, dim=1))
                  if self.normalize_nodes else (query, support))
        cost = squared_euclidean_cost(qn, sn, unit_norm=self.normalize_nodes)
        plan = sinkhorn(cost.repeat(len(masses), 1, 1), a, b, self.eps, self.num_iters,
                        self.compile, domain='log')
        # Sinkhorn ends with the row update, so every row sums to exactly a_i = 1/Nq: the
        # barycentric projection sum_j T_ij s_j / sum_j T_ij is Nq * T s (no pass over T).
        message = torch.bmm(support.repeat(len(masses), 1, 1), plan.to(support.dtype)
                            .transpose(1, 2))
        message = message * (nq * (~empty).to(message.dtype))[:, :, None]
        return list(message.split(bsz))

    def _kernel_transport(self, query: Tensor, support: Tensor,
                          masses: Sequence[Tensor]) -> List[Tensor]:
        """:meth:`transport` in the kernel domain (unit-norm nodes, costs in [0, 4])."""
        bsz, c, nq = query.shape
        dtype = torch.float64 if query.dtype == torch.float64 else torch.float32
        with torch.autocast(query.device.type, enabled=False):
            q = F.normalize(query.to(dtype), dim=1)
            s = F.normalize(support.to(dtype), dim=1)
            mass = torch.stack([m.to(dtype) for m in masses], dim=-1)  # [B, Ns, P]
            total = mass.sum(dim=1, keepdim=True)
            empty = total <= 0
            b = torch.where(empty, torch.full_like(mass, 1.0 / mass.shape[1]),
                            mass / total.clamp_min(1e-12))
            a = q.new_full((bsz, nq, len(masses)), 1.0 / nq)
            # K = exp(-C / eps) with C = 2 - 2 q^T s: one product, one exp, both problems
            kernel = torch.baddbmm(q.new_full((1, 1, 1), -2.0 / self.eps), q.transpose(1, 2),
                                   s, alpha=2.0 / self.eps).exp_()
            u, v = kernel_sinkhorn_scalings(kernel, a, b, self.num_iters)
            # rows of each plan sum to 1/Nq, so the barycentric message is Nq * T s^T
            # = Nq * u * (K (v * s^T)): one product with K for all problems
            weighted = v[:, :, None, :] * support.to(dtype).transpose(1, 2)[..., None]
            out = torch.bmm(kernel, weighted.flatten(2)).view(bsz, nq, c, len(masses))
            out = out * (nq * u[:, :, None, :]) * (~empty)[:, :, None, :].to(dtype)
        return [out[..., i].transpose(1, 2).to(query.dtype) for i in range(len(masses))]

    def forward(self, query: Tensor, support: Tensor, obj_mass: Tensor,
                bg_mass: Optional[Tensor]) -> Tuple[Tensor, Tensor, Dict[str, Tensor]]:
        """Args: query [B, C, Nq]; support [B, C, Ns] (K shots concatenated); obj_mass and
        bg_mass [B, Ns] (bg_mass None: no disentanglement, one transport of obj_mass and no
        background term). Returns the refined query and support and the OT messages."""
        parts, messages = [], {}
        if self.use_ot and bg_mass is None:
            m_obj, = self.transport(query, support, obj_mass)
            g = torch.sigmoid(self.gates(torch.cat([query, m_obj, torch.zeros_like(m_obj)], 1)))
            parts.append(g[:, :1] * (m_obj - query))
            messages = dict(support_obj=m_obj)
        elif self.use_ot:
            m_obj, m_bg = self.transport(query, support, obj_mass, bg_mass)
            g = torch.sigmoid(self.gates(torch.cat([query, m_obj, m_bg], dim=1)))
            parts.append(g[:, :1] * (m_obj - query) - g[:, 1:] * (m_bg - query))
            messages = dict(support_obj=m_obj, support_bg=m_bg)
        if self.use_sqa:
            parts.append(self.sqa(query, support))
        new_query = query + self.fuse(torch.cat(parts, dim=1))
        new_support = support + self.support_attn(support, query)
        return new_query, new_support, messages


@MODELS.register_module()
class OTGraphNeck(BaseModule):
    """DOTGraph's dual-branch OT graph refinement with feature disentanglement (§1.3-1.8, §5).

    1. Nodes: the backbone levels ``in_index`` (default layer2 + layer3, as §2.3) resized to
       the first and concatenated; their projection to ``channels`` (C = 256) by a 1x1 conv
       gives one node per position of the 1/8 map (60x60 at 473 crops).
    2. Feature disentanglement (§1.1, §2.3): support object weights = the support mask at the
       node grid; support background weights = (1 - mask), times the support's CLIP
       background prior ``extras['support_' + support_bg_prior_key]`` when present (so the
       background nodes the prior does not call background carry less mass); the prototypes
       F_obj^S, F_bg^S (support) and F_obj^Q (query, weighted by the prior
       ``priors[query_prior_key]``) are weighted masked average poolings of the
       concatenated layer2 + layer3 features, stored in ``extras`` as ``support_obj_proto``,
       ``support_bg_proto`` and ``query_obj_proto`` ([B, C_in]).
    3. ``num_iters`` (T, default 2) :class:`DualBranchGraphLayer` iterations, each with its
       own weights; ``use_ot``/``use_sqa`` switch the branches.
    4. Outputs: refined query nodes and support nodes appended as a new last level of
       ``query_feats``/``support_feats``. In training: the graph contrastive loss (L_GCL or
       L_GCL2, ``loss_contrast``) between the final query nodes split by the query ground
       truth into object/background nodes and the last OT messages (support-object and
       support-background embeddings transported to each node; without the OT branch the
       support prototypes of the final nodes stand in), and an auxiliary support-mask
       prediction from the refined support nodes (``loss_support``).

    Args:
        in_channels (Sequence[int]), in_index (Sequence[int]): Backbone levels used.
        channels (int): Node width C.
        attn_channels (int): SQA width d (128).
        num_iters (int): Graph iterations T.
        use_ot (bool), use_sqa (bool): Branch switches.
        ot_eps (float), ot_iters (int): Sinkhorn settings (<= 3 iterations in §5).
        normalize_nodes (bool): See :class:`DualBranchGraphLayer`.
        query_prior_key (str, optional): Prior weighting F_obj^Q (e.g. ``'clip_fg'``).
        support_bg_prior_key (str, optional): Support background prior (e.g. ``'clip_bg'``).
        disentangle (bool): Split the support into object and background (step 2; default).
            False is supplement Table 1's "No BG Prompt": "no feature disentanglement
            stage": the OT branch transports the whole support with uniform mass (§1.3,
            Eq. 1) in one problem and the gate has no background term; no background
            prototype; the graph contrastive loss, which contrasts object and background,
            must be off.
        loss_contrast (dict, optional): :class:`GraphContrastiveLoss` config; None: off.
        loss_support (dict, optional): Loss of the support-mask prediction; None: off.
        norm_cfg (dict): Norm of the projection.
        align_corners (bool): For resizing.
        compile (bool | str): Passed to :func:`mmfss.ot.sinkhorn`.
        ot_domain (str): ``'auto'``, ``'log'`` or ``'kernel'``; see
            :class:`DualBranchGraphLayer`.
    """

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
        self.in_index = tuple(in_index)
        self.align_corners = align_corners
        if not disentangle and (loss_contrast or support_bg_prior_key):
            raise ValueError('disentangle=False (no object/background split) needs '
                             'loss_contrast=None and support_bg_prior_key=None')
        self.query_prior_key = query_prior_key
        self.support_bg_prior_key = support_bg_prior_key
        self.disentangle = disentangle
        self.use_ot = use_ot
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
        return resize(prior, size=size, mode='bilinear', align_corners=self.align_corners)

    def forward(self, feats: EpisodeFeatures) -> EpisodeFeatures:
        b, k = feats.batch_size, feats.shot
        q_in = self._concat(feats.query_feats)
        s_in = self._concat([f.flatten(0, 1) for f in feats.support_feats])
        q, s = shared_forward(self.reduce, q_in, s_in)
        c, h, w = q.shape[1:]
        hs, ws = s.shape[-2:]
        # feature disentanglement
        obj_w = foreground_weights(feats.support_masks.flatten(0, 1), (hs, ws))  # [BK,1,.,.]
        bg_w = 1.0 - obj_w
        s_bg_prior = self._prior(feats, self.support_bg_prior_key, 'support', (hs, ws))
        if s_bg_prior is not None:
            bg_w = bg_w * s_bg_prior
        q_prior = self._prior(feats, self.query_prior_key, 'query', (h, w))
        feats.extras['support_obj_proto'] = masked_average_pooling(
            s_in, obj_w).view(b, k, -1).mean(1)
        if self.disentangle:
            feats.extras['support_bg_proto'] = masked_average_pooling(
                s_in, bg_w).view(b, k, -1).mean(1)
        if q_prior is not None:
            feats.extras['query_obj_proto'] = masked_average_pooling(q_in, q_prior)

        def pool_shots(x: Tensor) -> Tensor:  # [BK, C', hs, ws] -> [B, C', K*hs*ws]
            return x.view(b, k, x.shape[1], -1).permute(0, 2, 1, 3).flatten(2)

        if self.disentangle:
            obj_mass, bg_mass = pool_shots(obj_w)[:, 0], pool_shots(bg_w)[:, 0]
        else:  # one distribution over every support node (supplement §1.3, Eq. 1)
            obj_mass, bg_mass = torch.ones_like(pool_shots(obj_w)[:, 0]), None
        qn, sn = q.flatten(2), pool_shots(s)
        messages = {}
        for layer in self.layers:
            qn, sn, msg = layer(qn, sn, obj_mass, bg_mass)
            messages = msg or messages
        support_out = sn.view(b, c, k, hs * ws).permute(0, 2, 1, 3).reshape(b, k, c, hs, ws)
        feats.query_feats = list(feats.query_feats) + [qn.view(b, c, h, w)]
        feats.support_feats = list(feats.support_feats) + [support_out]
        if feats.query_masks is not None and self.training:
            self._losses(feats, qn, support_out, messages, obj_w, bg_w, (h, w))
        return feats

    def _losses(self, feats, qn, support_out, messages, obj_w, bg_w, size) -> None:
        b, k = feats.batch_size, feats.shot
        if self.loss_contrast is not None:
            masks = feats.query_masks
            q_obj = qn * foreground_weights(masks, size, foreground=1).flatten(2)
            q_bg = qn * foreground_weights(masks, size, foreground=0).flatten(2)
            if messages:
                s_obj, s_bg = messages['support_obj'], messages['support_bg']
            else:  # no OT branch: the support prototypes of the final nodes stand in
                flat = support_out.flatten(0, 1)
                protos = [masked_average_pooling(flat, w).view(b, k, -1).mean(1)
                          for w in (obj_w, bg_w)]
                s_obj, s_bg = (p[:, :, None].expand_as(qn) for p in protos)
            feats.aux_losses[self.loss_contrast.loss_name] = self.loss_contrast(
                q_obj, q_bg, s_obj, s_bg)
        if self.loss_support is not None:
            masks = feats.support_masks.flatten(0, 1)
            logits = resize(self.support_cls(support_out.flatten(0, 1)), size=masks.shape[-2:],
                            mode='bilinear', align_corners=self.align_corners)
            feats.aux_losses[self.loss_support.loss_name] = self.loss_support(
                logits, masks.long(), ignore_index=255)
