import math

import torch
from torch import Tensor

__all__ = ['fuse_ways', 'BACKGROUND_RULES']

BACKGROUND_RULES = ('mean', 'threshold')


def fuse_ways(log_probs: Tensor, background_rule: str = 'mean',
              threshold: float = 0.5) -> Tensor:
    """Fuse N one-way predictions of a query into N+1 class scores (log domain).

    An N-way episode is predicted as N binary episodes (one per support class) that share
    the query; each gives log-probabilities ``(log(1 - p_n), log p_n)`` per pixel. The fused
    label of a pixel is the argmax of the returned scores: 0 (background) or ``n`` (the
    n-th class); channel ``n`` is ``log p_n``.

    * ``'mean'`` (default): the background score is the mean of the N background
      log-probabilities, ``mean_n log(1 - p_n)``, as iFSL (Kang & Cho, CVPR 2022,
      ``merge_bg_masks``) merges N-way predictions.
    * ``'threshold'``: the background score is ``log(threshold)``: a pixel takes its most
      probable class when that probability exceeds ``threshold``, else background.

    With N = 1 both rules (threshold 0.5) reduce to the binary decision ``p_1 > 0.5``
    (ties go to the background, as argmax takes the first maximum).

    Args:
        log_probs (Tensor): [B, N, 2, H, W] log-softmax of each way's (background,
            foreground) logits.
        background_rule (str): ``'mean'`` or ``'threshold'``.
        threshold (float): Probability a class must exceed under ``'threshold'``, in (0, 1).

    Returns:
        Tensor: [B, N + 1, H, W] log-domain scores; channel 0 is the background.
    """
    if log_probs.dim() != 5 or log_probs.shape[2] != 2:
        raise ValueError('log_probs must be [B, N, 2, H, W], got shape '
                         f'{tuple(log_probs.shape)}')
    if background_rule == 'mean':
        background = log_probs[:, :, 0].mean(1, keepdim=True)
    elif background_rule == 'threshold':
        if not 0 < threshold < 1:
            raise ValueError(f'threshold must be in (0, 1), got {threshold!r}')
        background = torch.full_like(log_probs[:, :1, 1], math.log(threshold))
    else:
        raise ValueError(f'background_rule must be one of {BACKGROUND_RULES}, '
                         f'got {background_rule!r}')
    return torch.cat([background, log_probs[:, :, 1]], dim=1)
