"""What the few-shot models need to know of a backbone: its levels' channels, and how to run
the stage that produces one level from the level before.

PFENet's prior (:class:`~mmfss.models.PriorMaskNeck`) computes the support's last level as
``stage(previous level * mask)`` (PFENet ``model/PFENet.py``: ``layer4(layer3 * mask)``), so
the object's features carry no background context. That needs the backbone's stages; this
module is the one place that knows how each backbone family lays them out:

* mmseg's ResNet family (``ResNet``, ``ResNetV1c``/``V1d``, ``ResNeXt``, ``ResNeSt``): the
  residual layers ``res_layers`` between two outputs (PFENet's ``layer4``);
* ``MobileNetV2`` / ``MobileNetV3``: the inverted-residual layers ``layers`` between two
  outputs;
* ``SwinTransformer``: the previous stage's patch merging, then the next stage's blocks and
  its output norm, applied to the previous output as the backbone returns it (after its
  norm; the backbone itself continues from the tokens before that norm);
* ``MixVisionTransformer`` (SegFormer's MiT): the next stage's overlapping patch
  embedding, blocks and norm (exactly the backbone's own continuation);
* mmfss's ``VGG`` (PFENet's and BAM's split): the ``features`` modules between two
  outputs (PFENet's ``layer4``: ``features[34:43]`` of VGG-16-BN);
* a backbone of your own: give it a method ``run_stage(x, level)`` that maps (a function of)
  output ``level - 1`` to output ``level``, or register a function for its class with
  :func:`register_stage_runner`.

A plain ``VisionTransformer`` has one resolution and no stage hierarchy: it has no runner,
and the prior falls back to the backbone's own support features, masked afterwards
(``PriorMaskNeck(mask_support_stage='auto')``).
"""
import copy
from typing import Callable, Dict, List, Optional, Sequence

import torch
import torch.nn as nn
from torch import Tensor

__all__ = [
    'register_stage_runner', 'stage_runner', 'level_channels', 'STAGE_RUNNERS',
    'register_prefix_runner', 'prefix_runner', 'PREFIX_RUNNERS'
]

StageFn = Callable[[nn.Module, Tensor, int], Tensor]
PrefixFn = Callable[[nn.Module, Tensor, int], List[Tensor]]
STAGE_RUNNERS: Dict[str, StageFn] = {}
PREFIX_RUNNERS: Dict[str, PrefixFn] = {}


def register_stage_runner(*class_names: str):
    """Register ``fn(backbone, x, level) -> Tensor`` for backbones of these class names (and
    their subclasses)."""

    def wrap(fn: StageFn) -> StageFn:
        for name in class_names:
            STAGE_RUNNERS[name] = fn
        return fn

    return wrap


def register_prefix_runner(*class_names: str):
    """Register ``fn(backbone, x, level) -> [outputs 0 .. level]`` (the backbone's own
    forward stopped after output ``level``) for backbones of these class names."""

    def wrap(fn: PrefixFn) -> PrefixFn:
        for name in class_names:
            PREFIX_RUNNERS[name] = fn
        return fn

    return wrap


def _out_indices(backbone: nn.Module) -> List[int]:
    out_indices = backbone.out_indices
    return [out_indices] if isinstance(out_indices, int) else list(out_indices)


def _indices(backbone: nn.Module, level: int) -> Sequence[int]:
    """The backbone's module indices after output ``level - 1`` up to output ``level``."""
    out_indices = getattr(backbone, 'out_indices', None)
    if out_indices is None:
        raise TypeError(f'{type(backbone).__name__} has no out_indices')
    out_indices = [out_indices] if isinstance(out_indices, int) else list(out_indices)
    n = len(out_indices)
    if not -n < level < n or level % n == 0:
        raise ValueError(f'level {level} has no previous output level among the backbone '
                         f'outputs {out_indices}')
    before, stage = out_indices[level - 1], out_indices[level]
    if stage <= before:
        raise ValueError(f'backbone output {level} (index {stage}) does not come after output '
                         f'{level - 1} (index {before}): out_indices must increase')
    return range(before + 1, stage + 1)


@register_stage_runner('ResNet')
def _resnet(backbone: nn.Module, x: Tensor, level: int) -> Tensor:
    for i in _indices(backbone, level):
        x = getattr(backbone, backbone.res_layers[i])(x)
    return x


@register_stage_runner('MobileNetV2', 'MobileNetV3')
def _mobilenet(backbone: nn.Module, x: Tensor, level: int) -> Tensor:
    for i in _indices(backbone, level):
        x = getattr(backbone, backbone.layers[i])(x)
    return x


