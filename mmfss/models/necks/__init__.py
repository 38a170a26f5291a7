from .prior_mask_neck import PriorMaskNeck, prior_mask

__all__ = ['PriorMaskNeck', 'prior_mask']
