"""Loading checkpoints safely under torch >= 2.6 (``weights_only=True`` by default).

mmengine 0.10.7 writes :class:`~mmengine.logging.HistoryBuffer` objects and numpy arrays and
scalars into checkpoints. torch's weights-only unpickler rejects them, and allow-listing is not
a complete answer: numpy scalars are pickled through ``getattr``, which must never be
allow-listed (it would let a checkpoint call arbitrary attributes). mmfss therefore takes the
narrowest fix that is complete:

1. Checkpoints that mmfss runs write hold plain types only. :class:`PlainCheckpointHook`
   (in every mmfss runtime config) replaces HistoryBuffers, numpy arrays and numpy scalars by
   tagged dicts of tensors and Python numbers before saving, and restores them after loading.
   Such files load with ``weights_only=True``: no trust is needed.
2. Every local checkpoint is first loaded with ``weights_only=True``
   (:func:`load_from_local`, registered as mmengine's loader for local paths).
3. Only a file the user named explicitly (``tools/train.py --resume PATH``, ``load_from``,
   ``tools/test.py CHECKPOINT``, or :func:`trust_checkpoint`) may fall back to
   ``weights_only=False``, with a warning. Any other file that needs it is refused with an
   error that names the file and says how to trust it.
"""
import os.path as osp
import pickle
import warnings
from collections import OrderedDict
from typing import Any, Callable, Optional, Set, Union

import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner import CheckpointLoader

__all__ = [
    'trust_checkpoint', 'is_trusted_checkpoint', 'load_from_local', 'to_plain', 'from_plain',
    'check_state_dict_fits', 'check_checkpoint_fits'
]

_TYPE_KEY = '__mmfss_type__'
_TRUSTED: Set[str] = set()


def _key(path: str) -> str:
    return osp.realpath(osp.expanduser(path))


def trust_checkpoint(path: str) -> None:
    """Allow ``weights_only=False`` as a fallback for one checkpoint file the user named.

    Args:
        path (str): Path of the checkpoint file.
    """
    _TRUSTED.add(_key(path))


def is_trusted_checkpoint(path: str) -> bool:
    """Whether :func:`trust_checkpoint` was called for ``path``."""
    return _key(path) in _TRUSTED


