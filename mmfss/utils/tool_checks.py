"""Checks of what a user hands the tools, each failing with one sentence that names it.

``tools/train.py``, ``tools/test.py``, ``tools/infer.py`` and ``tools/webui.py`` run these
before building anything, catch :class:`ToolInputError` (and the ``FileNotFoundError`` /
``ValueError`` the package raises for bad input) and print ``error: <message>`` with exit
status 2 (:func:`run_tool`), as ``argparse`` does for a bad flag.
"""
import os
import os.path as osp
import sys
import zipfile
from typing import Any, Callable, List, Optional

__all__ = [
    'ToolInputError', 'check_checkpoint_file', 'check_config_file', 'check_device',
    'check_dataset_paths', 'load_tool_config', 'run_tool', 'USER_ERRORS'
]


class ToolInputError(ValueError):
    """An argument, file or value given to a tool is unusable; the message names it."""


# what the tools report as ``error:`` lines instead of tracebacks
USER_ERRORS = (ToolInputError, FileNotFoundError, NotADirectoryError, IsADirectoryError,
               ValueError, TypeError)


def check_config_file(path: str, what: str = 'config') -> None:
    """Raise unless ``path`` is an existing ``.py``/``.json``/``.yaml`` config file."""
    if not osp.isfile(path):
        hint = ''
        folder = osp.dirname(path) or '.'
        if osp.isdir(folder):
            stem = osp.basename(path)[:12]
            near = sorted(f for f in os.listdir(folder) if f.startswith(stem))
            if near:
                hint = f' (similar names in {folder}: {", ".join(near[:3])})'
        raise ToolInputError(f'{what} file {path} does not exist{hint}')
    if not path.endswith(('.py', '.json', '.yaml', '.yml')):
        raise ToolInputError(f'{what} file {path} is not a .py, .json or .yaml config')


def check_checkpoint_file(path: str, what: str = 'checkpoint') -> None:
    """Raise unless ``path`` exists and looks like a PyTorch checkpoint.

    ``torch.save`` writes a zip archive (the default since torch 1.6) or, with
    ``_use_new_zipfile_serialization=False``, a pickle (first byte 0x80); anything else (a
    text file, an HTML error page saved as ``.pth``, a truncated download) is refused here
    instead of failing inside ``torch.load``.
    """
    if not osp.isfile(path):
        from .reference_weights import reference_file_help
        hint = reference_file_help(path)  # a reference's released model: where and how
        raise ToolInputError(f'{what} file {path} does not exist' + (f': {hint}' if hint
                                                                     else ''))
    if zipfile.is_zipfile(path):
        return
    with open(path, 'rb') as f:
        head = f.read(16)
    if head[:4] == b'PK\x03\x04':
        raise ToolInputError(f'{what} file {path} is not a PyTorch checkpoint: it starts as a '
                             'zip archive but its end is missing (a truncated download or '
                             'copy?)')
    if head[:1] != b'\x80':
        shown = head[:12]
        raise ToolInputError(f'{what} file {path} is not a PyTorch checkpoint (neither a zip '
                             f'archive nor a pickle; it starts with {shown!r})')


def check_device(device: str, what: str = '--device') -> str:
    """Return ``device`` if torch can run on it, else raise naming it.

    Accepts what ``torch.device`` accepts (``cpu``, ``cuda``, ``cuda:1``, ``mps``, ...) and
    checks that the accelerator is present and the index exists.
    """
    import torch
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError, ValueError):
        raise ToolInputError(f'{what} {device!r} is not a device: use cpu, cuda or cuda:N') \
            from None
    if parsed.type == 'cuda':
        if not torch.cuda.is_available():
            raise ToolInputError(f'{what} {device}: CUDA is not available on this machine '
                                 '(torch.cuda.is_available() is False); use --device cpu')
        count = torch.cuda.device_count()
        if parsed.index is not None and parsed.index >= count:
            raise ToolInputError(f'{what} {device}: this machine has {count} CUDA device(s) '
                                 f'(cuda:0..cuda:{count - 1})')
    elif parsed.type == 'mps':
        if not (getattr(torch.backends, 'mps', None) and torch.backends.mps.is_available()):
            raise ToolInputError(f'{what} {device}: MPS is not available on this machine')
    elif parsed.type != 'cpu':
        raise ToolInputError(f'{what} {device!r}: only cpu, cuda and mps are supported')
    return device


