import math
from typing import List, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptConfigType
from torch import Tensor

from ..utils.lazy_levels import add_levels, map_levels
from ..utils import (EpisodeFeatures, NodeGrid, after_conv, conv_channels, resize_concat,
                     shared_forward, splits_by_channels)

__all__ = ['MessageFlowNeck', 'MessagePassing', 'LearnedPositionalEncoding']

FLOWS = ('inner', 'cross')


class LearnedPositionalEncoding(nn.Module):
    """Learnable spatial positional encoding (CMNet Eq. 5, after DETR's learned embedding).

    Half of the channels encode the row and half the column: two learned tables of
    ``num_positions`` entries, linearly interpolated to the grid's height and width, so the
    encoding depends on the normalised position and any node grid size works.

    Args:
        channels (int): Feature width C (even).
        num_positions (int): Entries of each table.
    """

    def __init__(self, channels: int, num_positions: int = 64) -> None:
        super().__init__()
        if channels % 2:
            raise ValueError(f'positional encoding needs an even channel count, got {channels}')
        self.row = nn.Parameter(torch.empty(channels // 2, num_positions))
        self.col = nn.Parameter(torch.empty(channels - channels // 2, num_positions))
        nn.init.uniform_(self.row)  # DETR's PositionEmbeddingLearned initialisation
        nn.init.uniform_(self.col)

    def _table(self, table: Tensor, length: int) -> Tensor:
        if table.shape[-1] == length:
            return table
        return F.interpolate(table[None], size=length, mode='linear', align_corners=True)[0]

    def forward(self, h: int, w: int) -> Tensor:
        """[1, C, h, w] encoding."""
        rows = self._table(self.row, h)[:, :, None].expand(-1, h, w)
        cols = self._table(self.col, w)[:, None, :].expand(-1, h, w)
        return torch.cat([rows, cols])[None]


class MessagePassing(nn.Module):
    """One attentional message-passing update (CMNet Eq. 6-8).

    For each target node i: ``alpha_ij = softmax_j(q_i^T k_j * s)`` over the connected
    source nodes j (Eq. 7), ``m_i = sum_j alpha_ij v_j`` (Eq. 8), and the residual update
    ``f_i' = f_i + MLP(concat(f_i, m_i))`` with 1x1 convolutions (Eq. 6). q, k and v are 1x1
    convolutions of the target and source features.

    The paper writes Eq. 7 without a scale; it follows SuperGlue [56], whose equation also
    omits it while its implementation divides by sqrt(d). ``attn_scale='sqrt'`` (default)
    does the same, ``'none'`` uses the bare dot product.

    Args:
        channels (int): Node feature width C.
        attn_scale (str): ``'sqrt'`` (s = 1/sqrt(C)) or ``'none'`` (s = 1).
        norm_cfg (dict): Norm of the MLP's hidden layer.
    """

    def __init__(self, channels: int, attn_scale: str = 'sqrt',
                 norm_cfg: ConfigType = dict(type='BN1d')) -> None:
        super().__init__()
        if attn_scale not in ('sqrt', 'none'):
            raise ValueError(f"attn_scale must be 'sqrt' or 'none', got {attn_scale!r}")
        self.channels = channels
        self.scale = 1.0 / math.sqrt(channels) if attn_scale == 'sqrt' else 1.0
        self.query = nn.Conv1d(channels, channels, 1)
        self.key = nn.Conv1d(channels, channels, 1)
        self.value = nn.Conv1d(channels, channels, 1)
        self.mlp = nn.Sequential(
            ConvModule(2 * channels, 2 * channels, 1, conv_cfg=dict(type='Conv1d'),
                       norm_cfg=norm_cfg, act_cfg=dict(type='ReLU')),
            nn.Conv1d(2 * channels, channels, 1))
        nn.init.constant_(self.mlp[-1].bias, 0.0)

    def message(self, target: Tensor, source: Tensor) -> Tensor:
        """Eq. 7-8: messages [N, C, Lt] to ``target`` [N, C, Lt] from ``source`` [N, C, Ls]."""
        q, k, v = (x.transpose(1, 2)[:, None].contiguous()
                   for x in (self.query(target), self.key(source), self.value(source)))
        # softmax(q^T k * s) v, fused: the N x N weights are never stored
        return F.scaled_dot_product_attention(q, k, v, scale=self.scale)[:, 0].transpose(1, 2)

    def update(self, target: Tensor, message: Tensor) -> Tensor:
        """Eq. 6: ``f + MLP(concat(f, m))``."""
        return target + self.mlp(torch.cat([target, message], dim=1))

    @property
    def splits_update(self) -> bool:
        """Whether Eq. 6's first convolution splits into its node and message halves
        (:meth:`project_message`, :meth:`update_projected`)."""
        return splits_by_channels(self.mlp[0])

    def project_message(self, message: Tensor) -> Tensor:
        """The message's half of Eq. 6's first 1x1 conv: [N, C, L] -> [N, 2C, L]."""
        return conv_channels(self.mlp[0], message, self.channels, 2 * self.channels)

    def update_projected(self, target: Tensor, projected: Tensor) -> Tensor:
        """Eq. 6 given the message's half of the first conv (:meth:`project_message`):
        ``update(f, m) == update_projected(f, project_message(m))`` up to rounding.

        Args:
            target (Tensor): [N, C, L] node features f.
            projected (Tensor): [N, 2C, L] the messages' projection.

        Returns:
            Tensor: [N, C, L] updated nodes.
        """
        first = self.mlp[0]
        hidden = conv_channels(first, target, 0, self.channels, bias=True) + projected
        return target + self.mlp[1](after_conv(first, hidden))

    def forward(self, target: Tensor, source: Tensor) -> Tensor:
        """Update ``target`` [N, C, Lt] with messages from ``source`` [N, C, Ls]."""
        return self.update(target, self.message(target, source))


def _episode_major(support: Tensor) -> Tensor:
    """[B, K, C, Ns] -> [B, C, K*Ns]."""
    b, k, c, ns = support.shape
    return support.permute(0, 2, 1, 3).reshape(b, c, k * ns)


@MODELS.register_module()
class MessageFlowNeck(BaseModule):
    """CMNet's message flow module: node features, positional encoding, inner/cross flow.

    1. Node features: the backbone levels ``in_index`` of every image are resized to the
       first one and concatenated (multi-level features), then reduced to ``channels`` by a
       1x1 conv (shared by query and supports); a learnable spatial positional encoding is
       added (Eq. 5, :class:`LearnedPositionalEncoding`).
    2. ``num_rounds`` rounds of message passing (:class:`MessagePassing`, Eq. 6-8), each
       made of the ``flows`` in order: ``'inner'`` (attention among the nodes of the same
       image, for the query and for each support; one layer shared by all images) and
       ``'cross'`` (the query nodes attend to the nodes of all K supports, and each support's
       nodes attend to the query; both updated from the same previous state). Each round and
       flow has its own weights.

    The refined nodes are appended as a new last level of ``query_feats`` ([B, C, h, w]) and
    ``support_feats`` ([B, K, C, hs, ws]), so later necks and the head select them with
    ``in_index=-1``.

    The paper fixes neither the number of rounds nor the width: the defaults (1 round,
    C = 256) follow its Fig. 3 (one inner and one cross flow) and PFENet's reduced width.

    ``message_stride`` s > 1 is a speed option that changes results (off by default, as the
    paper passes messages between all nodes): the messages (Eq. 7-8) are computed between
    nodes averaged over s x s cells of the grid and resized bilinearly back to every node,
    whose residual update (Eq. 6) stays at full resolution. The attentions then cost 1/s^4
    (3600 x 3600 nodes at 473 crops: 900 x 900 with s = 2); the message's half of the
    update's first 1x1 conv also runs on the cells before the resize (the same result up to
    rounding: both are linear, one over channels, one over nodes). docs/speed.md has its
    measured speed and its effect on Shapes-5i.

    Args:
        in_channels (Sequence[int]): Channels of the levels in ``in_index``.
        in_index (Sequence[int]): Backbone levels used (default layer2 + layer3).
        channels (int): Node feature width C.
        flows (Sequence[str]): Subset of ``('inner', 'cross')`` in application order
            (Table II: inner, cross, inner-cross); empty = node features only.
        num_rounds (int): Message-passing rounds.
        attn_scale (str): See :class:`MessagePassing`.
        num_positions (int): Size of the positional tables.
        message_stride (int): Grid cell (s x s nodes) the messages are computed between;
            1 (default) = every node.
        norm_cfg (dict): Norm of the reduction conv.
        align_corners (bool): For resizing the levels.
    """

    def __init__(self,
                 in_channels: Sequence[int] = (512, 1024),
                 in_index: Sequence[int] = (1, 2),
                 channels: int = 256,
                 flows: Sequence[str] = FLOWS,
                 num_rounds: int = 1,
                 attn_scale: str = 'sqrt',
                 num_positions: int = 64,
                 message_stride: int = 1,
                 norm_cfg: ConfigType = dict(type='BN', requires_grad=True),
                 align_corners: bool = False,
                 init_cfg: OptConfigType = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if len(in_channels) != len(in_index):
            raise ValueError(f'in_channels {in_channels} and in_index {in_index} must have '
                             'the same length')
        bad = [f for f in flows if f not in FLOWS]
        if bad or len(set(flows)) != len(flows):
            raise ValueError(f'flows must be distinct entries of {FLOWS}, got {flows}')
        if not (isinstance(num_rounds, int) and num_rounds >= 1):
            raise ValueError(f'num_rounds must be an int >= 1, got {num_rounds!r}')
        if not (isinstance(message_stride, int) and message_stride >= 1):
            raise ValueError(f'message_stride must be an int >= 1, got {message_stride!r}')
        self.message_stride = message_stride
        self.in_index = tuple(in_index)
        self.flows = tuple(flows)
        self.num_rounds = num_rounds
        self.align_corners = align_corners
        self.out_channels = channels  # of the level it appends to the episode's features
        self.reduce = ConvModule(sum(in_channels), channels, 1, norm_cfg=norm_cfg,
                                 act_cfg=dict(type='ReLU'))
        self.pos_enc = LearnedPositionalEncoding(channels, num_positions)
        self.layers = nn.ModuleList([
            nn.ModuleDict({f: MessagePassing(channels, attn_scale) for f in self.flows})
            for _ in range(num_rounds)
        ])

    def _concat(self, levels: List[Tensor]) -> Tensor:
        return resize_concat(levels, self.in_index, self.align_corners)

    def _add_positions(self, x: Tensor) -> Tensor:
        return x + self.pos_enc(*x.shape[-2:]).to(x.dtype)

    def flow(self, query: Tensor, support: Tensor, query_size: Tuple[int, int],
             support_size: Tuple[int, int]) -> Tuple[Tensor, Tensor]:
        """Run the rounds on flattened nodes.

        Args:
            query (Tensor): [B, C, Nq].
            support (Tensor): [B, K, C, Ns].
            query_size (tuple[int, int]): The query's node grid (h, w), Nq = h*w.
            support_size (tuple[int, int]): The supports' node grid, Ns = hs*ws.

        Returns:
            tuple[Tensor, Tensor]: Updated query [B, C, Nq] and support [B, K, C, Ns] nodes.
        """
        b, k, c, ns = support.shape
        q_grid = NodeGrid(query_size, self.message_stride)
        s_grid = NodeGrid(support_size, self.message_stride)
        for layers in self.layers:
            for name in self.flows:
                layer = layers[name]
                # messages between the nodes, or between their cell averages with
                # message_stride > 1 (resized back to every node)
                q_nodes, s_nodes = q_grid.pool(query), s_grid.pool(support.flatten(0, 1))
                if name == 'inner':
                    m_query = layer.message(q_nodes, q_nodes)
                    m_support = layer.message(s_nodes, s_nodes)
                else:  # the query from all K supports, each support from the query
                    m_query = layer.message(q_nodes,
                                            _episode_major(s_nodes.unflatten(0, (b, k))))
                    m_support = layer.message(
                        s_nodes, q_nodes[:, None].expand(b, k, c, -1).flatten(0, 1))
                # one MLP call over all nodes (query and supports side by side along the
                # node axis), so its batch norm sees the same statistics in training and
                # evaluation; both updates use the previous state
                nq = query.shape[-1]
                nodes = torch.cat([query, _episode_major(support)], dim=2)
                if self.message_stride > 1 and layer.splits_update:
                    # Eq. 6's first conv is linear in the message and the bilinear resize
                    # mixes nodes only: the message's half of the conv runs on the cells
                    m_query = q_grid.unpool(layer.project_message(m_query))
                    m_support = s_grid.unpool(layer.project_message(m_support))
                    projected = torch.cat(
                        [m_query, _episode_major(m_support.view(b, k, 2 * c, ns))], dim=2)
                    updated = layer.update_projected(nodes, projected)
                else:
                    m_query, m_support = q_grid.unpool(m_query), s_grid.unpool(m_support)
                    messages = torch.cat(
                        [m_query, _episode_major(m_support.view(b, k, c, ns))], dim=2)
                    updated = layer.update(nodes, messages)
                query = updated[:, :, :nq]
                support = updated[:, :, nq:].reshape(b, c, k, ns).permute(0, 2, 1, 3)
        return query, support

    def forward(self, feats: EpisodeFeatures) -> EpisodeFeatures:
        b, k = feats.batch_size, feats.shot
        query, support = shared_forward(
            self.reduce, self._concat(feats.query_feats),
            self._concat(map_levels(feats.support_feats, lambda f: f.flatten(0, 1))))
        query, support = self._add_positions(query), self._add_positions(support)
        c, h, w = query.shape[1:]
        hs, ws = support.shape[-2:]
        q, s = self.flow(query.flatten(2), support.view(b, k, c, hs * ws), (h, w), (hs, ws))
        feats.query_feats = list(feats.query_feats) + [q.view(b, c, h, w)]
        feats.support_feats = add_levels(feats.support_feats, [s.view(b, k, c, hs, ws)])
        return feats