@register_stage_runner('SwinTransformer')
def _swin(backbone: nn.Module, x: Tensor, level: int) -> Tensor:
    indices = list(_indices(backbone, level))
    previous = backbone.stages[indices[0] - 1]
    if previous.downsample is None:
        raise ValueError(f'Swin stage {indices[0] - 1} has no patch merging')
    hw = tuple(x.shape[-2:])
    tokens, hw = previous.downsample(x.flatten(2).transpose(1, 2), hw)
    for i in indices:
        tokens, hw, out, out_hw = backbone.stages[i](tokens, hw)
    out = getattr(backbone, f'norm{indices[-1]}')(out)
    return out.view(-1, *out_hw, out.shape[-1]).permute(0, 3, 1, 2).contiguous()


@register_stage_runner('MixVisionTransformer')
def _mit(backbone: nn.Module, x: Tensor, level: int) -> Tensor:
    for i in _indices(backbone, level):
        embed, blocks, norm = backbone.layers[i]
        x, hw = embed(x)
        for block in blocks:
            x = block(x, hw)
        x = norm(x).transpose(1, 2).reshape(x.shape[0], -1, *hw)
    return x


@register_prefix_runner('ResNet')
def _resnet_prefix(backbone: nn.Module, x: Tensor, level: int) -> List[Tensor]:
    # mmseg ResNet.forward, stopped after output ``level``
    if backbone.deep_stem:
        x = backbone.stem(x)
    else:
        x = backbone.relu(backbone.norm1(backbone.conv1(x)))
    x = backbone.maxpool(x)
    out_indices = _out_indices(backbone)
    outs = []
    for i, name in enumerate(backbone.res_layers[:out_indices[level] + 1]):
        x = getattr(backbone, name)(x)
        if i in out_indices:
            outs.append(x)
    return outs


@register_prefix_runner('VGG')
def _vgg_prefix(backbone: nn.Module, x: Tensor, level: int) -> List[Tensor]:
    out_indices = _out_indices(backbone)
    outs = []
    for stage in range(out_indices[level] + 1):
        x = backbone.run_stages(x, stage, stage)
        if stage in out_indices:
            outs.append(x)
    return outs


def prefix_runner(backbone: nn.Module) -> Optional[Callable[[Tensor, int], List[Tensor]]]:
    """``run(x, level) -> [outputs 0 .. level]`` for ``backbone`` (its forward stopped after
    output ``level``, equal to the first ``level + 1`` outputs of ``backbone(x)``), or None
    when its class has no registered prefix runner (mmseg's ResNet family and mmfss's VGG
    have one)."""
    for cls in type(backbone).__mro__:
        fn = PREFIX_RUNNERS.get(cls.__name__)
        if fn is not None:
            return lambda x, level, _fn=fn: _fn(backbone, x, level)
    return None


def stage_runner(backbone: nn.Module) -> Optional[Callable[[Tensor, int], Tensor]]:
    """``run(x, level)`` for ``backbone``, or None when its stages cannot be addressed.

    The backbone's own ``run_stage`` method wins (``run_stage = None``: the backbone says it
    has no addressable stages); then the runner registered for its class or the nearest
    base class.
    """
    if hasattr(backbone, 'run_stage'):  # a backbone's own runner, or None: it has none
        own = backbone.run_stage
        return own if callable(own) else None
    for cls in type(backbone).__mro__:
        fn = STAGE_RUNNERS.get(cls.__name__)
        if fn is not None:
            return lambda x, level, _fn=fn: _fn(backbone, x, level)
    return None


def level_channels(backbone: nn.Module, size: int = 64) -> List[int]:
    """Channels of each output level, read from a forward pass of a copy of the backbone on
    PyTorch's meta device (shapes only: no weights are copied to a device, nothing is
    computed).

    Raises:
        TypeError: the backbone returns one tensor, not a list or tuple of levels.
    """
    probe = copy.deepcopy(backbone).to('meta')
    probe.eval()  # (mmseg's backbones override train() without returning the module)
    with torch.no_grad():
        outs = probe(torch.empty(1, 3, size, size, device='meta'))
    if isinstance(outs, Tensor) or not isinstance(outs, (list, tuple)):
        raise TypeError(f'{type(backbone).__name__} returns one tensor; the few-shot models '
                        'read several levels: give it out_indices with two or more levels')
    channels = []
    for out in outs:
        if isinstance(out, (list, tuple)):  # ViT with output_cls_token: [map, cls]
            out = out[0]
        channels.append(int(out.shape[1]))
    return channels


@register_stage_runner('VGG')
def _vgg(backbone: nn.Module, x: Tensor, level: int) -> Tensor:
    indices = list(_indices(backbone, level))
    return backbone.run_stages(x, indices[0], indices[-1])
