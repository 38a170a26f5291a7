import torch.nn.functional as F
from torch import Tensor

__all__ = ['foreground_weights', 'masked_average_pooling']


def foreground_weights(masks: Tensor, size, foreground: int = 1) -> Tensor:
    """Foreground fraction of each feature cell.

    Args:
        masks (Tensor): Label masks [N, H, W] (``foreground`` marks the object; 255 ignore).
        size (tuple[int, int]): Feature size (h, w).
        foreground (int): Label value of the foreground.

    Returns:
        Tensor: [N, 1, h, w] float in [0, 1], bilinear resize of the binary mask (as PFENet).
    """
    fg = (masks == foreground).float().unsqueeze(1)
    return F.interpolate(fg, size=size, mode='bilinear', align_corners=True)


def masked_average_pooling(feats: Tensor, weights: Tensor, eps: float = 5e-4) -> Tensor:
    """Weighted average of features over space (masked average pooling, SG-One/PFENet).

    Args:
        feats (Tensor): [N, C, h, w].
        weights (Tensor): [N, 1, h, w] non-negative weights (e.g. a resized mask).
        eps (float): Added to the weight sum; PFENet uses 5e-4.

    Returns:
        Tensor: [N, C] prototypes.
    """
    num = (feats * weights).sum(dim=(2, 3))
    return num / (weights.sum(dim=(2, 3)) + eps)
