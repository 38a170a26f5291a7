"""A Swin Transformer that returns every block's output: hypercolumns for HSNet's learner."""
from typing import List, Sequence, Tuple

from mmseg.models.backbones import SwinTransformer
from mmseg.registry import MODELS
from torch import Tensor

__all__ = ['HypercolumnSwin']


@MODELS.register_module()
class HypercolumnSwin(SwinTransformer):
    """mmseg's Swin Transformer returning the output of every Swin block of ``stages`` (the
    tokens after the block, before the stage's patch merging and without the output norm),
    as maps [B, C_stage, h, w], one level per block: the hypercolumns of HSNet's learner
    (:class:`~mmfss.models.HypercorrelationHead`, ``group_sizes`` = :attr:`group_sizes`) on
    Swin. Swin-B with stages 1-3 (0-based: 1/8, 1/16, 1/32, as HSNet's layer2-4) gives
    2 + 18 + 2 = 22 levels.

    HSNet's code has no Swin backbone (its paper and code use ResNets and VGG-16); this is
    mmfss's reading of a block-level hypercolumn for a hierarchical transformer, the way
    :class:`HypercolumnResNet` takes every bottleneck. Swin-B's ImageNet weights load as
    mmseg's (``tools/model_converters/swin2mmfss.py``).

    Args:
        stages (Sequence[int]): 0-based stages whose blocks are returned.
        **kwargs: :class:`mmseg.models.backbones.SwinTransformer` arguments.
    """

    run_stage = None  # levels are blocks: no stage runner (see backbone_stages)

    def __init__(self, stages: Sequence[int] = (1, 2, 3), **kwargs) -> None:
        super().__init__(**kwargs)
        self.hyper_stages = tuple(stages)
        if not self.hyper_stages or any(not 0 <= s < len(self.stages)
                                        for s in self.hyper_stages):
            raise ValueError(f'stages must be in 0..{len(self.stages) - 1}, got {stages}')

    @property
    def group_sizes(self) -> List[int]:
        """Levels per stage, in level order (Swin-B: [2, 18, 2])."""
        return [len(self.stages[s].blocks) for s in self.hyper_stages]

    def forward(self, x: Tensor) -> Tuple[Tensor, ...]:
        x, hw = self.patch_embed(x)
        if self.use_abs_pos_embed:
            x = x + self.absolute_pos_embed
        x = self.drop_after_pos(x)
        outs = []
        for i, stage in enumerate(self.stages[:max(self.hyper_stages) + 1]):
            for block in stage.blocks:
                x = block(x, hw)
                if i in self.hyper_stages:
                    outs.append(x.transpose(1, 2).reshape(x.shape[0], -1, *hw))
            if stage.downsample is not None:
                x, hw = stage.downsample(x, hw)
        return tuple(outs)
