"""CLIP models from an open_clip pretrained tag or from a local file.

DOTGraph and PI-CLIP start from OpenAI's CLIP ViT-B/16. Machines without network (clusters,
this project's CI) load it from a file: OpenAI's release archive (``ViT-B-16.pt``, a
TorchScript archive, as linked from OpenAI's ``clip/clip.py``) or an open_clip state dict
(``open_clip_pytorch_model.bin`` / ``.safetensors`` of the Hugging Face hub model
``timm/vit_base_patch16_clip_224.openai``, or ``torch.save(model.state_dict())``).
"""
import os
import os.path as osp
import zipfile
from typing import Dict, Optional

import torch

__all__ = ['build_clip', 'load_clip_state_dict', 'is_checkpoint_path', 'is_openai_archive',
           'CLIP_DOWNLOADS']

# where the weights of each architecture's 'openai' tag can be downloaded by hand
CLIP_DOWNLOADS = {
    'ViT-B-16': ('https://openaipublic.azureedge.net/clip/models/'
                 '5806e77cd80f8b59890b7e101eabd078d9fb84e6937f9e85e4ecb61988df416f/ViT-B-16.pt '
                 "(OpenAI's archive, as listed in OpenAI's clip/clip.py), or "
                 'open_clip_pytorch_model.bin of https://huggingface.co/timm/'
                 'vit_base_patch16_clip_224.openai'),
}
CHECKPOINT_SUFFIXES = ('.pt', '.pth', '.bin', '.safetensors', '.ckpt')


def is_checkpoint_path(pretrained: str) -> bool:
    """Whether ``pretrained`` names a file (an existing path, a path with a folder or a
    checkpoint suffix) rather than an open_clip tag."""
    return (osp.exists(pretrained) or os.sep in pretrained or '/' in pretrained
            or pretrained.lower().endswith(CHECKPOINT_SUFFIXES))


def is_openai_archive(path: str) -> bool:
    """Whether ``path`` is a TorchScript archive (the format of OpenAI's CLIP releases)."""
    return _is_torchscript(path)


def _is_torchscript(path: str) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as zf:
        return any(n.endswith('constants.pkl') or n.split('/')[-2:-1] == ['code']
                   for n in zf.namelist())


def load_clip_state_dict(path: str) -> Dict[str, torch.Tensor]:
    """The state dict of a CLIP checkpoint file: OpenAI's TorchScript archive, a
    safetensors file, or a (``{'state_dict': ...}``-wrapped) open_clip state dict.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is none of these.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'CLIP checkpoint {path} does not exist')
    if path.endswith('.safetensors'):
        from safetensors.torch import load_file
        return load_file(path)
    if _is_torchscript(path):
        state = torch.jit.load(path, map_location='cpu').state_dict()
        # OpenAI's archives carry these as buffers of the scripted model
        for key in ('input_resolution', 'context_length', 'vocab_size'):
            state.pop(key, None)
        return dict(state)
    try:
        state = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as err:  # pickle/zip errors of various types
        raise ValueError(f'CLIP checkpoint {path} is neither an OpenAI archive nor a state '
                         f'dict ({type(err).__name__}: {err})') from err
    if isinstance(state, dict) and isinstance(state.get('state_dict'), dict):
        state = state['state_dict']
    if not isinstance(state, dict):
        raise ValueError(f'CLIP checkpoint {path} holds a {type(state).__name__}, not a state '
                         'dict')
    return {k[7:] if k.startswith('module.') else k: v for k, v in state.items()}


def build_clip(model_name: str,
               pretrained: Optional[str],
               model_kwargs: Optional[dict] = None,
               config_key: str = 'pretrained'):
    """An open_clip model with the weights of a tag or a local file.

    Args:
        model_name (str): open_clip architecture, e.g. ``'ViT-B-16'``.
        pretrained (str, optional): An open_clip tag (``'openai'``: downloaded, or found in
            open_clip's cache), a checkpoint file, or None (random weights).
        model_kwargs (dict, optional): ``open_clip.create_model`` keyword arguments.
        config_key (str): How the error messages name the setting (the config key).

    Raises:
        FileNotFoundError: the file does not exist, or the tag's weights cannot be
            downloaded (the message says what to download and which key to set).
        ValueError: the file does not fit the architecture.
    """
    import open_clip
    kwargs = dict(model_kwargs or {})
    where = CLIP_DOWNLOADS.get(model_name, f"the {model_name} weights of open_clip's "
                               f'{pretrained!r} tag (open_clip.list_pretrained())')
    if pretrained and is_checkpoint_path(pretrained):
        if not osp.isfile(pretrained):
            raise FileNotFoundError(
                f'CLIP checkpoint {pretrained} ({config_key}) does not exist: download {where} '
                'and put it there, or set it to the file\'s path')
        model = open_clip.create_model(model_name, pretrained=None, **kwargs)
        state = load_clip_state_dict(pretrained)
        own = model.state_dict()
        missing = sorted(set(own) - set(state))
        unexpected = sorted(set(state) - set(own))
        shapes = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
        if missing or unexpected or shapes:
            raise ValueError(
                f'CLIP checkpoint {pretrained} does not fit open_clip {model_name}: '
                + '; '.join(f'{what}: {", ".join(keys[:4])}' + (' ...' if len(keys) > 4 else '')
                            for what, keys in (('missing', missing), ('unexpected', unexpected),
                                               ('different shape', shapes)) if keys))
        model.load_state_dict(state, strict=True)
        return model
    try:
        return open_clip.create_model(model_name, pretrained=pretrained, **kwargs)
    except (RuntimeError, OSError, ValueError) as err:
        if pretrained and 'not found' in str(err).lower() and 'pretrained' in str(err).lower():
            raise ValueError(f'{pretrained!r} ({config_key}) is neither an open_clip tag of '
                             f'{model_name} ({", ".join(open_clip.list_pretrained_tags_by_model(model_name))}) '
                             'nor a checkpoint file') from err
        raise FileNotFoundError(
            f"CLIP weights {pretrained!r} of {model_name} cannot be loaded ({type(err).__name__}: "
            f'{str(err).splitlines()[0] if str(err) else ""}): without network, download '
            f'{where} and set {config_key} to the file\'s path') from err
