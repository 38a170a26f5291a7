"""A VGG that returns chosen layers' outputs: HSNet's VGG-16 hypercolumn features."""
from typing import Sequence, Tuple

from mmseg.registry import MODELS
from mmseg.utils import OptConfigType
from torch import Tensor

from .vgg import VGG

__all__ = ['HypercolumnVGG']


@MODELS.register_module()
class HypercolumnVGG(VGG):
    """torchvision's plain VGG (no batch norm, floor pooling, every pooling kept) returning
    the outputs of the ``features`` modules ``feature_ids``, one level each: HSNet
    (``model/hsnet.py``, ``model/base/feature.py`` ``extract_feat_vgg``) reads VGG-16's
    modules 17, 19, 21 (conv4_1-3), 24, 26, 28 (conv5_1-3), each before its ReLU, and 30 (the
    last pooling): levels at 1/8, 1/16 and 1/32 in groups of 3, 3, 1 (its ``nbottlenecks``
    [2, 2, 3, 3, 3, 1], the last three stages). torchvision's ImageNet weights
    (``vgg16-397923af.pth``: ``features.N.*``) load by name.

    Args:
        feature_ids (Sequence[int]): Indices into ``features`` whose outputs are the levels,
            increasing.
        depth (int): VGG depth (HSNet: 16).
        norm_cfg (dict, optional): None (HSNet's ``vgg16``).
        ceil_mode (bool): False (torchvision's pooling).
        with_last_pool (bool): True (the last pooling is level 30).
        init_cfg (dict, optional): e.g. ``dict(type='Pretrained',
            checkpoint='pretrain/vgg16-397923af.pth')``.
    """

    run_stage = None  # levels are layers: no stage runner (see backbone_stages)

    def __init__(self,
                 feature_ids: Sequence[int] = (17, 19, 21, 24, 26, 28, 30),
                 depth: int = 16,
                 norm_cfg: OptConfigType = None,
                 ceil_mode: bool = False,
                 with_last_pool: bool = True,
                 init_cfg: OptConfigType = None) -> None:
        super().__init__(depth=depth, norm_cfg=norm_cfg, ceil_mode=ceil_mode,
                         with_last_pool=with_last_pool, init_cfg=init_cfg)
        self.feature_ids = tuple(feature_ids)
        if (not self.feature_ids or list(self.feature_ids) != sorted(set(self.feature_ids))
                or not 0 <= self.feature_ids[0] or self.feature_ids[-1] >= len(self.features)):
            raise ValueError(f'feature_ids must be increasing indices into the '
                             f'{len(self.features)} modules of features, got {feature_ids}')

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        """The levels, [B, C_l, h_l, w_l] each (VGG-16 at 400: 512 x 50^2 (3), 512 x 25^2
        (3), 512 x 12^2)."""
        outs = []
        for index, module in enumerate(self.features[:self.feature_ids[-1] + 1]):
            x = module(x)
            if index in self.feature_ids:
                outs.append(x.clone())  # the next ReLU works in place
        return tuple(outs)
