"""Per-image class pixel counts of a segmentation dataset, checked once and cached."""
import hashlib
import json
import os
import os.path as osp
from typing import Callable, Dict, List, Optional, Sequence, Union

import mmengine
import numpy as np
from PIL import Image

from mmfss.utils.atomic_io import dump_json

__all__ = [
    'default_cache_dir', 'read_label_map', 'read_grey_levels', 'check_image_file', 'scan_label_stats'
]

ClassCounts = Dict[int, int]
UNREADABLE = '__unreadable__'  # cache entry of a sample skipped as unreadable


def default_cache_dir() -> str:
    """``$MMFSS_CACHE_DIR`` or ``${XDG_CACHE_HOME:-~/.cache}/mmfss``."""
    return os.environ.get('MMFSS_CACHE_DIR') or osp.join(
        os.environ.get('XDG_CACHE_HOME') or osp.expanduser('~/.cache'), 'mmfss')


def read_label_map(path: str) -> np.ndarray:
    """Read a label PNG as stored (palette indices for ``P`` images), naming the file on error.

    Returns:
        np.ndarray: [H, W] or [H, W, C] array of the stored values.
    """
    try:
        with Image.open(path) as img:
            return np.asarray(img)
    except (OSError, ValueError, SyntaxError) as err:
        raise OSError(f'cannot read label map {path}: {err}') from err


def read_grey_levels(path: str) -> np.ndarray:
    """A binary-mask file as HSNet reads FSS-1000's: PIL's ``convert('L')`` of the file
    (``data/fss.py`` ``read_mask``), whatever its mode (L, P through its palette, RGB and
    RGBA with PIL's integer luma weights, 1-bit as 0/255, 16-bit as PIL converts it).

    Returns:
        np.ndarray: [H, W] uint8 grey levels.
    """
    try:
        with Image.open(path) as img:
            return np.asarray(img.convert('L'))
    except (OSError, ValueError, SyntaxError) as err:
        raise OSError(f'cannot read mask {path}: {err}') from err


def check_image_file(path: str) -> None:
    """Raise an error naming ``path`` unless it exists and has a readable image header."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'image {path} does not exist')
    try:
        with Image.open(path) as img:
            img.size  # noqa: B018  parses the header
    except (OSError, ValueError, SyntaxError) as err:
        raise OSError(f'cannot read image {path}: {err}') from err


def _fingerprint(data_list: Sequence[dict], key: str) -> str:
    digest = hashlib.sha1(key.encode())
    for info in data_list:
        for field in ('img_path', 'seg_map_path'):
            path = info[field]
            try:
                st = os.stat(path)
            except FileNotFoundError:
                raise FileNotFoundError(
                    f'{field} {path} of sample {info["name"]} does not exist') from None
            digest.update(f'{path}\0{st.st_size}\0{st.st_mtime_ns}\n'.encode())
    return digest.hexdigest()


def scan_label_stats(data_list: Sequence[dict],
                     count_fn: Callable[[dict], ClassCounts],
                     key: str,
                     cache_dir: Optional[str] = None,
                     skip_unreadable: bool = False,
                     decode_images: bool = False) -> List[Union[ClassCounts, str]]:
    """Check every image and label of a dataset and count the pixels of each class.

    Every image must exist with a readable header and every label map must be readable and
    valid for ``count_fn`` (which raises naming the file otherwise). The result is cached
    under ``cache_dir/label_stats/<sha1>.json``, keyed by ``key`` and by the path, size and
    modification time of every file, so an edited or replaced file is scanned again. The
    cache file is written atomically.

    Args:
        data_list (Sequence[dict]): Samples with ``name``, ``img_path`` and ``seg_map_path``.
        count_fn (Callable[[dict], dict[int, int]]): Reads the label map of one sample and
            returns ``{class id: pixel count}`` of the classes it holds.
        key (str): Identifies everything ``count_fn`` depends on besides the files.
        cache_dir (str, optional): Cache root; None disables the cache.
        skip_unreadable (bool): A sample whose image or label cannot be read gets the
            message naming the file (a ``str``) in place of its counts, instead of raising.
        decode_images (bool): Decode every image (:func:`~mmfss.datasets.image_reader.
            probe_image`), not only its header: finds truncated and damaged files.

    Returns:
        list[dict[int, int] | str]: The counts of each sample, in ``data_list`` order (or,
        with ``skip_unreadable``, why the sample cannot be read).
    """
    from .image_reader import UnreadableImageError, probe_image
    cache_path = None
    if skip_unreadable or decode_images:
        key = f'{key}|skip={skip_unreadable}|decode={decode_images}'
    if cache_dir is not None:
        cache_path = osp.join(cache_dir, 'label_stats', _fingerprint(data_list, key) + '.json')
        if osp.isfile(cache_path):
            with open(cache_path) as f:
                cached = json.load(f)
            return [counts[UNREADABLE] if UNREADABLE in counts else
                    {int(c): int(n) for c, n in counts.items()} for counts in cached]
    stats: List[Union[ClassCounts, str]] = []
    progress = mmengine.ProgressBar(len(data_list)) if len(data_list) > 5000 else None
    for info in data_list:
        try:
            check_image_file(info['img_path'])
            if decode_images:
                reason = probe_image(info['img_path'])
                if reason is not None:
                    raise UnreadableImageError(reason)
            if not osp.isfile(info['seg_map_path']):
                raise FileNotFoundError(f'label map {info["seg_map_path"]} of sample '
                                        f'{info["name"]} does not exist')
            stats.append(count_fn(info))
        except (OSError, ValueError) as err:
            if not skip_unreadable:
                raise
            stats.append(str(err))
        if progress is not None:
            progress.update()
    if cache_path is not None:
        dump_json([{UNREADABLE: s} if isinstance(s, str) else {str(c): n for c, n in s.items()}
                   for s in stats], cache_path)
    return stats
