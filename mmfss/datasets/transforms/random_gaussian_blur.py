import cv2
import numpy as np
from mmcv.transforms import BaseTransform
from mmseg.registry import TRANSFORMS

__all__ = ['RandomGaussianBlur']


@TRANSFORMS.register_module()
class RandomGaussianBlur(BaseTransform):
    """Blur the image with a Gaussian kernel with probability ``prob``.

    PFENet util/transform.py ``RandomGaussianBlur`` (also BAM's): with probability 0.5,
    ``cv2.GaussianBlur(image, (k, k), 0)`` with ``k = kernel_size`` (5; sigma from the
    kernel size). The segmentation maps are unchanged.

    Required keys: ``img``. Modified keys: ``img``.

    Args:
        kernel_size (int): Odd kernel size (PFENet's ``radius``, 5).
        prob (float): Probability of blurring.
    """

    def __init__(self, kernel_size: int = 5, prob: float = 0.5) -> None:
        if not (isinstance(kernel_size, int) and kernel_size >= 1 and kernel_size % 2 == 1):
            raise ValueError(f'kernel_size must be an odd int >= 1, got {kernel_size!r}')
        if not 0 <= prob <= 1:
            raise ValueError(f'prob must be in [0, 1], got {prob!r}')
        self.kernel_size, self.prob = kernel_size, prob

    def transform(self, results: dict) -> dict:
        if np.random.rand() < self.prob:
            results['img'] = cv2.GaussianBlur(results['img'],
                                              (self.kernel_size, self.kernel_size), 0)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(kernel_size={self.kernel_size}, '
                f'prob={self.prob})')
