"""HDMNet's hierarchical dense matching transformer."""
import math
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmcv.cnn import ConvModule, build_norm_layer
from mmseg.models.backbones.mit import MixFFN
from mmseg.models.utils import PatchEmbed, nchw_to_nlc, nlc_to_nchw, resize
from torch import Tensor

from mmfss.ot.precision import full_precision, island_dtype

__all__ = [
    'masked_cosine_attention', 'EfficientAttention', 'MatchingLayer',
    'HierarchicalMatchingTransformer'
]


def masked_cosine_attention(query: Tensor, key: Tensor, value: Tensor, mask: Tensor,
                            temperature: float = 0.1) -> Tuple[Tensor, Tensor]:
    """HDMNet's correlation mechanism (Pbihao/HDMNet ``model/MaskMultiheadAttention.py``,
    ``scaled_dotproduct`` with ``cross_att``): cosine scores over ``temperature``, a softmax
    over the *query* positions (each support position distributes its value over the
    query), support background columns zeroed after the softmax (not renormalised).

    Args:
        query (Tensor): [N, H, Lq, d] per-head query tokens.
        key (Tensor): [N, H, Ls, d].
        value (Tensor): [N, H, Ls, d].
        mask (Tensor): [N, 1, 1, Ls] support foreground (1) / background (0).
        temperature (float): HDMNet's ``tmp`` (0.1).

    Returns:
        tuple[Tensor, Tensor]: the output [N, H, Lq, d] (the dtype of ``value``) and
        HDMNet's matching weight per query position, the mean score over the support
        foreground averaged over the heads [N, Lq] (the student of the distillation loss).

    Computed in float32 (float64 for float64 inputs) under any autocast: the scores are
    cosines over a temperature of 0.1 (up to 10, where float16 keeps steps of 0.008), and
    their softmax runs over all the query positions (3600 at 473 crops).
    """
    dtype = island_dtype(query.dtype)
    with full_precision(query.device):
        q, k = (F.normalize(t.to(dtype), dim=-1) for t in (query, key))
        v = value.to(dtype)
        scores = (q @ k.transpose(-1, -2)) / temperature
        mask = mask.to(dtype)
        attention = scores.softmax(dim=-2) * mask
        weight = (scores * mask).sum(-1) / (mask.sum(-1) + 1e-9)
        return (attention @ v).to(value.dtype), weight.mean(dim=1)


