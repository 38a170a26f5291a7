"""HDMNet's matching-attention distillation loss."""
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmseg.registry import MODELS
from torch import Tensor

from mmfss.ot.precision import full_precision, island_dtype

__all__ = ['AttentionDistillationLoss', 'attention_distillation_loss']


def _kl(teacher: Tensor, student: Tensor) -> Tensor:
    """HDMNet's ``disstil_loss``: both maps [B, h, w] softmaxed over the positions,
    ``sum t (log(t + 1e-12) - log(s + 1e-12))`` per episode, averaged over the batch; the
    teacher resized bilinearly (``align_corners=False``) to the student's grid first."""
    if teacher.shape[-2:] != student.shape[-2:]:
        teacher = F.interpolate(teacher[:, None], size=student.shape[-2:], mode='bilinear')[:, 0]
    t = teacher.flatten(1).softmax(dim=1)
    s = student.flatten(1).softmax(dim=1)
    return (t * torch.log(t + 1e-12) - t * torch.log(s + 1e-12)).sum(1).mean()


def attention_distillation_loss(weights: Sequence[Tensor], label: Tensor,
                                foreground: int = 1) -> Tensor:
    """HDMNet's correlation distillation (Pbihao/HDMNet ``model/HDMNet.py``, training
    branch of ``forward``): the coarsest stage's matching weights learn the query's ground
    truth (foreground 0, elsewhere -1e9, so a uniform target over the object), each finer
    stage learns the coarser stage's weights (detached). The sum over the stages divided by
    their number (HDMNet: ``distil_loss / 3``).

    Computed in float32 (float64 for float64 weights) under any autocast: -1e9 and the
    logarithms of the softmaxed maps have no float16 form.

    Args:
        weights (Sequence[Tensor]): Per stage, coarsest first, [B, h_i, w_i].
        label (Tensor): Query ground truth [B, H, W] (255 ignore: counts as background,
            as HDMNet's ``y_m == 1``).
        foreground (int): The foreground label.

    Returns:
        Tensor: The scalar loss.
    """
    dtype = island_dtype(weights[0].dtype)
    with full_precision(label.device):
        teacher = (label == foreground).to(dtype)
        teacher = teacher.masked_fill(teacher == 0, -1e9)
        total = 0
        for weight in weights:
            weight = weight.to(dtype)
            total = total + _kl(teacher, weight)
            teacher = weight.detach()
        return total / len(weights)


@MODELS.register_module()
class AttentionDistillationLoss(nn.Module):
    """Loss module of :func:`attention_distillation_loss`.

    Args:
        loss_weight (float): Weight of the loss (HDMNet: 1, ``aux_weight1``).
        loss_name (str): Key of the loss in the losses dict.
    """

    def __init__(self, loss_weight: float = 1.0, loss_name: str = 'loss_distill') -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self._loss_name = loss_name

    @property
    def loss_name(self) -> str:
        return self._loss_name

    def forward(self, weights: Sequence[Tensor], label: Tensor) -> Tensor:
        return self.loss_weight * attention_distillation_loss(weights, label)
