"""Grad-CAM of an open_clip image encoder against a set of text prompts.

The reading of PI-CLIP (vangjin/PI-CLIP ``model/get_cam.py``, ``clip/model.py`` and the
``pytorch_grad_cam`` it vendors), itself CLIP-ES's (Lin et al., CVPR 2023):

* ViT: the image goes through every transformer block but the last; Grad-CAM hooks the
  output of the last block's ``ln_1`` (the normalised input of the last block), so the
  gradient passes through that block's attention and MLP and differs from token to token.
  The image vector is the mean of the patch tokens after the last block, ``ln_post`` and the
  projection (not the class token). Scores: ``softmax_p(cos(v, t_p) / tau)`` over the prompt
  set; the CAM of prompt ``p`` is ``ReLU(sum_m w_m A^m)`` with ``A`` the hooked activation at
  the patch tokens (class token dropped) and ``w_m`` the spatial mean of ``dS_p / dA^m``.
  The positional embedding is resized bilinearly to the image's patch grid (PI-CLIP's
  ``upsample_pos_emb``), so the image can enter at about its own resolution.
* ModifiedResNet (RN50, ...; CLIP-ES and PI-CLIP use ViT-B/16 only): the last block is the
  attention pool, so Grad-CAM hooks its input, the layer4 map; the image vector is the
  attention pool's output (positional embedding resized likewise).

The hooked activation is computed once without autograd; only the last block (ViT) or the
attention pool (ResNet) runs with autograd, on a detached copy, so this works inside
``torch.no_grad()`` and inference mode and the CAMs carry no gradient.
"""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from mmfss.ot.precision import full_precision

__all__ = [
    'resize_pos_embed', 'vit_block_outputs', 'vit_last_block_input', 'vit_scores',
    'resnet_attnpool_input', 'resnet_scores', 'clip_grad_cam', 'is_vit'
]


def is_vit(visual: nn.Module) -> bool:
    """Whether an open_clip image encoder is a ViT (else a ModifiedResNet)."""
    if hasattr(visual, 'transformer') and hasattr(visual, 'conv1'):
        return True
    if hasattr(visual, 'attnpool'):
        return False
    raise TypeError(f'unsupported CLIP image encoder {type(visual).__name__}: expected '
                    "open_clip's VisionTransformer or ModifiedResNet")


def resize_pos_embed(pos: Tensor, grid: Tuple[int, int]) -> Tensor:
    """A [1 + s*s, D] positional embedding (first row: class token / pooled token) resized
    bilinearly (align_corners=False) to ``grid`` (PI-CLIP ``clip/model.py``
    ``upsample_pos_emb``); returned unchanged when the grid is already s x s."""
    n = pos.shape[0] - 1
    side = int(round(n**0.5))
    if side * side != n:
        raise ValueError(f'positional embedding of {n} positions is not a square grid')
    if tuple(grid) == (side, side):
        return pos
    grid_pos = pos[1:].T.reshape(1, -1, side, side)
    grid_pos = F.interpolate(grid_pos.float(), size=tuple(grid), mode='bilinear',
                             align_corners=False).to(pos.dtype)
    return torch.cat([pos[:1], grid_pos.flatten(2)[0].T], dim=0)


def _attend(block: nn.Module, x: Tensor, need_weights: bool) -> Tuple[Tensor, Optional[Tensor]]:
    """Self-attention of ``block`` on normalised tokens [N, L, D]; weights [N, L, L]
    (averaged over heads) when asked."""
    attn = block.attn
    y = x if attn.batch_first else x.transpose(0, 1)
    out, weights = attn(y, y, y, need_weights=need_weights, average_attn_weights=True)
    return (out if attn.batch_first else out.transpose(0, 1)), weights


def _check_block(block: nn.Module) -> None:
    extra = [n for n in ('ln_attn', 'ln_inner_attn') if not isinstance(
        getattr(block, n, nn.Identity()), nn.Identity)]
    if not hasattr(block, 'ln_1') or not isinstance(block.attn, nn.MultiheadAttention) or extra:
        raise TypeError(f'unsupported ViT block {type(block).__name__}: expected '
                        "open_clip's ResidualAttentionBlock (ln_1, attn, ls_1, ln_2, mlp, ls_2)")


def _block_forward(block: nn.Module, x: Tensor,
                   need_weights: bool) -> Tuple[Tensor, Optional[Tensor]]:
    """open_clip ``ResidualAttentionBlock.forward`` that also returns the attention."""
    out, weights = _attend(block, block.ln_1(x), need_weights)
    x = x + block.ls_1(out)
    x = x + block.ls_2(block.mlp(block.ln_2(x)))
    return x, weights


def _vit_tokens(visual: nn.Module, images: Tensor) -> Tuple[Tensor, Tuple[int, int]]:
    """Tokens entering the first block of an open_clip ViT ([N, 1 + h*w, width], class
    token first; positional embedding resized to the patch grid) and the grid (h, w)."""
    for block in visual.transformer.resblocks:
        _check_block(block)
    x = visual.conv1(images)
    grid = tuple(x.shape[-2:])
    x = x.flatten(2).transpose(1, 2)
    cls = visual.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
    x = torch.cat([cls, x], dim=1)
    x = x + resize_pos_embed(visual.positional_embedding, grid).to(x.dtype)
    x = visual.patch_dropout(x)
    return visual.ln_pre(x), grid