def check_dataset_paths(cfg: Any, loaders: Optional[List[str]] = None) -> None:
    """Raise naming the first dataloader dataset whose ``data_root`` or ``ann_file`` is missing.

    Run before the Runner is built, so that a config without its data fails with one
    sentence instead of after the environment report. Datasets that generate their data
    (class attribute ``generates_data``, e.g. Shapes-5i) are not checked. ``ann_file`` is
    resolved as mmengine's ``BaseDataset`` resolves it (relative to ``data_root``).

    Args:
        cfg (mmengine.Config | dict): The config.
        loaders (list[str], optional): Dataloader keys to check (default: all three that
            the config has).
    """
    from mmseg.registry import DATASETS

    from .data_root import LOADERS, leaf_datasets
    for loader in loaders or LOADERS:
        section = cfg.get(loader) if hasattr(cfg, 'get') else None
        if not isinstance(section, dict):
            continue
        for dataset, where in leaf_datasets(section.get('dataset'), f'{loader}.dataset'):
            cls = DATASETS.get(dataset.get('type', '')) if isinstance(
                dataset.get('type'), str) else dataset.get('type')
            if cls is not None and getattr(cls, 'generates_data', False):
                continue
            root = dataset.get('data_root')
            name = dataset.get('type', 'dataset')
            if isinstance(root, str) and root and not osp.isdir(root):
                raise ToolInputError(
                    f'data root {root} does not exist ({name} of {where}.data_root): download '
                    'the dataset there (see docs/datasets.md) or pass --data-root DIR')
            ann = dataset.get('ann_file')
            if isinstance(ann, str) and ann:
                path = ann if osp.isabs(ann) or not root else osp.join(root, ann)
                if not osp.isfile(path):
                    raise ToolInputError(f'list file {path} does not exist ({name} of '
                                         f'{where}.ann_file)')


def load_tool_config(path: str, cfg_options: Optional[List[str]] = None,
                     data_root: Optional[str] = None):
    """Load a tool's config: checked file, ``--cfg-options KEY=VALUE ...``, ``--data-root``.

    Args:
        path (str): The config file.
        cfg_options (list[str], optional): ``KEY=VALUE`` strings, parsed as mmengine's
            ``DictAction`` parses them.
        data_root (str, optional): Folder set as every dataloader dataset's ``data_root``
            (see :func:`~mmfss.utils.set_data_root`).

    Returns:
        mmengine.Config: The config.
    """
    import argparse

    from mmengine.config import Config, DictAction

    from .data_root import set_data_root
    check_config_file(path)
    try:
        cfg = Config.fromfile(path)
    except (SyntaxError, ImportError, KeyError, NameError, AttributeError) as err:
        raise ToolInputError(f'config file {path} cannot be loaded: {type(err).__name__}: '
                             f'{err}') from err
    if cfg_options:
        bad = [o for o in cfg_options if '=' not in o]
        if bad:
            raise ToolInputError(f'--cfg-options {bad[0]!r}: expected KEY=VALUE')
        namespace = argparse.Namespace()
        DictAction(option_strings=['--cfg-options'], dest='cfg_options')(
            None, namespace, cfg_options)
        cfg.merge_from_dict(namespace.cfg_options)
    if data_root is not None:
        if not osp.isdir(data_root):
            raise ToolInputError(f'--data-root {data_root} is not a folder')
        set_data_root(cfg, data_root)
    return cfg


def run_tool(main: Callable[[], Optional[int]]) -> int:
    """Run a tool's ``main``: bad input becomes ``error: <message>`` and exit status 2.

    ``MMFSS_TRACEBACK=1`` in the environment re-raises instead (for debugging). The
    warnings a user cannot act on are filtered first (:mod:`mmfss.utils.known_warnings`).
    """
    from .known_warnings import filter_known_warnings
    filter_known_warnings()
    try:
        return main() or 0
    except USER_ERRORS as err:
        if os.environ.get('MMFSS_TRACEBACK') == '1':
            raise
        message = ' '.join(str(err).split('\n')) or type(err).__name__
        print(f'error: {message}', file=sys.stderr)
        return 2
