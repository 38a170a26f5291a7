"""The weights the references released, in mmfss's key layout, and where to get them.

PFENet (dvlab-research/PFENet), BAM (chunbolang/BAM) and PI-CLIP start from PFENet's
ImageNet "deep base" ResNets (``initmodel/resnet50_v2.pth``, ``resnet101_v2.pth``) and
BAM/PI-CLIP from BAM's PSPNet base learners (``initmodel/PSPNet/<pascal|coco>/split<i>/
resnet50/best.pth``). mmfss expresses their network with mmseg's own modules: PFENet's
``model/resnet.py`` ResNet (stem 3->64->64->128 of 3x3 convs, layer 1 entered with 128
channels, 1x1 stride-2 downsampling convs, stride in the 3x3 conv) with PFENet's dilation of
layer 3/4 (every 3x3 conv of layer 3 at dilation 2, of layer 4 at 4, strides 1) is mmseg's
``ResNetV1c(stem_channels=128, dilations=(1, 1, 2, 4), strides=(1, 2, 1, 1),
contract_dilation=False)``; BAM's ``PSPNet`` head (``PPM`` of 1x1 conv + BN + ReLU at bins
1, 2, 3, 6 upsampled with ``align_corners=True``, then ``cls``: 3x3 conv + BN + ReLU +
dropout + 1x1 classifier) is mmseg's ``PSPHead(channels=512, align_corners=True)``.

This module maps their keys onto those modules (``tools/model_converters/``) and names the
files the configs expect under ``pretrain/`` with where to download each and how to convert
it (:func:`check_reference_files`).
"""
import os.path as osp
import re
from typing import Dict, Iterable, List, Optional

import torch

__all__ = ['convert_pfenet_resnet', 'convert_pfenet_vgg', 'convert_pfenet', 'convert_bam',
           'convert_hsnet',
           'convert_bam_pspnet', 'convert_swin', 'convert_file',
           'REFERENCE_FILES',
           'reference_file_help', 'check_reference_files', 'pretrained_checkpoints']

# PFENet's stem (conv1, bn1, conv2, bn2, conv3, bn3; BAM: layer0.0 .. layer0.7) -> mmseg's
# ResNetV1c stem Sequential (conv, bn, relu, conv, bn, relu, conv, bn, relu)
_STEM = {'conv1': 'stem.0', 'bn1': 'stem.1', 'conv2': 'stem.3', 'bn2': 'stem.4',
         'conv3': 'stem.6', 'bn3': 'stem.7'}
_LAYER0 = {'0': 'stem.0', '1': 'stem.1', '3': 'stem.3', '4': 'stem.4', '6': 'stem.6',
           '7': 'stem.7'}
PFENET_RESNET_URL = 'https://github.com/dvlab-research/PFENet (README, "ImageNet pretrained backbones")'
BAM_PSPNET_URL = 'https://github.com/chunbolang/BAM (README, "our trained base learners")'