def vit_block_outputs(visual: nn.Module, images: Tensor,
                      layers: Sequence[int]) -> Tuple[List[Tensor], Tuple[int, int]]:
    """Patch tokens after the blocks ``layers`` (0-based) of an open_clip ViT, as maps.

    Args:
        visual (nn.Module): open_clip ``VisionTransformer`` (eval mode).
        images (Tensor): [N, 3, H, W]; the patch grid is ``floor(H / patch)`` x
            ``floor(W / patch)`` (the strided patch convolution drops the rest, as PI-CLIP
            feeds 473-pixel crops to ``encode_image``).
        layers (Sequence[int]): Blocks whose outputs are returned, in this order.

    Returns:
        tuple: per layer [N, width, h, w] (class token dropped) and the grid (h, w).
    """
    x, grid = _vit_tokens(visual, images)
    wanted = {int(i) for i in layers}
    outs = {}
    for i, block in enumerate(visual.transformer.resblocks[:max(wanted) + 1]):
        x, _ = _block_forward(block, x, False)
        if i in wanted:
            outs[i] = x
    maps = [outs[int(i)][:, 1:].transpose(1, 2).reshape(x.shape[0], -1, *grid) for i in layers]
    return maps, grid


def vit_last_block_input(visual: nn.Module, images: Tensor,
                         need_weights: Union[bool, int] = False
                         ) -> Tuple[Tensor, List[Tensor], Tuple[int, int]]:
    """Tokens entering the last block of an open_clip ViT.

    Args:
        visual (nn.Module): open_clip ``VisionTransformer`` (eval mode).
        images (Tensor): [N, 3, H, W] CLIP-normalised, H and W multiples of the patch size.
        need_weights (bool | int): Also return attention weights: True for every block
            but the last, an int n for the last n of them (blocks L-1-n .. L-2). Only
            those blocks materialise their weights; the others run the fused attention.

    Returns:
        tuple: tokens [N, 1 + h*w, width] (class token first), the attention weights of
        the blocks asked for, in block order ([N, 1 + hw, 1 + hw] each; empty without
        ``need_weights``) and the patch grid (h, w).
    """
    x, grid = _vit_tokens(visual, images)
    blocks = visual.transformer.resblocks[:-1]
    first = (0 if need_weights is True else
             len(blocks) - min(int(need_weights), len(blocks)) if need_weights else len(blocks))
    weights = []
    for i, block in enumerate(blocks):
        x, w = _block_forward(block, x, i >= first)
        if i >= first:
            weights.append(w)
    return x, weights, grid


def _probabilities(pooled: Tensor, text: Tensor, tau: float) -> Tensor:
    """softmax over prompts of cos(pooled [N, D], text [N, P, D]) / tau -> [N, P]."""
    cos = torch.einsum('nd,npd->np', F.normalize(pooled, dim=-1), F.normalize(text, dim=-1))
    return (cos / tau).softmax(dim=-1)


def vit_scores(visual: nn.Module, hooked: Tensor, block_input: Tensor, text: Tensor,
               tau: float, need_weights: bool = False) -> Tuple[Tensor, Optional[Tensor]]:
    """Prompt probabilities as a function of the hooked activation (the last block's
    ``ln_1`` output).

    Args:
        visual (nn.Module): open_clip ``VisionTransformer``.
        hooked (Tensor): [N, L, width] ``ln_1(block_input)`` of the last block.
        block_input (Tensor): [N, L, width] the last block's input (the residual stream).
        text (Tensor): [N, P, D] prompt embeddings of each image.
        tau (float): Softmax temperature (0.01 = CLIP's logit scale 100).
        need_weights (bool): Also return the last block's attention [N, L, L].

    Returns:
        tuple: probabilities [N, P] and the attention weights (or None).
    """
    block = visual.transformer.resblocks[-1]
    out, weights = _attend(block, hooked, need_weights)
    x = block_input + block.ls_1(out)
    x = x + block.ls_2(block.mlp(block.ln_2(x)))
    x = visual.ln_post(x)
    pooled = x[:, 1:].mean(dim=1)
    if visual.proj is not None:
        pooled = pooled @ visual.proj
    return _probabilities(pooled, text, tau), weights


def resnet_attnpool_input(visual: nn.Module, images: Tensor) -> Tensor:
    """The layer4 map [N, C, h, w] of an open_clip ``ModifiedResNet`` (attention pool input)."""
    x = visual.stem(images)
    for layer in (visual.layer1, visual.layer2, visual.layer3, visual.layer4):
        x = layer(x)
    return x


