"""Write output files atomically, so an interrupted run never leaves a half-written file."""
import json
import os
import os.path as osp
import tempfile
from typing import Callable

import numpy as np
from PIL import Image

__all__ = ['atomic_write', 'save_png', 'dump_json']


def atomic_write(path: str, write: Callable[[str], None], overwrite: bool = True) -> None:
    """Call ``write(tmp_path)`` on a temporary file beside ``path``, then rename it to ``path``.

    Args:
        path (str): Final file path; its folder is created if needed.
        write (Callable[[str], None]): Writes the whole file to the path it receives.
        overwrite (bool): If False, an existing ``path`` raises :class:`FileExistsError`.
    """
    if not overwrite and osp.exists(path):
        raise FileExistsError(f'{path} exists (pass overwrite to replace it)')
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    base, ext = osp.splitext(osp.basename(path))
    fd, tmp = tempfile.mkstemp(prefix=f'.{base}.', suffix=f'.partial{ext}', dir=folder)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def save_png(path: str, array: np.ndarray, overwrite: bool = True) -> None:
    """Save a uint8 [H, W] (grey levels / label values) or [H, W, 3] array as a PNG, atomically.
    """
    if array.dtype != np.uint8:
        raise TypeError(f'{path}: expected a uint8 array, got {array.dtype}')
    # compress_level 1: a quarter of the default's time on panels, lossless all the same
    atomic_write(path, lambda tmp: Image.fromarray(array).save(tmp, format='PNG',
                                                               compress_level=1), overwrite)


def dump_json(obj, path: str, overwrite: bool = True, **kwargs) -> None:
    """Write ``obj`` as JSON to ``path``, atomically (``kwargs`` go to :func:`json.dump`)."""

    def write(tmp: str) -> None:
        with open(tmp, 'w') as f:
            json.dump(obj, f, **kwargs)

    atomic_write(path, write, overwrite)