class EfficientAttention(nn.Module):
    """HDMNet's attention (``model/Transformer.py`` ``EfficientMultiheadAttention`` over
    ``MaskMultiHeadAttention``): linear query/key/value/output projections without bias,
    keys and values optionally reduced by a strided convolution and a layer norm
    (``sr_ratio`` > 1, SegFormer's spatial reduction), then either scaled dot-product
    self-attention (fused; HDMNet divides by ``sqrt(d) + 1e-9``) or
    :func:`masked_cosine_attention` between query and support tokens.

    Args:
        embed_dims (int): Token width C.
        num_heads (int): Heads (C divisible by it).
        sr_ratio (int): Spatial reduction of keys and values.
        norm_cfg (dict): Norm after the reduction.
        temperature (float): Temperature of the cross attention.
    """

    def __init__(self, embed_dims: int, num_heads: int, sr_ratio: int = 1,
                 norm_cfg: dict = dict(type='LN', eps=1e-6), temperature: float = 0.1) -> None:
        super().__init__()
        if embed_dims % num_heads:
            raise ValueError(f'embed_dims {embed_dims} is not divisible by num_heads {num_heads}')
        self.num_heads, self.temperature = num_heads, temperature
        self.sr_ratio = sr_ratio
        if sr_ratio > 1:
            self.sr = nn.Conv2d(embed_dims, embed_dims, sr_ratio, stride=sr_ratio)
            self.norm = build_norm_layer(norm_cfg, embed_dims)[1]
        self.linear_q = nn.Linear(embed_dims, embed_dims, bias=False)
        self.linear_k = nn.Linear(embed_dims, embed_dims, bias=False)
        self.linear_v = nn.Linear(embed_dims, embed_dims, bias=False)
        self.linear_o = nn.Linear(embed_dims, embed_dims, bias=False)

    def _heads(self, x: Tensor) -> Tensor:
        n, length, c = x.shape
        return x.view(n, length, self.num_heads, c // self.num_heads).transpose(1, 2)

    def forward(self, x: Tensor, hw_shape: Sequence[int], source: Optional[Tensor] = None,
                mask: Optional[Tensor] = None) -> Tuple[Tensor, Optional[Tensor]]:
        """Self-attention of ``x`` [N, L, C] (``source`` None) or its masked cosine attention
        to ``source`` [N, Ls, C] with ``mask`` [N, Ls]. Returns the projected output
        [N, L, C] and, for the cross attention, the matching weight [N, L]."""
        kv = x if source is None else source
        if self.sr_ratio > 1:
            kv = self.norm(nchw_to_nlc(self.sr(nlc_to_nchw(kv, hw_shape))))
        q, k, v = (self._heads(self.linear_q(x)), self._heads(self.linear_k(kv)),
                   self._heads(self.linear_v(kv)))
        weight = None
        if source is None:
            scale = 1.0 / (math.sqrt(q.shape[-1]) + 1e-9)
            out = F.scaled_dot_product_attention(q, k, v, scale=scale)
        else:
            out, weight = masked_cosine_attention(q, k, v, mask[:, None, None, :].to(q.dtype),
                                                  self.temperature)
        out = out.transpose(1, 2).flatten(2)
        return self.linear_o(out), weight


class MatchingLayer(nn.Module):
    """One pre-norm transformer layer of HDMNet (``TransformerEncoderLayer``):
    ``x + drop(attn(norm1(x)[, norm1(source)]))``, then ``x + MixFFN(norm2(x))`` (mmseg's
    SegFormer FFN: 1x1, 3x3 depth-wise, GELU, dropout, 1x1, dropout). The source of the
    cross attention goes through the same ``norm1`` as HDMNet.

    Args:
        embed_dims (int): Token width.
        num_heads (int): Attention heads.
        mlp_ratio (int): FFN width over ``embed_dims``.
        drop_rate (float): Dropout after the attention and in the FFN (HDMNet 0.1).
        sr_ratio (int): Spatial reduction of the self-attention.
        norm_cfg (dict): Layer norms (HDMNet: eps 1e-6).
        temperature (float): Temperature of the cross attention.
    """

    def __init__(self, embed_dims: int, num_heads: int, mlp_ratio: int = 4,
                 drop_rate: float = 0.1, sr_ratio: int = 1,
                 norm_cfg: dict = dict(type='LN', eps=1e-6), temperature: float = 0.1) -> None:
        super().__init__()
        self.norm1 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.attn = EfficientAttention(embed_dims, num_heads, sr_ratio, norm_cfg, temperature)
        self.drop = nn.Dropout(drop_rate)
        self.norm2 = build_norm_layer(norm_cfg, embed_dims)[1]
        self.ffn = MixFFN(embed_dims, mlp_ratio * embed_dims, ffn_drop=drop_rate)

    def forward(self, x: Tensor, hw_shape: Sequence[int], source: Optional[Tensor] = None,
                mask: Optional[Tensor] = None) -> Tuple[Tensor, Optional[Tensor]]:
        out, weight = self.attn(self.norm1(x), hw_shape,
                                None if source is None else self.norm1(source), mask)
        x = x + self.drop(out)
        return self.ffn(self.norm2(x), hw_shape, identity=x), weight


def _bottleneck(channels: int, hidden: int, norm_cfg: dict, out: Optional[int]) -> nn.Sequential:
    """HDMNet's parse/classifier block: 1x1, norm, 3x3, norm[, 1x1, norm, ReLU] (convs with
    bias, no activation between)."""
    layers = [nn.Conv2d(channels, hidden, 1), build_norm_layer(norm_cfg, hidden)[1],
              nn.Conv2d(hidden, hidden, 3, padding=1), build_norm_layer(norm_cfg, hidden)[1]]
    if out is not None:
        layers += [nn.Conv2d(hidden, out, 1), build_norm_layer(norm_cfg, out)[1], nn.ReLU()]
    return nn.Sequential(*layers)


class HierarchicalMatchingTransformer(nn.Module):
    """HDMNet's transformer (*Hierarchical Dense Correlation Distillation for Few-Shot
    Segmentation*, Bohao Peng, Zhuotao Tian, Xiaoyang Wu, Chengyao Wang, Shu Liu, Jingyong
    Su and Jiaya Jia, CVPR 2023; Pbihao/HDMNet ``model/Transformer.py``
    ``MixVisionTransformer``).

    1. ``num_stages`` down-sampling stages, shared by query and supports: a patch embedding
       (mmseg's ``PatchEmbed``: kernel ``patch_sizes[i]``, stride ``strides[i]``, padding
       ``stride // 2``, layer norm), two self-attention layers (:class:`MatchingLayer`,
       heads ``num_heads[i]``, spatial reduction ``sr_ratios[i]``), a layer norm;
    2. from the coarsest stage up, a matching layer per stage: the query tokens attend to
       the tokens of all K supports with :func:`masked_cosine_attention` (support masks
       resized nearest), concatenated with the priors (resized bilinearly,
       ``align_corners=True``), a 3x3 ConvModule with norm and ReLU, then a parse block
       added to the coarser result upsampled (bilinear) and parsed again;
    3. a classifier block (1x1, norm, 3x3, norm); the owner's ``conv_seg`` gives the logits.

    The batch norms of HDMNet's code stay in eval mode in training (its ``fix_bn``); the
    owner decides (:class:`~mmfss.models.HierarchicalMatchingHead` ``norm_eval``).

    Args:
        embed_dims (int): Token width (HDMNet 64).
        num_prior_channels (int): Prior channels concatenated before each matching conv.
        num_heads (Sequence[int]): Self-attention heads per stage (2, 4, 8).
        match_heads (int): Cross-attention heads (2).
        patch_sizes, strides, sr_ratios (Sequence[int]): Per stage ((1, 3, 3), (1, 2, 2),
            (4, 2, 1)).
        mlp_ratio (int): FFN width ratio (4).
        drop_rate (float): Dropout (0.1).
        temperature (float): Cross-attention temperature (0.1).
        norm_cfg (dict): Batch norm of the convolution blocks.
        ln_cfg (dict): Layer norms (eps 1e-6).
    """

    def __init__(self,
                 embed_dims: int = 64,
                 num_prior_channels: int = 2,
                 num_heads: Sequence[int] = (2, 4, 8),
                 match_heads: int = 2,
                 patch_sizes: Sequence[int] = (1, 3, 3),
                 strides: Sequence[int] = (1, 2, 2),
                 sr_ratios: Sequence[int] = (4, 2, 1),
                 mlp_ratio: int = 4,
                 drop_rate: float = 0.1,
                 temperature: float = 0.1,
                 norm_cfg: dict = dict(type='BN', requires_grad=True),
                 ln_cfg: dict = dict(type='LN', eps=1e-6)) -> None:
        super().__init__()
        n = len(num_heads)
        if not len(patch_sizes) == len(strides) == len(sr_ratios) == n:
            raise ValueError('num_heads, patch_sizes, strides and sr_ratios need one entry per '
                             f'stage, got {num_heads}, {patch_sizes}, {strides}, {sr_ratios}')
        c = embed_dims

        def layer(heads: int, sr: int) -> MatchingLayer:
            return MatchingLayer(c, heads, mlp_ratio, drop_rate, sr, ln_cfg, temperature)

        self.down_sample_layers = nn.ModuleList([
            nn.ModuleList([
                PatchEmbed(c, c, kernel_size=patch_sizes[i], stride=strides[i],
                           padding=strides[i] // 2, norm_cfg=ln_cfg),
                layer(num_heads[i], sr_ratios[i]), layer(num_heads[i], sr_ratios[i]),
                build_norm_layer(ln_cfg, c)[1]]) for i in range(n)])
        self.match_layers = nn.ModuleList([
            nn.ModuleList([
                layer(match_heads, 1),
                ConvModule(c + num_prior_channels, c, 3, padding=1, norm_cfg=norm_cfg)])
            for _ in range(n)])
        self.parse_layers = nn.ModuleList([_bottleneck(c, 4 * c, norm_cfg, c) for _ in range(n)])
        self.cls = _bottleneck(c, 4 * c, norm_cfg, None)
        self.out_channels = 4 * c

    def forward(self, query: Tensor, support: Tensor, support_masks: Tensor,
                priors: Tensor) -> Tuple[Tensor, List[Tensor]]:
        """Match the query against its supports.

        Args:
            query (Tensor): [B, C, h, w] merged query features.
            support (Tensor): [B*K, C, hs, ws] merged support features (episode-major).
            support_masks (Tensor): [B*K, 1, Hs, Ws] float foreground masks (any size).
            priors (Tensor): [B, P, h', w'] prior maps.

        Returns:
            tuple: the classifier block's features [B, 4C, h, w] and the matching weights
            of the stages, coarsest first, each [B, h_i, w_i].
        """
        b = query.shape[0]
        k = support.shape[0] // b
        stages = []
        q, s = query, support
        for i, (embed, layer1, layer2, norm) in enumerate(self.down_sample_layers):
            q, q_hw = embed(q)
            s, s_hw = embed(s)
            q, s = layer1(q, q_hw)[0], layer1(s, s_hw)[0]
            q, s = layer2(q, q_hw)[0], layer2(s, s_hw)[0]
            q, s = norm(q), norm(s)
            mask = resize(support_masks, s_hw, mode='nearest').view(b, k * s_hw[0] * s_hw[1])
            prior = resize(priors, q_hw, mode="bilinear", align_corners=True, warning=False)
            stages.append((q, q_hw, s.reshape(b, -1, s.shape[-1]), mask, prior))
            if i + 1 < len(self.down_sample_layers):
                q, s = nlc_to_nchw(q, q_hw), nlc_to_nchw(s, s_hw)
        out, weights = None, []
        for i in reversed(range(len(stages))):
            q, q_hw, s, mask, prior = stages[i]
            match, conv = self.match_layers[i]
            x, weight = match(q, q_hw, source=s, mask=mask)
            weights.append(weight.view(b, *q_hw))
            x = conv(torch.cat([nlc_to_nchw(x, q_hw), prior], dim=1))
            if out is None:
                out = self.parse_layers[i](x)
            else:
                out = resize(out, size=x.shape[-2:], mode='bilinear')
                out = out + self.parse_layers[i](x + out)
        return self.cls(out), weights
