"""Segmentation losses and accuracy without a host synchronisation.

mmseg's ``cross_entropy(..., avg_non_ignore=True)`` counts the labelled pixels with
``.item()`` and its ``accuracy`` selects them by boolean indexing (a data-dependent shape):
each stalls a GPU's stream once per loss and step. The functions here compute the same
numbers with the count kept on the device (mmseg's ``weight_reduce_loss`` divides by
``avg_factor + eps`` whether it is a number or a tensor), so a training step queues its
work without waiting for it.
"""
from typing import Dict, Optional

import torch
import torch.nn as nn
from mmseg.models.utils import resize
from torch import Tensor

from .class_argmax import class_argmax

__all__ = ['pixel_accuracy', 'segmentation_loss', 'decode_losses']


def pixel_accuracy(logits: Tensor, label: Tensor, ignore_index: int = 255) -> Tensor:
    """Top-1 accuracy in percent over the labelled pixels (mmseg ``accuracy`` with
    ``topk=1``, ``thresh=None``), computed on the device.

    Args:
        logits (Tensor): [N, C, H, W].
        label (Tensor): [N, H, W] labels; ``ignore_index`` pixels are left out.
        ignore_index (int): Label of unlabelled pixels.

    Returns:
        Tensor: [1] accuracy in [0, 100] (0 when no pixel is labelled, as mmseg).
    """
    valid = label != ignore_index
    correct = ((class_argmax(logits, dim=1) == label) & valid).sum(dtype=torch.float32)
    eps = torch.finfo(torch.float32).eps
    total = valid.sum(dtype=torch.float32) + eps
    return ((correct + eps) * (100.0 / total)).view(1)


def segmentation_loss(loss_module: nn.Module, logits: Tensor, label: Tensor,
                      ignore_index: int = 255, weight: Optional[Tensor] = None) -> Tensor:
    """``loss_module(logits, label)`` with mmseg's ``avg_non_ignore`` count on the device.

    For an mmseg ``CrossEntropyLoss`` (softmax, no class weights) with
    ``avg_non_ignore=True`` the number of labelled pixels is passed as a tensor
    ``avg_factor``: the same value mmseg reads with ``.item()``, so the loss is the same
    to the last bit. Any other loss is called as mmseg calls it.

    Args:
        loss_module (nn.Module): An mmseg loss.
        logits (Tensor): [N, C, H, W]. label (Tensor): [N, H, W].
        ignore_index (int): Label of unlabelled pixels.
        weight (Tensor, optional): Per-pixel weights (mmseg's pixel sampler).

    Returns:
        Tensor: the loss.
    """
    if (getattr(loss_module, 'avg_non_ignore', False)
            and not getattr(loss_module, 'use_sigmoid', False)
            and not getattr(loss_module, 'use_mask', False)
            and getattr(loss_module, 'class_weight', None) is None and weight is None):
        avg_factor = (label != ignore_index).sum()
        return loss_module(logits, label, avg_factor=avg_factor, ignore_index=ignore_index)
    return loss_module(logits, label, weight=weight, ignore_index=ignore_index)


def decode_losses(head: nn.Module, seg_logits: Tensor, seg_label: Tensor) -> Dict[str, Tensor]:
    """mmseg's ``BaseDecodeHead.loss_by_feat`` without host synchronisations.

    Args:
        head (nn.Module): An mmseg decode head (``loss_decode``, ``sampler``,
            ``ignore_index``, ``align_corners``).
        seg_logits (Tensor): [N, C, h, w] logits.
        seg_label (Tensor): [N, 1, H, W] stacked ground truth.

    Returns:
        dict[str, Tensor]: each loss by its ``loss_name`` and ``acc_seg``.
    """
    seg_logits = resize(seg_logits, size=seg_label.shape[2:], mode='bilinear',
                        align_corners=head.align_corners, warning=False)
    seg_weight = head.sampler.sample(seg_logits, seg_label) if head.sampler is not None \
        else None
    seg_label = seg_label.squeeze(1)
    modules = head.loss_decode if isinstance(head.loss_decode, nn.ModuleList) else \
        [head.loss_decode]
    losses: Dict[str, Tensor] = {}
    for module in modules:
        value = segmentation_loss(module, seg_logits, seg_label, head.ignore_index, seg_weight)
        losses[module.loss_name] = losses[module.loss_name] + value \
            if module.loss_name in losses else value
    losses['acc_seg'] = pixel_accuracy(seg_logits, seg_label, head.ignore_index)
    return losses
