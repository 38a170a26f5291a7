"""CLIP-ES's class-aware attention-based affinity refinement of a CAM, as PI-CLIP runs it."""
import cv2
import numpy as np
import torch
from torch import Tensor

from mmfss.ot.precision import full_precision, island_dtype

__all__ = ['scale_cam', 'cam_boxes_mask', 'cam_boxes_masks', 'affinity_refine']


def scale_cam(cam: Tensor, eps: float = 1e-7) -> Tensor:
    """``(x - min) / (eps + max(x - min))`` per map over the last two dims (PI-CLIP
    ``pytorch_grad_cam/utils/image.py`` ``scale_cam_image``, without its resize)."""
    shifted = cam - cam.amin(dim=(-2, -1), keepdim=True)
    return shifted / (eps + shifted.amax(dim=(-2, -1), keepdim=True))


def _boxes(scores: np.ndarray, threshold: float) -> np.ndarray:
    """The box mask of one uint8 map (see :func:`cam_boxes_masks`)."""
    height, width = scores.shape
    binary = (scores > int(threshold * scores.max())).astype(np.uint8) * 255
    contours = cv2.findContours(binary, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)[-2]
    mask = np.zeros((height, width), np.float32)
    for contour in contours:
        x, y, w, h = cv2.boundingRect(contour)
        mask[y:min(y + h, height - 1), x:min(x + w, width - 1)] = 1
    return mask


@torch.compiler.disable  # OpenCV on the host: one graph break under torch.compile
def cam_boxes_masks(cams: Tensor, threshold: float = 0.4) -> Tensor:
    """Union of the bounding boxes of each CAM's high-score regions (PI-CLIP ``utils.py``
    ``scoremap2bbox`` with ``multi_contour_eval=True``), for a batch of maps.

    Each map in [0, 1] is cast to uint8 (``x * 255`` truncated), thresholded strictly above
    ``int(threshold * max)``; every contour OpenCV finds (``RETR_TREE``) gives a box
    ``[x, min(x + w, W - 1)) x [y, min(y + h, H - 1))``, as the reference clips the end
    coordinate to the last index and then slices up to it. OpenCV runs on the host: the
    maps cross once for the whole batch (one device-to-host copy, not one per map).

    Args:
        cams (Tensor): [M, h, w] scaled CAMs.
        threshold (float): Fraction of the maximum.

    Returns:
        Tensor: [M, h, w] float masks (1 inside a box), on ``cams``' device and dtype.
    """
    scores = (cams.detach().float().cpu().numpy() * 255).astype(np.uint8)
    masks = np.stack([_boxes(m, threshold) for m in scores]) if len(scores) else \
        np.zeros(scores.shape, np.float32)
    return torch.from_numpy(masks).to(device=cams.device, dtype=cams.dtype,
                                      non_blocking=True)


def cam_boxes_mask(cam: Tensor, threshold: float = 0.4) -> Tensor:
    """:func:`cam_boxes_masks` of one [h, w] map; returns [h, w]."""
    return cam_boxes_masks(cam[None], threshold)[0]


def affinity_refine(cam: Tensor, affinity: Tensor, threshold: float = 0.4) -> Tensor:
    """Refine scaled CAMs with the attention affinity of the image's patches.

    PI-CLIP ``model/get_cam.py`` (after CLIP-ES): with ``A`` the mean patch-to-patch attention
    of the last ViT blocks, ``T = A / colsum(A)``, then ``T = T / rowsum(T)``,
    ``T = max(T, T T^T)`` (element-wise), ``T = T T``, the columns of ``T`` outside the CAM's
    boxes (:func:`cam_boxes_masks`) zeroed, and the refined map ``T cam``. Computed in
    float32 under any autocast (products of probabilities of ~1/hw underflow fp16).

    Args:
        cam (Tensor): [N, T, h, w] CAMs scaled to [0, 1] (:func:`scale_cam`).
        affinity (Tensor): [N, h*w, h*w] attention weights (rows: attending patch).
        threshold (float): Box threshold of :func:`cam_boxes_masks`.

    Returns:
        Tensor: [N, T, h, w] refined maps (not rescaled), float32 (float64 for float64
        inputs).
    """
    n, t, h, w = cam.shape
    if affinity.shape != (n, h * w, h * w):
        raise ValueError(f'affinity {tuple(affinity.shape)} does not match CAMs '
                         f'{tuple(cam.shape)}: expected [{n}, {h * w}, {h * w}]')
    dtype = island_dtype(cam.dtype)
    with full_precision(cam.device):
        cam, affinity = cam.to(dtype), affinity.to(dtype)
        trans = affinity / affinity.sum(dim=1, keepdim=True)
        trans = trans / trans.sum(dim=2, keepdim=True)
        trans = torch.maximum(trans, trans @ trans.transpose(1, 2))
        trans = trans @ trans
        boxes = cam_boxes_masks(cam.flatten(0, 1), threshold).view(n, t, h * w)
        # column j of T kept where j is inside the box: T (boxes * cam), all maps at once
        out = torch.bmm(trans, (boxes * cam.flatten(2)).transpose(1, 2))  # [N, hw, T]
        return out.transpose(1, 2).reshape(n, t, h, w)
