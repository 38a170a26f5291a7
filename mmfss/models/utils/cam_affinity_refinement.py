"""CLIP-ES's class-aware attention-based affinity refinement of a CAM, as PI-CLIP runs it."""
import cv2
import numpy as np
import torch
from torch import Tensor

__all__ = ['scale_cam', 'cam_boxes_mask', 'affinity_refine']


def scale_cam(cam: Tensor, eps: float = 1e-7) -> Tensor:
    """``(x - min) / (eps + max(x - min))`` per map over the last two dims (PI-CLIP
    ``pytorch_grad_cam/utils/image.py`` ``scale_cam_image``, without its resize)."""
    shifted = cam - cam.amin(dim=(-2, -1), keepdim=True)
    return shifted / (eps + shifted.amax(dim=(-2, -1), keepdim=True))


def cam_boxes_mask(cam: Tensor, threshold: float = 0.4) -> Tensor:
    """Union of the bounding boxes of the CAM's high-score regions (PI-CLIP ``utils.py``
    ``scoremap2bbox`` with ``multi_contour_eval=True``).

    The map in [0, 1] is cast to uint8 (``x * 255`` truncated), thresholded strictly above
    ``int(threshold * max)``; every contour OpenCV finds (``RETR_TREE``) gives a box
    ``[x, min(x + w, W - 1)) x [y, min(y + h, H - 1))``, as the reference clips the end
    coordinate to the last index and then slices up to it.

    Args:
        cam (Tensor): [h, w] scaled CAM.
        threshold (float): Fraction of the maximum.

    Returns:
        Tensor: [h, w] float mask (1 inside a box), on ``cam``'s device.
    """
    height, width = cam.shape
    scores = (cam.detach().float().cpu().numpy() * 255).astype(np.uint8)
    binary = (scores > int(threshold * scores.max())).astype(np.uint8) * 255
    contours = cv2.findContours(binary, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)[-2]
    mask = torch.zeros(height, width, device=cam.device, dtype=cam.dtype)
    for contour in contours:
        x, y, w, h = cv2.boundingRect(contour)
        mask[y:min(y + h, height - 1), x:min(x + w, width - 1)] = 1
    return mask


def affinity_refine(cam: Tensor, affinity: Tensor, threshold: float = 0.4) -> Tensor:
    """Refine scaled CAMs with the attention affinity of the image's patches.

    PI-CLIP ``model/get_cam.py`` (after CLIP-ES): with ``A`` the mean patch-to-patch attention
    of the last ViT blocks, ``T = A / colsum(A)``, then ``T = T / rowsum(T)``,
    ``T = max(T, T T^T)`` (element-wise), ``T = T T``, the columns of ``T`` outside the CAM's
    boxes (:func:`cam_boxes_mask`) zeroed, and the refined map ``T cam``.

    Args:
        cam (Tensor): [N, T, h, w] CAMs scaled to [0, 1] (:func:`scale_cam`).
        affinity (Tensor): [N, h*w, h*w] attention weights (rows: attending patch).
        threshold (float): Box threshold of :func:`cam_boxes_mask`.

    Returns:
        Tensor: [N, T, h, w] refined maps (not rescaled).
    """
    n, t, h, w = cam.shape
    if affinity.shape != (n, h * w, h * w):
        raise ValueError(f'affinity {tuple(affinity.shape)} does not match CAMs '
                         f'{tuple(cam.shape)}: expected [{n}, {h * w}, {h * w}]')
    trans = affinity / affinity.sum(dim=1, keepdim=True)
    trans = trans / trans.sum(dim=2, keepdim=True)
    trans = torch.maximum(trans, trans @ trans.transpose(1, 2))
    trans = trans @ trans
    out = torch.empty_like(cam)
    for i in range(n):
        for j in range(t):
            boxes = cam_boxes_mask(cam[i, j], threshold).flatten()
            out[i, j] = (trans[i] @ (boxes * cam[i, j].flatten())).view(h, w)
    return out