def resnet_scores(visual: nn.Module, hooked: Tensor, text: Tensor, tau: float) -> Tensor:
    """Prompt probabilities [N, P] from the layer4 map ``hooked`` [N, C, h, w] through the
    attention pool (its pooled query token only; positional embedding resized to h x w)."""
    pool = visual.attnpool
    x = hooked.flatten(2).permute(2, 0, 1)  # [hw, N, C]
    x = torch.cat([x.mean(dim=0, keepdim=True), x], dim=0)
    x = x + resize_pos_embed(pool.positional_embedding, hooked.shape[-2:])[:, None].to(x.dtype)
    pooled, _ = F.multi_head_attention_forward(
        query=x[:1], key=x, value=x, embed_dim_to_check=x.shape[-1],
        num_heads=pool.num_heads, q_proj_weight=pool.q_proj.weight,
        k_proj_weight=pool.k_proj.weight, v_proj_weight=pool.v_proj.weight,
        in_proj_weight=None,
        in_proj_bias=torch.cat([pool.q_proj.bias, pool.k_proj.bias, pool.v_proj.bias]),
        bias_k=None, bias_v=None, add_zero_attn=False, dropout_p=0.0,
        out_proj_weight=pool.c_proj.weight, out_proj_bias=pool.c_proj.bias,
        use_separate_proj_weight=True, training=False, need_weights=False)
    return _probabilities(pooled[0], text, tau)


@torch.compiler.disable  # its own backward (torch.autograd.grad): runs eagerly when compiled
def clip_grad_cam(visual: nn.Module, images: Tensor, text: Tensor, targets: Sequence[int],
                  tau: float, attn_layers: int = 0) -> Dict[str, Tensor]:
    """Grad-CAMs of prompts ``targets`` for CLIP-normalised ``images``.

    Args:
        visual (nn.Module): open_clip image encoder (eval mode).
        images (Tensor): [N, 3, H, W], sides multiples of the patch size (ViT) or 32 (ResNet).
        text (Tensor): [N, P, D] prompt embeddings of each image.
        targets (Sequence[int]): Prompt indices to explain (e.g. foreground, background).
        tau (float): Softmax temperature.
        attn_layers (int): ViT only: also return the mean patch-to-patch attention of the
            last ``attn_layers`` blocks (for affinity refinement); 0: none.

    Returns:
        dict: ``cams`` [N, T, h, w] (ReLU'd, not normalised), ``raw`` [N, T, h, w] (before
        the ReLU), ``grads`` [N, T, C, h, w] and ``activation`` [N, C, h, w] (the hooked
        activation at the patch positions), ``scores`` [N, P] and, with ``attn_layers``,
        ``affinity`` [N, hw, hw].
    """
    vit = is_vit(visual)
    if attn_layers and not vit:
        raise ValueError('attention affinity needs a ViT: the ModifiedResNet attention pool '
                         'has no patch-to-patch attention')
    with torch.inference_mode(False), torch.no_grad():
        images = images.clone()
        if vit:
            block_input, weights, grid = vit_last_block_input(
                visual, images, max(attn_layers - 1, 0) if attn_layers else False)
            block_input = block_input.clone()
        else:
            layer4 = resnet_attnpool_input(visual, images).clone()
            grid = tuple(layer4.shape[-2:])
        text = text.detach().clone()
    # the part that is differentiated runs in the weights' precision (float32) under any
    # autocast: cos / tau with tau = 0.01 saturates the softmax, and its gradients,
    # averaged over ~900 tokens, fall into fp16's subnormal range (zero or noisy CAMs)
    dtype = next(visual.parameters()).dtype
    if vit:
        block_input = block_input.to(dtype)
    else:
        layer4 = layer4.to(dtype)
    text = text.to(dtype)
    with torch.inference_mode(False), torch.enable_grad(), full_precision(images.device):
        # the hooked activation is a non-leaf of a detached leaf: its gradient is the same,
        # and FLOP counters / module hooks that refuse autograd.grad on leaves still work
        if vit:
            leaf = block_input.detach().requires_grad_(True)
            hooked = visual.transformer.resblocks[-1].ln_1(leaf)
            probs, last = vit_scores(visual, hooked, block_input, text, tau, attn_layers > 0)
        else:
            hooked = layer4.detach().requires_grad_(True).clone()
            probs = resnet_scores(visual, hooked, text, tau)
        grads = []
        for i, t in enumerate(targets):
            g, = torch.autograd.grad(probs[:, t].sum(), hooked,
                                     retain_graph=i + 1 < len(targets))
            grads.append(g)
    n = images.shape[0]

    def to_maps(t: Tensor) -> Tensor:  # ViT tokens -> [N, C, h, w] at the patch tokens
        return t[:, 1:].transpose(1, 2).reshape(n, -1, *grid) if vit else t

    with full_precision(images.device):
        act = to_maps(hooked.detach())
        grads = torch.stack([to_maps(g) for g in grads], dim=1)  # [N, T, C, h, w]
        weights_m = grads.mean(dim=(-2, -1))  # [N, T, C]
        raw = torch.einsum('ntc,nchw->nthw', weights_m, act)
        out = dict(cams=raw.clamp_min(0), raw=raw, grads=grads, activation=act,
                   scores=probs.detach())
        if attn_layers:
            stacked = torch.stack([w.detach().to(dtype) for w in weights] + [last.detach()])
            out['affinity'] = stacked[-attn_layers:, :, 1:, 1:].mean(dim=0)
    return out
