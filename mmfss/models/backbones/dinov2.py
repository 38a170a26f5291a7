"""DINOv2's ViT as an mmseg backbone: intermediate blocks as levels."""
import math
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from mmseg.utils import OptConfigType
from torch import Tensor

__all__ = ['DINOv2', 'DINOV2_ARCHS']

# facebookresearch/dinov2 dinov2/models/vision_transformer.py vit_small/base/large
DINOV2_ARCHS: Dict[str, dict] = {
    'small': dict(embed_dims=384, num_layers=12, num_heads=6),
    'base': dict(embed_dims=768, num_layers=12, num_heads=12),
    'large': dict(embed_dims=1024, num_layers=24, num_heads=16),
}


class _LayerScale(nn.Module):

    def __init__(self, dims: int, init_value: float) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.full((dims, ), init_value))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.gamma


class _Attention(nn.Module):

    def __init__(self, dims: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.qkv = nn.Linear(dims, dims * 3)
        self.proj = nn.Linear(dims, dims)

    def forward(self, x: Tensor) -> Tensor:
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.num_heads, c // self.num_heads).unbind(2)
        out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2),
                                             v.transpose(1, 2))
        return self.proj(out.transpose(1, 2).reshape(b, n, c))


class _Mlp(nn.Module):

    def __init__(self, dims: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dims, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dims)

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.act(self.fc1(x)))


class _Block(nn.Module):
    """Pre-norm block with layer scale: ``x + ls1(attn(norm1(x)))``, then the MLP."""

    def __init__(self, dims: int, num_heads: int, mlp_ratio: float, ls_init: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dims, eps=1e-6)
        self.attn = _Attention(dims, num_heads)
        self.ls1 = _LayerScale(dims, ls_init)
        self.norm2 = nn.LayerNorm(dims, eps=1e-6)
        self.mlp = _Mlp(dims, int(dims * mlp_ratio))
        self.ls2 = _LayerScale(dims, ls_init)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.ls1(self.attn(self.norm1(x)))
        return x + self.ls2(self.mlp(self.norm2(x)))


def interpolate_pos_embed(pos_embed: Tensor, grid: Tuple[int, int], offset: float = 0.1,
                          antialias: bool = False) -> Tensor:
    """DINOv2's position embeddings for a ``grid`` of patches (rows, columns).

    facebookresearch/dinov2 ``DinoVisionTransformer.interpolate_pos_encoding``: the M x M
    table of the patch positions is resized bicubically with the *scale factors*
    ``(rows + offset) / M`` and ``(columns + offset) / M`` (its "historical kludge",
    ``interpolate_offset=0.1``; PyTorch's bicubic then uses these factors, not the output
    size, to place the samples), in float32; the class position is kept. At the table's own
    square size it is returned as it is.

    Args:
        pos_embed (Tensor): [1, 1 + M*M, C].
        grid (tuple[int, int]): Patch rows and columns.
        offset (float): DINOv2's ``interpolate_offset``; 0: resize to the size instead.
        antialias (bool): DINOv2's ``interpolate_antialias`` (False).

    Returns:
        Tensor: [1, 1 + rows*columns, C] in ``pos_embed``'s dtype.
    """
    n = pos_embed.shape[1] - 1
    m = int(math.sqrt(n))
    if m * m != n:
        raise ValueError(f'position table of {n} patches is not square')
    rows, cols = grid
    if (rows, cols) == (m, m):
        return pos_embed
    table = pos_embed[:, 1:].float().reshape(1, m, m, -1).permute(0, 3, 1, 2)
    kwargs = (dict(scale_factor=((rows + offset) / m, (cols + offset) / m)) if offset else
              dict(size=(rows, cols)))
    table = F.interpolate(table, mode='bicubic', antialias=antialias, **kwargs)
    if tuple(table.shape[-2:]) != (rows, cols):
        raise ValueError(f'position interpolation gave {tuple(table.shape[-2:])}, '
                         f'expected {(rows, cols)}')
    table = table.permute(0, 2, 3, 1).reshape(1, rows * cols, -1)
    return torch.cat([pos_embed[:, :1].float(), table], dim=1).to(pos_embed.dtype)


