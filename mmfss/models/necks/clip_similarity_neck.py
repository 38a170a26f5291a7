"""PI-CLIP's visual-visual prior: cosine maxima between CLIP patch features."""
from typing import Sequence

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor

from ..utils import EpisodeFeatures
from ..utils.clip_grad_cam import is_vit, vit_block_outputs
from .prior_mask_neck import prior_mask

__all__ = ['CLIPSimilarityNeck']


@MODELS.register_module()
class CLIPSimilarityNeck(BaseModule):
    """PI-CLIP's visual-visual prior (*Rethinking Prior Information Generation with CLIP
    for Few-Shot Segmentation*, Jin Wang, Bingfeng Zhang, Jian Pang, Honglong Chen and
    Weifeng Liu, CVPR 2024; vangjin/PI-CLIP ``model/PI_CLIP.py``: ``encode_image(...,
    extract=True)`` and ``get_similarity`` over ``que_clip_feat_all[11]`` and ``[10]``).

    The frozen CLIP ViT of a :class:`~mmfss.models.CLIPPriorNeck` (``source``; the neck
    holds no weights of its own, :class:`~mmfss.models.FewShotSegmentor` binds it) encodes
    the query and the supports (the segmentor's support images, masked at the input with
    ``mask_support_input`` as PI-CLIP masks them); for each block of ``layers`` the patch
    tokens after the block are a feature map, and the prior of each shot is, at every query
    patch, the maximum cosine similarity to the support patches on the foreground (mask
    resized nearest, no min-max: HDMNet's ``get_similarity``). Output
    ``priors[prior_key]``: [B, len(layers) * K, h, w] at CLIP's patch grid, layer by layer
    and within a layer shot by shot (PI-CLIP concatenates the shots' maps: its transformer
    takes 2K channels). The supports' tokens are computed once per support encoding.

    Args:
        source (str): Dotted name of the CLIPPriorNeck's open_clip model in the segmentor.
        layers (Sequence[int]): 0-based blocks (PI-CLIP: 11 then 10, ViT-B's last two).
        input_space (str): ``'clip'``: the images re-normalised with CLIP's statistics, as
            the Grad-CAM prior sees them (default); ``'data'``: the data preprocessor's
            normalisation as it is (PI-CLIP passes the PSPNet-normalised input to
            ``encode_image``).
        prior_key (str): Name of the prior.
        eps (float): Cosine epsilon (1e-7).
    """

    def __init__(self, source: str = 'necks.0.clip', layers: Sequence[int] = (11, 10),
                 input_space: str = 'clip', prior_key: str = 'clip_vv', eps: float = 1e-7,
                 init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        if input_space not in ('clip', 'data'):
            raise ValueError(f"input_space must be 'clip' or 'data', got {input_space!r}")
        if not layers:
            raise ValueError('layers must name at least one CLIP block')
        self.source, self.layers = source, [int(i) for i in layers]
        self.input_space, self.prior_key, self.eps = input_space, prior_key, eps
        self._bound: list = []  # [the CLIP prior neck], a list: not registered twice

    def bind(self, model: nn.Module) -> None:
        """Find the CLIP model ``source`` (and the neck holding it) in ``model``."""
        parent_name, _, leaf = self.source.rpartition('.')
        try:
            parent = model.get_submodule(parent_name) if parent_name else model
            clip = getattr(parent, leaf)
        except AttributeError as e:
            raise ValueError(f'CLIPSimilarityNeck(source={self.source!r}): the model has no '
                             f'such module ({e})') from None
        if not (hasattr(clip, 'visual') and is_vit(clip.visual)):
            raise ValueError(f'CLIPSimilarityNeck(source={self.source!r}) needs an open_clip '
                             f'model with a ViT image encoder, got {type(clip).__name__}')
        depth = len(clip.visual.transformer.resblocks)
        if any(not 0 <= i < depth for i in self.layers):
            raise ValueError(f'CLIPSimilarityNeck layers {self.layers} are not blocks of a '
                             f'{depth}-block ViT')
        if self.input_space == 'clip' and not hasattr(parent, 'to_clip'):
            raise ValueError("CLIPSimilarityNeck(input_space='clip') needs source to be the "
                             "clip of a CLIPPriorNeck (its to_clip); or set input_space='data'")
        self._bound = [parent]

    @property
    def _neck(self) -> nn.Module:
        if not self._bound:
            raise RuntimeError('CLIPSimilarityNeck is not bound to a CLIP model: build it '
                               'inside a FewShotSegmentor (or call bind(model))')
        return self._bound[0]

    @torch.no_grad()
    def features(self, images: Tensor):
        """Feature maps of the blocks ``layers`` for ``images`` [N, 3, H, W]."""
        neck = self._neck
        clip = getattr(neck, self.source.rpartition('.')[2])
        if self.input_space == 'clip':
            x = neck.to_clip(images)
            # to_clip rounds the size up to the patch; PI-CLIP's grid is floor(H / patch)
        else:
            x = images.to(next(clip.visual.parameters()).dtype)
        maps, _ = vit_block_outputs(clip.visual, x, self.layers)
        return [m.float() for m in maps]

    def forward(self, feats: EpisodeFeatures) -> EpisodeFeatures:
        if self.prior_key in feats.priors:
            raise KeyError(f'prior {self.prior_key!r} already exists; give each prior neck '
                           'its own prior_key')
        b, k = feats.batch_size, feats.shot
        query = self.features(feats.query_inputs)
        support = feats.support_only(
            f'{type(self).__name__}:{self.prior_key}',
            lambda n: self.features(feats.support_inputs[:n].flatten(0, 1)))
        maps = []
        with torch.no_grad():
            for q, s in zip(query, support):
                s = s.view(b, k, *s.shape[1:])
                maps.append(prior_mask(q, s, feats.support_masks, self.eps, per_shot=True,
                                       min_max=False, mask_mode='nearest'))
        feats.priors[self.prior_key] = torch.cat(maps, dim=1).to(feats.query_inputs.dtype)
        return feats
