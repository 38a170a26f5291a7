"""A frozen PSPNet's bottleneck, before its activation, as an extra feature level."""
from typing import Optional

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from mmseg.registry import MODELS
from torch import Tensor

from ..utils import EpisodeFeatures
from ..utils.lazy_levels import add_levels

__all__ = ['PSPLevelNeck', 'psp_bottleneck']


def psp_bottleneck(head: nn.Module, x: Tensor) -> Tensor:
    """The bottleneck of a PSP head (mmseg's ``PSPHead`` or mmfss's ``PSPBottleneckHead``)
    before its activation: ``norm(conv([x, pyramid(x)]))``.

    Args:
        head (nn.Module): The PSP head (its ``psp_modules`` and ``bottleneck`` ConvModule).
        x (Tensor): [N, C_in, h, w].

    Returns:
        Tensor: [N, C_bottleneck, h, w].
    """
    out = torch.cat([x] + head.psp_modules(x), dim=1)
    bottleneck = head.bottleneck
    out = bottleneck.conv(out)
    return bottleneck.norm(out) if bottleneck.with_norm else out


@MODELS.register_module()
class PSPLevelNeck(BaseModule):
    """Appends the bottleneck of the model's frozen base learner (a PSP head), before its
    ReLU, to the levels of the query and of the supports (HDMNet, Pbihao/HDMNet
    ``model/HDMNet.py`` ``extract_feats``: ``cls[0:2](ppm(layer4))``, its ``query_feat_5``
    / ``supp_feat_5``, read by a prior and, through
    :class:`~mmfss.models.EnsembleFewShotHead` ``base_learner_level``, by the base learner's
    own classifier, so the pyramid runs once).

    The neck holds no weights: :class:`~mmfss.models.FewShotSegmentor` binds it to the
    module named ``source`` (the ensemble's base learner, loaded from a base-learner
    PSPNet as BAM's), run in eval mode without gradients. Computed once per support
    encoding (:meth:`EpisodeFeatures.support_only`).

    Args:
        source (str): Dotted name of the PSP head in the segmentor.
        in_index (int): Level the pyramid reads (the backbone's last).
        out_channels (int): Width of the bottleneck (for ``in_channels='auto'``).
    """

    def __init__(self, source: str = 'decode_head.base_learner', in_index: int = -1,
                 out_channels: int = 512, init_cfg=None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.source, self.in_index, self.out_channels = source, in_index, out_channels
        self._bound: list = []  # a list, so the head is not registered twice

    def bind(self, model: nn.Module) -> None:
        """Find the PSP head ``source`` in ``model``."""
        try:
            head = model.get_submodule(self.source)
        except AttributeError as e:
            raise ValueError(f'PSPLevelNeck(source={self.source!r}): the model has no such '
                             f'module ({e})') from None
        if not (hasattr(head, 'psp_modules') and hasattr(head, 'bottleneck')):
            raise ValueError(f'PSPLevelNeck(source={self.source!r}) needs a PSP head (psp_modules '
                             f'and bottleneck), got {type(head).__name__}')
        self._bound = [head]

    @property
    def psp(self) -> nn.Module:
        if not self._bound:
            raise RuntimeError('PSPLevelNeck is not bound to a PSP head: build it inside a '
                               'FewShotSegmentor (or call bind(model))')
        return self._bound[0]

    def forward(self, feats: EpisodeFeatures) -> EpisodeFeatures:
        psp = self.psp
        with torch.no_grad():
            query = psp_bottleneck(psp, feats.query_feats[self.in_index])

            def compute(n: int) -> Tensor:
                return psp_bottleneck(psp, feats.support_feats[self.in_index][:n].flatten(0, 1))

            support = feats.support_only('psp_level', compute)
            support = support.view(feats.batch_size, -1, *support.shape[1:])
        feats.query_feats = list(feats.query_feats) + [query]
        feats.support_feats = add_levels(feats.support_feats, [support])
        return feats