def load_from_local(filename: str,
                    map_location: Optional[Union[str, Callable]] = None) -> Any:
    """Load a local checkpoint with ``weights_only=True``; see the module docstring.

    Args:
        filename (str): Local checkpoint path.
        map_location: Same as :func:`torch.load`.

    Returns:
        The loaded checkpoint (plain containers and tensors).
    """
    filename = osp.expanduser(filename)
    if not osp.isfile(filename):
        raise FileNotFoundError(f'{filename} can not be found.')
    try:
        return torch.load(filename, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        if not is_trusted_checkpoint(filename):
            raise RuntimeError(
                f'Checkpoint {filename!r} holds Python objects other than tensors and plain '
                'containers, so it cannot be loaded with weights_only=True (it was not written '
                'by an mmfss run). If you trust this file, name it explicitly: '
                '`tools/train.py CONFIG --resume PATH`, `load_from=PATH`, '
                '`tools/test.py CONFIG PATH`, or call mmfss.utils.trust_checkpoint(PATH). '
                f'torch said: {str(err).splitlines()[0]}') from err
        warnings.warn(
            f'Loading {filename!r} with weights_only=False because you named it explicitly: '
            'it can run arbitrary code when unpickled; only do this for files you trust.',
            stacklevel=2)
        return torch.load(filename, map_location=map_location, weights_only=False)


CheckpointLoader.register_scheme(prefixes='', loader=load_from_local, force=True)


def check_state_dict_fits(model: torch.nn.Module, checkpoint: Any, name: str,
                          config_name: str) -> dict:
    """The model's state dict from ``checkpoint``, or ``ValueError`` naming what does not fit.

    mmengine's runner loads ``load_from`` with ``strict=False``: a checkpoint of another
    model would leave random weights and the run would report their numbers. The tools
    check every key and shape first.

    Args:
        model (nn.Module): The built model.
        checkpoint: The loaded checkpoint (``{'state_dict': ...}`` or a state dict;
            DataParallel's ``module.`` prefix is removed).
        name (str): The checkpoint file, for messages.
        config_name (str): The config, for messages.

    Returns:
        dict: The state dict, ready for ``load_state_dict(strict=True)``.
    """
    if not isinstance(checkpoint, dict):
        raise ValueError(f'checkpoint {name} holds a {type(checkpoint).__name__}, not a state '
                         'dict')
    state = checkpoint.get('state_dict', checkpoint)
    state = {k[7:] if k.startswith('module.') else k: v for k, v in state.items()}
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    shapes = sorted(k for k in set(own) & set(state)
                    if getattr(own[k], 'shape', None) != getattr(state[k], 'shape', None))
    if missing or unexpected or shapes:
        def few(keys):
            return ', '.join(keys[:5]) + (f' ... ({len(keys)} in all)' if len(keys) > 5 else '')
        problems = [f'{what}: {few(keys)}' for what, keys in (
            ('missing', missing), ('unexpected', unexpected),
            ('different shape', shapes)) if keys]
        raise ValueError(f'checkpoint {name} does not fit the model of {config_name} (was '
                         'it trained with another config?); ' + '; '.join(problems))
    return state


def check_checkpoint_fits(model: torch.nn.Module, path: str, config_name: str) -> None:
    """Load ``path`` on the CPU and :func:`check_state_dict_fits` it (tools/test.py)."""
    try:
        checkpoint = load_from_local(path, map_location='cpu')
    except (RuntimeError, EOFError, pickle.UnpicklingError) as err:
        raise ValueError(f'checkpoint {path} cannot be loaded ({str(err).splitlines()[0]}; '
                         'a truncated download?)') from None
    check_state_dict_fits(model, checkpoint, path, config_name)


def to_plain(obj: Any) -> Any:
    """Recursively replace objects that ``weights_only`` loading rejects by plain types.

    HistoryBuffers and numpy arrays become tagged dicts of tensors, numpy scalars become
    Python numbers, tuples stay tuples. Raises for objects it cannot represent.

    Args:
        obj: A checkpoint (or a part of one).

    Returns:
        The same structure made of dicts, lists, tuples, str, int, float, bool, None, tensors.
    """
    if isinstance(obj, HistoryBuffer):
        log, count = obj.data
        return {_TYPE_KEY: 'HistoryBuffer', 'log': torch.from_numpy(np.array(log)),
                'count': torch.from_numpy(np.array(count)), 'max_length': obj.max_length}
    if isinstance(obj, np.ndarray):
        if obj.dtype == object:
            raise TypeError('cannot store a numpy object array in a plain checkpoint')
        return {_TYPE_KEY: 'ndarray', 'data': torch.from_numpy(np.ascontiguousarray(obj))}
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, dict):
        out = type(obj)() if type(obj) in (dict, OrderedDict) else {}
        for k, v in obj.items():
            out[to_plain(k)] = to_plain(v)
        return out
    if isinstance(obj, (list, tuple)):
        converted = [to_plain(v) for v in obj]
        return converted if isinstance(obj, list) else tuple(converted)
    if obj is None or isinstance(obj, (str, int, float, bool, torch.Tensor, torch.Size,
                                       torch.dtype, torch.device)):
        return obj
    raise TypeError(f'cannot store an object of type {type(obj).__name__} in a plain '
                    'checkpoint; convert it to tensors or Python built-ins first')


def from_plain(obj: Any) -> Any:
    """Invert :func:`to_plain`: rebuild HistoryBuffers and numpy arrays from tagged dicts."""
    if isinstance(obj, dict):
        tag = obj.get(_TYPE_KEY)
        if tag == 'HistoryBuffer':
            return HistoryBuffer(obj['log'].numpy(), obj['count'].numpy(),
                                 max_length=obj['max_length'])
        if tag == 'ndarray':
            return obj['data'].numpy()
        for k in list(obj.keys()):
            obj[k] = from_plain(obj[k])
        return obj
    if isinstance(obj, list):
        return [from_plain(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(from_plain(v) for v in obj)
    return obj