@MODELS.register_module()
class DINOv2(BaseModule):
    """DINOv2's ViT-S/B/L/14 (Oquab et al., TMLR 2024; facebookresearch/dinov2) whose blocks
    ``out_indices`` are the levels, normalised by the final layer norm and laid out as maps
    [B, C, H/14, W/14], as its ``get_intermediate_layers(x, n, reshape=True, norm=True)``.

    The module names are DINOv2's own (``patch_embed.proj``, ``cls_token``, ``pos_embed``,
    ``register_tokens``, ``blocks.i.{norm1, attn.qkv, attn.proj, ls1.gamma, norm2, mlp.fc1,
    mlp.fc2, ls2.gamma}``, ``norm``), so the released ``dinov2_vit*14_pretrain.pth`` loads
    after ``tools/model_converters/dinov2_to_mmfss.py`` (which checks every key and drops
    the unused ``mask_token``). Position embeddings are interpolated as DINOv2 does
    (:func:`interpolate_pos_embed`). An input whose sides are not multiples of 14 is padded
    at the bottom and right with zeros (DINOv2 itself refuses it); the maps cover
    ``ceil(H / 14)`` x ``ceil(W / 14)`` patches.

    Args:
        arch (str | dict): ``'small'``, ``'base'`` or ``'large'``, or a dict of
            ``embed_dims``, ``num_layers``, ``num_heads`` (a small ViT for tests).
        patch_size (int): 14.
        img_size (int): Side of the position table's image (518: 37 x 37 patches).
        out_indices (Sequence[int]): Blocks returned (0-based); default the last four.
        num_register_tokens (int): 0 (DINOv2) or 4 (DINOv2 with registers).
        layer_scale_init (float): Initial layer-scale value (1e-5).
        interpolate_offset (float): See :func:`interpolate_pos_embed` (0.1).
        frozen (bool): Keep every weight without gradients (the foundation-model FSS methods
            freeze it).
        init_cfg (dict, optional): e.g. ``dict(type='Pretrained',
            checkpoint='pretrain/dinov2_vitb14.pth')``.
    """

    def __init__(self,
                 arch='base',
                 patch_size: int = 14,
                 img_size: int = 518,
                 out_indices: Optional[Sequence[int]] = None,
                 num_register_tokens: int = 0,
                 layer_scale_init: float = 1e-5,
                 interpolate_offset: float = 0.1,
                 frozen: bool = False,
                 init_cfg: OptConfigType = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if isinstance(arch, dict):
            spec = dict(arch)
            if set(spec) != {'embed_dims', 'num_layers', 'num_heads'}:
                raise ValueError('arch as a dict needs embed_dims, num_layers and num_heads, '
                                 f'got {sorted(spec)}')
        elif arch in DINOV2_ARCHS:
            spec = DINOV2_ARCHS[arch]
        else:
            raise ValueError(f'arch must be one of {sorted(DINOV2_ARCHS)} or a dict, got '
                             f'{arch!r}')
        dims, depth = spec['embed_dims'], spec['num_layers']
        self.patch_size = patch_size
        self.num_register_tokens = num_register_tokens
        self.interpolate_offset = interpolate_offset
        self.out_indices = tuple(range(depth - 4, depth) if out_indices is None else
                                 out_indices)
        if not self.out_indices or any(not 0 <= i < depth for i in self.out_indices):
            raise ValueError(f'out_indices must be blocks in 0..{depth - 1}, got {out_indices}')
        self.patch_embed = nn.Module()
        self.patch_embed.proj = nn.Conv2d(3, dims, patch_size, stride=patch_size)
        grid = img_size // patch_size
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dims))
        self.pos_embed = nn.Parameter(torch.zeros(1, grid * grid + 1, dims))
        self.register_tokens = (nn.Parameter(torch.zeros(1, num_register_tokens, dims))
                                if num_register_tokens else None)
        self.blocks = nn.ModuleList(
            [_Block(dims, spec['num_heads'], 4.0, layer_scale_init) for _ in range(depth)])
        self.norm = nn.LayerNorm(dims, eps=1e-6)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.normal_(self.cls_token, std=1e-6)
        if frozen:
            for p in self.parameters():
                p.requires_grad = False

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        b, _, h, w = x.shape
        p = self.patch_size
        pad_h, pad_w = -h % p, -w % p
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h))
        x = self.patch_embed.proj(x)
        rows, cols = x.shape[-2:]
        x = x.flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(b, -1, -1), x], dim=1)
        x = x + interpolate_pos_embed(self.pos_embed, (rows, cols), self.interpolate_offset)
        if self.register_tokens is not None:
            x = torch.cat([x[:, :1], self.register_tokens.expand(b, -1, -1), x[:, 1:]], dim=1)
        outs = []
        skip = 1 + self.num_register_tokens
        for i, block in enumerate(self.blocks[:max(self.out_indices) + 1]):
            x = block(x)
            if i in self.out_indices:
                out = self.norm(x)[:, skip:]
                outs.append(out.reshape(b, rows, cols, -1).permute(0, 3, 1, 2).contiguous())
        return tuple(outs)