def _strip(state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    if isinstance(state, dict) and isinstance(state.get('state_dict'), dict):
        state = state['state_dict']
    if not isinstance(state, dict):
        raise ValueError(f'expected a state dict, got a {type(state).__name__}')
    return {k[7:] if k.startswith('module.') else k: v for k, v in state.items()}


def convert_pfenet_resnet(state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """PFENet's ImageNet ResNet (``resnet50_v2.pth``, ``resnet101_v2.pth``) -> the state
    dict of mmseg's ``ResNetV1c(stem_channels=128)`` (no ``backbone.`` prefix; the ImageNet
    classifier ``fc`` is dropped).

    Raises:
        ValueError: a key is neither PFENet's stem, a residual layer nor ``fc``.
    """
    out = {}
    for key, value in _strip(state).items():
        head, _, rest = key.partition('.')
        if head in _STEM:
            out[f'{_STEM[head]}.{rest}'] = value
        elif re.fullmatch(r'layer[1-4]', head):
            out[key] = value
        elif head != 'fc':
            raise ValueError(f'unexpected key {key!r} for a PFENet ResNet')
    return out


def convert_pfenet_vgg(state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """PFENet's and BAM's ImageNet VGG-16-BN (``initmodel/vgg16_bn.pth``, torchvision's
    layout) -> the state dict of mmfss's ``VGG`` backbone (no ``backbone.`` prefix; the
    ImageNet ``classifier`` is dropped).

    Raises:
        ValueError: a key is neither ``features.N.*`` nor ``classifier.*``.
    """
    out = {}
    for key, value in _strip(state).items():
        if re.match(r'features\.\d+\.', key):
            out[key] = value
        elif not key.startswith('classifier.'):
            raise ValueError(f'unexpected key {key!r} for a VGG')
    return out


def _rename(key: str, table, what: str) -> str:
    """``key`` renamed by the first ``(pattern, replacement)`` of ``table`` that matches its
    start (``re.sub`` replacement: a string or a function of the match)."""
    for pattern, target in table:
        if re.match(pattern, key):
            return re.sub(pattern, target, key, count=1)
    raise ValueError(f'unexpected key {key!r} for {what}')


# PFENet's VGG-16-BN stages (model/PFENet.py get_vgg16_layer): layer_s holds
# features[_VGG16_STAGES[s]:...]; layer_s.j is features.(start + j)
_VGG16_STAGES = (0, 7, 14, 24, 34)
# PFENet's FEM modules (nn.Sequential indices) -> FeatureEnrichmentHead's
_PFENET_HEAD = (
    (r'down_(query|supp)\.0\.', r'down_\1.0.conv.'),
    (r'init_merge\.(\d+)\.0\.', r'init_merge.\1.conv.'),
    (r'alpha_conv\.(\d+)\.0\.', r'alpha_conv.\1.conv.'),
    (r'beta_conv\.(\d+)\.0\.', r'beta_conv.\1.0.conv.'),
    (r'beta_conv\.(\d+)\.2\.', r'beta_conv.\1.1.conv.'),
    (r'inner_cls\.(\d+)\.0\.', r'inner_cls.\1.0.conv.'),
    (r'inner_cls\.(\d+)\.3\.', r'inner_cls.\1.2.'),
    (r'res1\.0\.', r'res1.conv.'),
    (r'res2\.0\.', r'res2.0.conv.'),
    (r'res2\.2\.', r'res2.1.conv.'),
    (r'cls\.0\.', r'cls.conv.'),
    (r'cls\.3\.', r'conv_seg.'),
)


def convert_pfenet(state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """A trained PFENet (dvlab-research/PFENet: ``{'state_dict': ...}`` with DataParallel's
    ``module.`` prefix; ResNet or VGG-16-BN) -> mmfss's ``FewShotSegmentor`` with
    ``FeatureEnrichmentHead`` (``configs/pfenet``): ``backbone.*`` (``ResNetV1c`` stem +
    layers, or ``VGG.features``) and ``decode_head.*``. Every key is mapped; the prior neck
    has no weights.

    Raises:
        ValueError: a key is not one of PFENet's.
    """
    state = _strip(state)
    vgg = 'layer1.0.weight' in state  # VGG: layer_s.j are plain features modules
    out: Dict[str, torch.Tensor] = {}
    for key, value in state.items():
        parts = key.split('.')
        head = parts[0]
        if re.fullmatch(r'layer[0-4]', head):
            if vgg:
                index = _VGG16_STAGES[int(head[-1])] + int(parts[1])
                out['backbone.' + '.'.join(['features', str(index)] + parts[2:])] = value
            elif head == 'layer0':
                if parts[1] not in _LAYER0:
                    raise ValueError(f'unexpected key {key!r} in PFENet layer0')
                out['backbone.' + '.'.join([_LAYER0[parts[1]]] + parts[2:])] = value
            else:
                out['backbone.' + key] = value
            continue
        out['decode_head.' + _rename(key, _PFENET_HEAD, 'a PFENet model')] = value
    return out


def convert_bam_pspnet(state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """BAM's PSPNet base learner (``initmodel/PSPNet/.../best.pth``) -> an mmseg PSPNet
    checkpoint's state dict: ``backbone.*`` (``ResNetV1c(stem_channels=128)``, or mmfss's
    ``VGG`` for BAM's VGG-16 base learners) and ``decode_head.*`` (``PSPHead``; VGG:
    ``PSPBottleneckHead(channels=128, bottleneck_channels=512)``), what
    ``configs/base_learner`` trains.

    BAM's ``OneModel`` registers its ResNet twice (``layer0..4`` and ``encoder.0..4``); the
    copies are checked to be equal and one is kept.

    Raises:
        ValueError: an unknown key, or the two copies of a weight differ.
    """
    state = _strip(state)
    out: Dict[str, torch.Tensor] = {}
    # VGG-16-BN (PFENet's split, get_vgg16_layer): layer_s.j are plain features modules
    vgg = 'layer1.0.weight' in state or 'encoder.1.0.weight' in state

    def put(key, value, source):
        if key in out and not torch.equal(out[key], value):
            raise ValueError(f'{source}: BAM checkpoint holds two different copies of {key}')
        out[key] = value

    for key, value in state.items():
        parts = key.split('.')
        if parts[0] == 'encoder':  # encoder.i == layer_i
            parts = [f'layer{parts[1]}'] + parts[2:]
        head = parts[0]
        if vgg and re.fullmatch(r'layer[0-4]', head):
            index = _VGG16_STAGES[int(head[-1])] + int(parts[1])
            put('backbone.' + '.'.join(['features', str(index)] + parts[2:]), value, key)
        elif head == 'layer0':
            if parts[1] not in _LAYER0:
                raise ValueError(f'unexpected key {key!r} in BAM layer0')
            put('backbone.' + '.'.join([_LAYER0[parts[1]]] + parts[2:]), value, key)
        elif re.fullmatch(r'layer[1-4]', head):
            put('backbone.' + '.'.join(parts), value, key)
        elif head == 'ppm':  # ppm.features.i.{1: conv, 2: bn}
            branch, layer = parts[2], parts[3]
            module = {'1': 'conv', '2': 'bn'}.get(layer)
            if parts[1] != 'features' or module is None:
                raise ValueError(f'unexpected key {key!r} in BAM ppm')
            put(f'decode_head.psp_modules.{branch}.1.{module}.' + '.'.join(parts[4:]), value,
                key)
        elif head == 'cls':  # cls.{0: conv, 1: bn, 4: classifier}
            target = {'0': 'decode_head.bottleneck.conv', '1': 'decode_head.bottleneck.bn',
                      '4': 'decode_head.conv_seg'}.get(parts[1])
            if target is None:
                raise ValueError(f'unexpected key {key!r} in BAM cls')
            put(target + '.' + '.'.join(parts[2:]), value, key)
        else:
            raise ValueError(f'unexpected key {key!r} for a BAM PSPNet')
    return out


# BAM's meta learner modules -> ASPPFewShotHead (decode_head.meta_head.*)
_BAM_META = (
    (r'down_(query|supp)\.0\.', r'meta_head.down_\1.0.conv.'),
    (r'init_merge\.0\.', r'meta_head.init_merge.conv.'),
    (r'ASPP_meta\.layer6_0\.0\.', r'meta_head.aspp.image_pool.conv.'),
    (r'ASPP_meta\.layer6_([1-4])\.0\.',  # layer6_i -> branches.(i - 1)
     lambda m: f'meta_head.aspp.branches.{int(m.group(1)) - 1}.conv.'),
    (r'res1_meta\.0\.', r'meta_head.res1_meta.conv.'),
    (r'res2_meta\.0\.', r'meta_head.res2_meta.0.conv.'),
    (r'res2_meta\.2\.', r'meta_head.res2_meta.1.conv.'),
    (r'cls_meta\.0\.', r'meta_head.cls_meta.conv.'),
    (r'cls_meta\.3\.', r'meta_head.conv_seg.'),
    (r'(gram_merge|cls_merge|kshot_rw)\.', r'\1.'),
)


def convert_bam(state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """A trained BAM (chunbolang/BAM ``OneModel``: ``{'state_dict': ...}``, ``module.``
    keys; ResNet-50 or VGG-16-BN backbone) -> mmfss's ``configs/bam`` model: ``backbone.*``, the base
    learner (``learner_base`` = the PSPNet's ``ppm`` and ``cls``) as
    ``decode_head.base_learner.*``, the meta learner as ``decode_head.meta_head.*``
    (:class:`~mmfss.models.ASPPFewShotHead`) and ``gram_merge``, ``cls_merge``,
    ``kshot_rw`` of :class:`~mmfss.models.EnsembleFewShotHead`. Every key is mapped.

    Raises:
        ValueError: a key is not one of BAM's, or the two copies of a backbone weight differ.
    """
    state = _strip(state)
    psp: Dict[str, torch.Tensor] = {}
    out: Dict[str, torch.Tensor] = {}
    for key, value in state.items():
        parts = key.split('.')
        if re.fullmatch(r'layer[0-4]', parts[0]):
            psp[key] = value
        elif parts[0] == 'learner_base':  # Sequential(ppm, cls)
            psp[('ppm.' if parts[1] == '0' else 'cls.') + '.'.join(parts[2:])] = value
        else:
            out['decode_head.' + _rename(key, _BAM_META, 'a BAM model')] = value
    for key, value in convert_bam_pspnet(psp).items():
        out[key.replace('decode_head.', 'decode_head.base_learner.', 1)
            if key.startswith('decode_head.') else key] = value
    return out


_HDMNET_HEAD = (
    (r'down_(query|supp)\.0\.(.*)', r'meta_head.down_\1.0.conv.\2'),
    (r'(query|supp)_merge\.0\.(.*)', r'meta_head.\1_merge.conv.\2'),
    (r'transformer\.mix_transformer\.cls\.4\.(.*)', r'meta_head.conv_seg.\1'),
    (r'transformer\.mix_transformer\.(.*)\.attn\.attn\.(linear_[qkvo]\.weight)',
     r'meta_head.transformer.\1.attn.\2'),
    (r'transformer\.mix_transformer\.(.*)', r'meta_head.transformer.\1'),
    (r'(gram_merge|cls_merge)\.weight', r'\1.weight'),
    (r'kshot_rw\.(.*)', r'kshot_rw.\1'),
)


def convert_hdmnet(state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """A trained HDMNet (Pbihao/HDMNet ``OneModel``: ``{'state_dict': ...}``, ``module.``
    keys, ResNet-50 or VGG-16-BN) or PI-CLIP (vangjin/PI-CLIP, the same modules; its CLIP
    model is loaded from CLIP's own file, not from here) -> mmfss's ``configs/hdmnet``
    model: the base-class PSPNet (``layer0..4``, ``ppm``, ``cls.0/1`` and
    ``base_learnear.2``) as ``backbone.*`` and ``decode_head.base_learner.*``, the meta
    learner as ``decode_head.meta_head.*``
    (:class:`~mmfss.models.HierarchicalMatchingHead`; HDMNet's ``attn.attn.linear_*`` of
    mmcv's attention wrapper become ``attn.linear_*``, ``cls.4`` the ``conv_seg``) and
    ``gram_merge``, ``cls_merge``, ``kshot_rw`` of
    :class:`~mmfss.models.EnsembleFewShotHead`. Every key is mapped.

    Raises:
        ValueError: a key is not one of HDMNet's.
    """
    psp: Dict[str, torch.Tensor] = {}
    out: Dict[str, torch.Tensor] = {}
    for key, value in _strip(state).items():
        parts = key.split('.')
        if re.fullmatch(r'layer[0-4]', parts[0]) or parts[0] == 'ppm':
            psp[key] = value
        elif parts[0] == 'cls' and parts[1] in ('0', '1'):
            psp[key] = value
        elif parts[0] == 'base_learnear' and parts[1] == '2':
            psp['cls.4.' + '.'.join(parts[2:])] = value
        elif parts[0].startswith('clip_model'):
            continue  # PI-CLIP's CLIP copy: mmfss loads CLIP from its own file
        else:
            out['decode_head.' + _rename(key, _HDMNET_HEAD, 'an HDMNet model')] = value
    for key, value in convert_bam_pspnet(psp).items():
        out[key.replace('decode_head.', 'decode_head.base_learner.', 1)
            if key.startswith('decode_head.') else key] = value
    return out


def convert_hsnet(state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """A trained HSNet (juhongm999/hsnet: a plain state dict of its DataParallel model,
    ``module.backbone.*`` torchvision ResNet or VGG-16, ``module.hpn_learner.*``) -> mmfss's
    ``configs/hsnet`` model: ``backbone.*`` (``HypercolumnResNet``: torchvision's names are
    mmseg's ResNet's; ``HypercolumnVGG``: torchvision's ``features.N``; the ImageNet ``fc``
    / ``classifier`` is dropped) and ``decode_head.*``
    (:class:`~mmfss.models.HypercorrelationHead`, HSNet's module names).

    Raises:
        ValueError: a key is not one of HSNet's.
    """
    out: Dict[str, torch.Tensor] = {}
    for key, value in _strip(state).items():
        if key.startswith('backbone.'):
            if key.startswith('backbone.fc.'):
                continue
            if key.startswith('backbone.classifier.'):  # VGG-16's ImageNet classifier
                continue
            out[key] = value  # ResNet: mmseg's names; VGG-16: features.N, as HypercolumnVGG
        elif key.startswith('hpn_learner.'):
            out['decode_head.' + key[len('hpn_learner.'):]] = value
        else:
            raise ValueError(f'unexpected key {key!r} for an HSNet model')
    return out


def convert_dinov2(state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """DINOv2's released ViT (facebookresearch/dinov2 ``dinov2_vit{s,b,l}14[_reg4]_pretrain.pth``:
    a plain state dict of ``DinoVisionTransformer``) -> mmfss's ``DINOv2`` backbone (the same
    names, no ``backbone.`` prefix). The unused ``mask_token`` (DINOv2's masked-image
    training) is dropped; chunked blocks (``blocks.<chunk>.<i>.*``, ``block_chunks > 0``) are
    unchunked.

    Raises:
        ValueError: a key is not one of DINOv2's (e.g. SwiGLU FFNs of ViT-g, not supported).
    """
    out: Dict[str, torch.Tensor] = {}
    known = re.compile(r'(patch_embed\.proj\.(weight|bias)|cls_token|pos_embed|register_tokens|'
                       r'norm\.(weight|bias)|blocks\.\d+\.(norm1|norm2|attn\.qkv|attn\.proj|'
                       r'mlp\.fc1|mlp\.fc2)\.(weight|bias)|blocks\.\d+\.(ls1|ls2)\.gamma)')
    for key, value in _strip(state).items():
        if key == 'mask_token':
            continue
        key = re.sub(r'^blocks\.\d+\.(\d+)\.', r'blocks.\1.', key)  # unchunk
        if not known.fullmatch(key):
            raise ValueError(f'unexpected key {key!r} for a DINOv2 ViT')
        out[key] = value
    return out


def convert_foundationfss(state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """A trained FoundationFSS (DUT-CSJ/FoundationFSS ``best_model.pt``: ``{'net': ...}``, a
    DataParallel state dict with ``module.backbone.*``, DINOv2's hub ViT, and
    ``module.hpn_learner.*``) -> mmfss's ``configs/foundationfss`` model: ``backbone.*``
    (:func:`convert_dinov2`) and ``decode_head.*`` (:class:`~mmfss.models.LayerCorrelationHead`
    keeps FoundationFSS's module names).

    Raises:
        ValueError: a key is not one of FoundationFSS's.
    """
    if isinstance(state, dict) and isinstance(state.get('net'), dict):
        state = state['net']
    state = _strip(state)
    backbone = {k[len('backbone.'):]: v for k, v in state.items() if k.startswith('backbone.')}
    out = {f'backbone.{k}': v for k, v in convert_dinov2(backbone).items()}
    for key, value in state.items():
        if key.startswith('backbone.'):
            continue
        if not key.startswith('hpn_learner.'):
            raise ValueError(f'unexpected key {key!r} for a FoundationFSS model')
        out['decode_head.' + key[len('hpn_learner.'):]] = value
    return out


def _unfold_order(x: torch.Tensor) -> torch.Tensor:
    """Swin's patch merging: the official code concatenates the 2x2 neighbours as
    (row 0, col 0), (row 1, col 0), (row 0, col 1), (row 1, col 1), each a block of C
    channels; mmseg's ``PatchMerging`` unfolds them as channel-major ``c * 4 + (2 * row +
    col)``. Reorders the last dimension (4C) of a weight or norm parameter from the first
    layout to the second."""
    lead, four_c = x.shape[:-1], x.shape[-1]
    blocks = x.reshape(*lead, 4, four_c // 4)[..., [0, 2, 1, 3], :]  # neighbour order
    return blocks.transpose(-1, -2).reshape(*lead, four_c)


def convert_swin(state: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """The official Swin Transformer release (microsoft/Swin-Transformer,
    ``swin_base_patch4_window12_384_22k.pth``; ``{'model': ...}``) -> mmseg's
    ``SwinTransformer`` state dict (no ``backbone.`` prefix).

    ``layers.i`` -> ``stages.i``; a block's ``attn.*`` -> ``attn.w_msa.*``, ``mlp.fc1`` ->
    ``ffn.layers.0.0``, ``mlp.fc2`` -> ``ffn.layers.1``; ``patch_embed.proj`` ->
    ``patch_embed.projection``; the patch merging's ``reduction``/``norm`` reordered for
    mmseg's unfold (:func:`_unfold_order`); the final ``norm`` -> ``norm3`` (the norm of
    the last output; mmseg's norms of the other outputs are not in the release and start as
    identities); the classifier ``head`` and the shifted-window ``attn_mask`` buffers
    (recomputed by mmseg) are dropped.

    Raises:
        ValueError: an unknown key.
    """
    if isinstance(state, dict) and isinstance(state.get('model'), dict):
        state = state['model']
    out: Dict[str, torch.Tensor] = {}
    for key, value in _strip(state).items():
        if key.startswith('head.') or key.endswith('.attn_mask'):
            continue
        if key.startswith('patch_embed.'):
            out[key.replace('patch_embed.proj.', 'patch_embed.projection.')] = value
        elif key.startswith('norm.'):
            out['norm3.' + key[len('norm.'):]] = value
        elif re.match(r'layers\.\d+\.downsample\.(reduction|norm)\.', key):
            out['stages' + key[len('layers'):]] = _unfold_order(value)
        elif re.match(r'layers\.\d+\.blocks\.\d+\.', key):
            new = ('stages' + key[len('layers'):]).replace('.attn.', '.attn.w_msa.')
            new = new.replace('.mlp.fc1.', '.ffn.layers.0.0.').replace('.mlp.fc2.',
                                                                      '.ffn.layers.1.')
            if '.mlp.' in new:
                raise ValueError(f'unexpected key {key!r} for a Swin Transformer')
            out[new] = value
        else:
            raise ValueError(f'unexpected key {key!r} for a Swin Transformer')
    return out


def convert_file(src: str, dst: str, convert) -> Dict[str, torch.Tensor]:
    """Read a reference checkpoint, convert its state dict, save ``{'state_dict': ...,
    'meta': ...}`` to ``dst`` (atomically; folders created) and return the state dict.

    Raises:
        FileNotFoundError: ``src`` does not exist.
        ValueError: ``src`` is no checkpoint, or its keys are not the reference's.
    """
    from .atomic_io import atomic_write
    if not osp.isfile(src):
        raise FileNotFoundError(f'checkpoint {src} does not exist')
    try:
        state = torch.load(src, map_location='cpu', weights_only=True)
    except Exception:  # older checkpoints may pickle more than tensors; the user named it
        try:
            state = torch.load(src, map_location='cpu', weights_only=False)
        except Exception as err:
            raise ValueError(f'{src} is not a PyTorch checkpoint ({type(err).__name__}: '
                             f'{err})') from err
    try:
        converted = convert(state)
    except ValueError as err:
        raise ValueError(f'{src}: {err}') from err
    meta = dict(converted_from=osp.basename(src), converter=convert.__name__)
    atomic_write(dst, lambda tmp: torch.save(dict(state_dict=converted, meta=meta), tmp))
    print(f'{src} -> {dst}: {len(converted)} tensors '
          f'({sum(v.numel() for v in converted.values() if v.is_floating_point()):,} values)')
    return converted


# The files the configs expect under pretrain/: the reference's file, where it is, and the
# conversion.
REFERENCE_FILES = {
    'pretrain/pfenet_resnet50_v2.pth': dict(
        file='resnet50_v2.pth', what="PFENet's ImageNet ResNet-50", where=PFENET_RESNET_URL,
        converter='pfenet_resnet2mmfss.py'),
    'pretrain/pfenet_resnet101_v2.pth': dict(
        file='resnet101_v2.pth', what="PFENet's ImageNet ResNet-101", where=PFENET_RESNET_URL,
        converter='pfenet_resnet2mmfss.py'),
}
SWIN_URL = ('https://github.com/microsoft/Swin-Transformer (README, "ImageNet-22K '
            'pretrained Swin-B" at 384x384)')
MMSEG_PRETRAIN_URL = 'https://github.com/open-mmlab/mmsegmentation (configs/{}/README.md)'
REFERENCE_FILES['pretrain/swin_base_patch4_window12_384_22k.pth'] = dict(
    file='swin_base_patch4_window12_384_22k.pth',
    what='Swin-B, ImageNet-22K, 384x384 (HSNet\'s and DCAMA\'s backbone)', where=SWIN_URL,
    converter='swin2mmfss.py',
    alternative=('or mmseg\'s converted copy swin_base_patch4_window12_384_22k_20220317-'
                 'e5c09f74.pth (' + MMSEG_PRETRAIN_URL.format('swin') + '), saved there '
                 'as it is'))
DINOV2_URL = 'https://dl.fbaipublicfiles.com/dinov2/dinov2_vit{0}14/dinov2_vit{0}14_pretrain.pth'
for _size, _name in (('s', 'ViT-S/14'), ('b', 'ViT-B/14'), ('l', 'ViT-L/14')):
    REFERENCE_FILES[f'pretrain/dinov2_vit{_size}14.pth'] = dict(
        file=f'dinov2_vit{_size}14_pretrain.pth', what=f"DINOv2's {_name} (LVD-142M)",
        where=DINOV2_URL.format(_size), converter='dinov2_to_mmfss.py')
REFERENCE_FILES['pretrain/mit_b5.pth'] = dict(
    file='mit_b5_20220624-658746d9.pth', what="SegFormer's MiT-b5, ImageNet-1K, in mmseg's "
    'layout', where=MMSEG_PRETRAIN_URL.format('segformer'), converter=None)
BAM_MODELS_URL = 'https://github.com/chunbolang/BAM (README, "Testing": the trained models)'
for _data in ('pascal', 'coco'):
    for _i in range(4):
        for _k in (1, 5):
            REFERENCE_FILES[f'pretrain/bam_resnet50_{_data}_split{_i}_{_k}shot.pth'] = dict(
                file=f'exp/{_data}/BAM/split{_i}/resnet50/snapshot/<checkpoint>.pth ({_k}-shot)',
                what=f"BAM's released ResNet-50 {_k}-shot model of {_data} fold {_i}",
                where=BAM_MODELS_URL, converter='bam2mmfss.py')
HSNET_MODELS_URL = ('https://github.com/juhongm999/hsnet (README, "Trained models": '
                    'the logs folders)')
TORCHVISION_URL = 'https://download.pytorch.org/models/{}'
REFERENCE_FILES['pretrain/vgg16-397923af.pth'] = dict(
    file='vgg16-397923af.pth', what="torchvision's ImageNet VGG-16 (HSNet's VGG backbone)",
    where=TORCHVISION_URL.format('vgg16-397923af.pth'), converter=None)
for _depth, _file in ((50, 'resnet50-0676ba61.pth'), (101, 'resnet101-63fe2227.pth')):
    REFERENCE_FILES[f'pretrain/{_file}'] = dict(
        file=_file, what=f"torchvision's ImageNet ResNet-{_depth} (HSNet's backbone weights)",
        where=TORCHVISION_URL.format(_file), converter=None)
for _data, _folds in (('pascal', range(4)), ('coco', range(4)), ('fss', [None])):
    for _i in _folds:
        _name = _data if _i is None else f'{_data}_fold{_i}'
        REFERENCE_FILES[f'pretrain/hsnet_resnet50_{_name}.pth'] = dict(
            file=f'<the {_name} ResNet-50 log folder>/best_model.pt',
            what=f"HSNet's released ResNet-50 model of {_name}", where=HSNET_MODELS_URL,
            converter='hsnet2mmfss.py')
for _net, _name in (('resnet101', 'ResNet-101'), ('vgg16', 'VGG-16')):
    for _i in range(4):
        REFERENCE_FILES[f'pretrain/hsnet_{_net}_pascal_fold{_i}.pth'] = dict(
            file=f'<the pascal fold {_i} {_name} log folder>/best_model.pt',
            what=f"HSNet's released {_name} model of PASCAL-5i fold {_i}",
            where=HSNET_MODELS_URL, converter='hsnet2mmfss.py')
REFERENCE_FILES['pretrain/pfenet_vgg16_bn.pth'] = dict(
    file='vgg16_bn.pth', what="PFENet's ImageNet VGG-16-BN", where=PFENET_RESNET_URL,
    converter='pfenet2mmfss.py --backbone-only')
PFENET_MODELS_URL = ('https://github.com/dvlab-research/PFENet (README, "Run Demo / Test '
                     'with Pretrained Models")')
for _i in range(4):
    REFERENCE_FILES[f'pretrain/pfenet_resnet50_pascal_split{_i}.pth'] = dict(
        file=f'exp/pascal/split{_i}_resnet50/model/<checkpoint>.pth',
        what=f"PFENet's released ResNet-50 model of PASCAL-5i fold {_i}",
        where=PFENET_MODELS_URL, converter='pfenet2mmfss.py')
    REFERENCE_FILES[f'pretrain/pfenet_vgg16_coco_split{_i}.pth'] = dict(
        file=f'exp/coco/split{_i}_vgg/model/<checkpoint>.pth',
        what=f"PFENet's released VGG-16 model of COCO-20i fold {_i}",
        where=PFENET_MODELS_URL, converter='pfenet2mmfss.py')
for _data in ('pascal', 'coco'):
    for _i in range(4):
        for _net, _name in (('resnet50', 'ResNet-50'), ('vgg', 'VGG-16')):
            REFERENCE_FILES[f'pretrain/bam_pspnet_{_net}_{_data}_split{_i}.pth'] = dict(
                file=f'PSPNet/{_data}/split{_i}/{_net}/best.pth',
                what=f"BAM's {_name} PSPNet base learner of {_data} fold {_i}",
                where=BAM_PSPNET_URL, converter='bam_pspnet2mmfss.py')
            for _k in (1, 5):
                REFERENCE_FILES[f'pretrain/bam_{_net}_{_data}_split{_i}_{_k}shot.pth'] = dict(
                    file=(f'exp/{_data}/BAM/split{_i}/{_net}/snapshot/<checkpoint>.pth '
                          f'({_k}-shot)'),
                    what=f"BAM's released {_name} {_k}-shot model of {_data} fold {_i}",
                    where=BAM_MODELS_URL, converter='bam2mmfss.py')
HDMNET_MODELS_URL = ('https://github.com/Pbihao/HDMNet (README, "Models": the trained COCO '
                     'models)')
for _i in range(4):
    for _k in (1, 5):
        REFERENCE_FILES[f'pretrain/hdmnet_resnet50_coco_split{_i}_{_k}shot.pth'] = dict(
            file=f'exp/coco/HDMNet/split{_i}/resnet50/snapshot/<checkpoint>.pth ({_k}-shot)',
            what=f"HDMNet's released ResNet-50 {_k}-shot model of COCO-20i fold {_i}",
            where=HDMNET_MODELS_URL, converter='hdmnet2mmfss.py')
FOUNDATIONFSS_URL = ('https://github.com/DUT-CSJ/FoundationFSS/releases/download/weights/'
                     'model_weights.zip')
for _i in range(4):
    REFERENCE_FILES[f'pretrain/foundationfss_dinov2_pascal_fold{_i}.pth'] = dict(
        file=f'<the PASCAL-5i fold {_i} best_model.pt of model_weights.zip>',
        what=f"FoundationFSS's released DINOv2 model of PASCAL-5i fold {_i}",
        where=FOUNDATIONFSS_URL, converter='foundationfss2mmfss.py')


def reference_file_help(path: str) -> Optional[str]:
    """What to download and how to convert it, for a file of :data:`REFERENCE_FILES`."""
    key = osp.normpath(path).replace(osp.sep, '/')
    for name, info in REFERENCE_FILES.items():
        if key == name or key.endswith('/' + name):
            if not info.get('converter'):
                return (f'download {info["file"]} ({info["what"]}) from {info["where"]} and '
                        f'save it as {path}')
            text = (f'download {info["file"]} ({info["what"]}) from {info["where"]} and '
                    f'convert it: python tools/model_converters/{info["converter"]} '
                    f'{info["file"]} {path}')
            return text + (f'; {info["alternative"]}' if info.get('alternative') else '')
    return None


def pretrained_checkpoints(cfg) -> List[str]:
    """The ``Pretrained`` checkpoints of a config's ``model`` (``init_cfg`` anywhere in it,
    and ``base_learner_init``) that are local paths (not ``open-mmlab://``, ``http``...)."""
    found: List[str] = []

    def walk(node):
        if isinstance(node, dict):
            if node.get('type') == 'Pretrained' and isinstance(node.get('checkpoint'), str):
                found.append(node['checkpoint'])
            for value in node.values():
                walk(value)
        elif isinstance(node, (list, tuple)):
            for value in node:
                walk(value)

    walk(cfg.get('model', {}))
    return [c for c in dict.fromkeys(found) if '://' not in c]


def check_reference_files(paths: Iterable[str]) -> None:
    """Raise a FileNotFoundError naming the first missing checkpoint, with what to download
    and how to convert it when it is one of the references' files."""
    for path in paths:
        if osp.isfile(path):
            continue
        hint = reference_file_help(path)
        raise FileNotFoundError(f'checkpoint {path} (model init_cfg) does not exist'
                                + (f': {hint}' if hint else ': train the model that writes '
                                   'it first (see the config\'s comment) or set the key to '
                                   'an existing file'))
