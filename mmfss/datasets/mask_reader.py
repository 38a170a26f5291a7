"""Read a binary object mask as people save it: one reader for every user-supplied mask.

The inferencer (:class:`~mmfss.apis.FewShotInferencer`, ``tools/infer.py``), the
class-folder dataset (:class:`~mmfss.datasets.ClassFolderDataset`) and the web page read
masks with :func:`read_mask`. A reference protocol's own reading (HSNet's FSS-1000 rule) is
that protocol's and lives in :mod:`mmfss.datasets.protocols`, not here.

Rules, in this order (the reading used is returned in :attr:`MaskReading.rule`):

1. ``mask_value=V`` given: the pixels equal to ``V`` are the object (an int for single-channel
   masks, an ``(R, G, B)`` triple for colour files; array masks in their own channel order);
   for single-channel masks ``ignore_value`` (255) stays ignore unless ``V`` is 255.
   ``threshold=T`` given: the (grey) values ``>= T`` are the object.
2. An alpha channel that is not constant (RGBA, LA, PA files; [H, W, 4] or [H, W, 2] arrays)
   is the mask: alpha ``>= 128`` is the object; the colours are not looked at. A constant
   alpha (an opaque PNG) is dropped.
3. Lossy files (JPEG, lossy WebP) are thresholded at mid-grey: the grey level (colour files:
   the brightest channel) ``>= 128`` is the object.
4. Colour masks (three channels that are not all equal): every non-black pixel is the object,
   whatever the channel order. The VOC border colour (224, 224, 192) next to another colour is
   ignore. Between 2 and 32 distinct object colours (a colour-coded label map?) read all as the
   object with a :class:`MaskReadingWarning` that says how to pick one.
5. Single-channel values (grey PNGs, palette PNGs read as their indices, 1-bit and 16-bit
   PNGs, 2-D arrays; three equal channels count as one):

   * one non-zero value ``v`` (0/1, 0/255, 0/v, 1-bit): ``v`` is the object;
   * two non-zero values ``v`` and 255 (VOC style): ``v`` is the object, 255 is ignore;
   * more than 32 distinct values (a grey ramp, a soft or scaled mask), or intermediate values
     on under 5% of the non-zero pixels besides the top value (an anti-aliased edge): the
     values ``>= 128`` are the object (``>= 32768`` for 16-bit values above 255);
   * otherwise (several object values, e.g. a class label map or any palette PNG with two or
     more classes): :class:`ValueError` naming the file and its values, asking for
     ``mask_value`` (``--mask-value``) or ``threshold`` (``--mask-threshold``).

Float arrays in [0, 1] (probabilities) are read as ``>= 0.5``; boolean arrays as they are.
An empty result is an error; an object covering more than ``max_coverage`` (90%) of the
labelled pixels warns (the object may be the other part), naming the rule that was used.
"""
import os
import os.path as osp
import warnings
from dataclasses import dataclass
from typing import Optional, Tuple, Union

import numpy as np
from PIL import Image, ImageOps

from .image_reader import (DEFAULT_MAX_PIXELS, UnreadableImageError, check_image_size,
                           read_image_header)

__all__ = ['MaskReading', 'MaskReadingWarning', 'read_mask', 'parse_mask_value',
           'VOC_BORDER_RGB']

MaskSource = Union[str, os.PathLike, np.ndarray]
MaskValue = Union[int, Tuple[int, int, int], None]
VOC_BORDER_RGB = (224, 224, 192)
LOSSY_FORMATS = ('JPEG', 'MPO')
MAX_LABEL_VALUES = 32
EDGE_SHARE = 0.05
OBJECT, BACKGROUND, IGNORE = 1, 0, 255


class _Empty(Exception):
    """No non-zero pixel."""


class MaskReadingWarning(UserWarning):
    """A mask was read by a rule that may not be what its author meant."""


@dataclass
class MaskReading:
    """A mask as read by :func:`read_mask`.

    Attributes:
        mask (np.ndarray): [H, W] uint8: 1 object, 0 background, 255 ignore.
        rule (str): The reading that was used, in words.
        source (str): ``mask <path>`` or ``mask (array)``: how errors name it.
    """

    mask: np.ndarray
    rule: str
    source: str

    @property
    def coverage(self) -> float:
        """Share of the labelled (not ignored) pixels that are the object."""
        labelled = self.mask != IGNORE
        return float((self.mask == OBJECT).sum() / max(int(labelled.sum()), 1))


def parse_mask_value(text: str) -> MaskValue:
    """Parse ``--mask-value``: ``V`` (a grey level or palette index) or ``R,G,B``."""
    parts = [p.strip() for p in str(text).split(',')]
    try:
        values = [int(p) for p in parts]
    except ValueError:
        raise ValueError(f'--mask-value {text!r}: expected an integer V or R,G,B') from None
    if len(values) == 1:
        return values[0]
    if len(values) == 3 and all(0 <= v <= 255 for v in values):
        return tuple(values)
    raise ValueError(f'--mask-value {text!r}: expected an integer V or R,G,B (0..255 each)')


def _load(path: str, max_pixels: Optional[int] = DEFAULT_MAX_PIXELS
          ) -> Tuple[np.ndarray, str, bool, str]:
    """(values, kind, lossy, mode) of a mask file; kind: 'index', 'grey', 'colour'.

    The header is checked first (:mod:`~mmfss.datasets.image_reader`): an unreadable or
    oversize file is refused before decoding. EXIF orientation is applied, as OpenCV applies
    it to the images (a JPEG mask saved by a phone stays aligned with its photo).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'mask {path} does not exist')
    header = read_image_header(path, 'mask')
    check_image_size(header, max_pixels, what='mask')
    try:
        with Image.open(path) as raw:
            img = ImageOps.exif_transpose(raw) if raw.getexif().get(0x0112, 1) != 1 else raw
            img.load()
            mode, fmt = img.mode, img.format
            lossy = fmt in LOSSY_FORMATS or (fmt == 'WEBP' and not img.info.get('lossless'))
            if mode == '1':
                return np.asarray(img, dtype=np.uint8), 'index', lossy, mode
            if mode in ('P', 'PA'):
                values = np.asarray(img)
                return values, 'index', lossy, mode
            if mode in ('L', 'LA', 'RGB', 'RGBA') or mode.startswith('I'):
                return np.asarray(img), 'grey' if mode[0] in 'LI' else 'colour', lossy, mode
            if mode == 'F':
                return np.asarray(img), 'grey', lossy, mode
            return np.asarray(img.convert('RGB')), 'colour', lossy, mode
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as err:
        raise UnreadableImageError(f'mask {path} cannot be read as an image ({err})') from None


def _split_alpha(values: np.ndarray, kind: str, mode: str):
    """(values without alpha, alpha or None)."""
    has_alpha = (mode in ('LA', 'PA', 'RGBA') or
                 (mode == 'array' and values.ndim == 3 and values.shape[2] in (2, 4)))
    if not has_alpha:
        return values, None
    return values[..., :-1], values[..., -1]


def _squeeze_grey(values: np.ndarray) -> Tuple[np.ndarray, bool]:
    """[H, W] values and whether they are single-channel (three equal channels count)."""
    if values.ndim == 2:
        return values, True
    if values.shape[2] == 1:
        return values[..., 0], True
    if all(np.array_equal(values[..., 0], values[..., c]) for c in range(1, values.shape[2])):
        return values[..., 0], True
    return values, False


def _mid(values: np.ndarray) -> int:
    return 32768 if values.dtype.itemsize > 1 and int(values.max()) > 255 else 128


def _warn(reading: MaskReading, message: str) -> None:
    warnings.warn(f'{reading.source}: {message}', MaskReadingWarning, stacklevel=3)


def _read_values(values: np.ndarray, kind: str, name: str, ignore_value: int
                 ) -> Tuple[np.ndarray, str]:
    """Rule 5 on [H, W] values."""
    uniq, counts = np.unique(values, return_counts=True)
    nonzero = [(int(v), int(n)) for v, n in zip(uniq, counts) if v != 0]
    if not nonzero:
        raise _Empty
    if len(nonzero) == 1:
        v = nonzero[0][0]
        return (values == v).astype(np.uint8), f'value {v} = object, 0 = background'
    object_values = [v for v, _ in nonzero if v != ignore_value]
    if len(nonzero) == 2 and len(object_values) == 1:
        v = object_values[0]
        mask = (values == v).astype(np.uint8)
        mask[values == ignore_value] = IGNORE
        return mask, f'VOC style: value {v} = object, {ignore_value} = ignore'
    top = nonzero[-1][0]
    edge = sum(n for v, n in nonzero if v != top) / sum(n for _, n in nonzero)
    if kind != 'index' and (len(uniq) > MAX_LABEL_VALUES or edge < EDGE_SHARE):
        mid = _mid(values)
        why = 'many grey levels' if len(uniq) > MAX_LABEL_VALUES else 'anti-aliased edge'
        return (values >= mid).astype(np.uint8), f'grey level >= {mid} = object ({why})'
    shown = ', '.join(str(v) for v, _ in nonzero[:12]) + (' ...' if len(nonzero) > 12 else '')
    raise ValueError(f'{name} holds several object values ({shown}; a label map?): choose '
                     'the object with mask_value=V (tools: --mask-value V), or threshold=T '
                     '(--mask-threshold T)')


def _read_colour(values: np.ndarray, lossy: bool, warn) -> Tuple[np.ndarray, str]:
    """Rules 3-4 on [H, W, 3] colour values."""
    if lossy:
        return ((values.max(axis=-1) >= 128).astype(np.uint8),
                'lossy file: brightest channel >= 128 = object')
    nonblack = values.any(axis=-1)
    if not nonblack.any():
        raise _Empty
    colours = np.unique(values[nonblack].reshape(-1, values.shape[-1]), axis=0)
    mask = nonblack.astype(np.uint8)
    rule = 'colour: non-black = object'
    border = np.array(VOC_BORDER_RGB, dtype=values.dtype)
    is_border = [np.array_equal(c, border) or np.array_equal(c, border[::-1]) for c in colours]
    if any(is_border) and len(colours) > 1:
        mask[(values == colours[is_border.index(True)]).all(axis=-1)] = IGNORE
        colours = colours[[not b for b in is_border]]
        rule += f', VOC border {VOC_BORDER_RGB} = ignore'
    if 2 <= len(colours) <= MAX_LABEL_VALUES:
        shown = ', '.join(str(tuple(int(x) for x in c)) for c in colours[:6])
        warn(f'{len(colours)} object colours ({shown}{" ..." if len(colours) > 6 else ""}) '
             f'were all read as the object ({rule}); to take one, pass mask_value=(R, G, B) '
             '(tools: --mask-value R,G,B)')
    return mask, rule


def read_mask(source: MaskSource,
              mask_value: MaskValue = None,
              threshold: Optional[float] = None,
              ignore_value: int = IGNORE,
              max_coverage: float = 0.9,
              what: Optional[str] = None,
              allow_empty: bool = False,
              max_pixels: Optional[int] = DEFAULT_MAX_PIXELS) -> MaskReading:
    """Read a user's object mask with the rules of :mod:`mmfss.datasets.mask_reader`.

    Args:
        source (str | PathLike | np.ndarray): A mask file, or an array [H, W], [H, W, 1],
            [H, W, 2] (grey + alpha), [H, W, 3] (colour, any order) or [H, W, 4] (colour +
            alpha last).
        mask_value (int | tuple, optional): The value (or colour) of the object.
        threshold (float, optional): Grey levels ``>= threshold`` are the object.
        ignore_value (int): Single-channel value read as ignore next to one object value.
        max_coverage (float): Warn when the object covers more of the labelled pixels.
        what (str, optional): Prefix of the messages (e.g. ``'support 1 of way 1'``).
        allow_empty (bool): Return an empty mask instead of raising (datasets, where an
            image without its object is merely not eligible).
        max_pixels (int, optional): Largest accepted mask file (width x height), checked
            on its header before decoding; None: no limit.

    Returns:
        MaskReading: The [H, W] uint8 mask (1 object, 0 background, 255 ignore) and the rule.

    Raises:
        FileNotFoundError: the file does not exist.
        UnreadableImageError: the file is no readable image or is over ``max_pixels``.
        ValueError: the file is no image, the mask is empty or ambiguous, or the arguments
            do not fit the mask; the message names the file.
    """
    if mask_value is not None and threshold is not None:
        raise ValueError('give mask_value or threshold, not both')
    if isinstance(source, np.ndarray):
        values, kind, lossy, mode = source, 'grey', False, 'array'
        name = 'mask (array)'
        if values.ndim not in (2, 3) or (values.ndim == 3 and values.shape[2] > 4):
            raise ValueError(f'{name} must be [H, W] or [H, W, C] with C <= 4, got '
                             f'{values.shape}')
        if values.dtype == bool:
            values, kind = values.astype(np.uint8), 'index'
        elif values.dtype.kind == 'f':
            if values.size and 0 <= values.min() and values.max() <= 1 and values.ndim == 2 \
                    and mask_value is None and threshold is None:
                threshold = 0.5
    else:
        path = os.fspath(source)
        values, kind, lossy, mode = _load(path, max_pixels)
        name = f'mask {path}'
    name = f'{what}: {name}' if what else name
    pending = []
    values, alpha = _split_alpha(values, kind, mode)
    reading = None
    if alpha is not None and mask_value is None and threshold is None \
            and int(alpha.min()) != int(alpha.max()):
        mask = (alpha >= (_mid(alpha) if alpha.dtype.kind != 'f' else 0.5)).astype(np.uint8)
        reading = MaskReading(mask, 'alpha channel >= 128 = object', name)
    if reading is None:
        grey, single = _squeeze_grey(values)
        if mask_value is not None:
            if single:
                if not np.isscalar(mask_value) and not isinstance(mask_value, int):
                    raise ValueError(f'{name} is single-channel: mask_value must be one value, '
                                     f'got {mask_value}')
                mask = (grey == mask_value).astype(np.uint8)
                if mask_value != ignore_value and kind != 'colour':
                    mask[grey == ignore_value] = IGNORE
            else:
                if isinstance(mask_value, (int, np.integer)):
                    raise ValueError(f'{name} is a colour mask: mask_value must be (R, G, B), '
                                     f'got {mask_value}')
                colour = np.array(mask_value, dtype=values.dtype)
                mask = (values == colour).all(axis=-1).astype(np.uint8)
            reading = MaskReading(mask, f'mask_value {mask_value} = object', name)
        elif threshold is not None:
            level = grey if single else values.max(axis=-1)
            reading = MaskReading((level >= threshold).astype(np.uint8),
                                  f'grey level >= {threshold} = object', name)
        elif single and lossy:
            reading = MaskReading((grey >= 128).astype(np.uint8),
                                  'lossy file: grey level >= 128 = object', name)
        else:
            try:
                if single:
                    mask, rule = _read_values(grey, kind, name, ignore_value)
                else:
                    mask, rule = _read_colour(values, lossy, pending.append)
            except _Empty:
                mask, rule = np.zeros(grey.shape[:2], np.uint8), 'every pixel is 0 (black)'
            reading = MaskReading(mask, rule, name)
    if not (reading.mask == OBJECT).any():
        if allow_empty:
            return reading
        raise ValueError(f'{name} is empty under the reading "{reading.rule}": a support '
                         'needs the object marked')
    for message in pending:
        _warn(reading, message)
    if reading.coverage > max_coverage:
        _warn(reading, f'the object covers {reading.coverage:.0%} of the image under the '
              f'reading "{reading.rule}"; if the object is the other part, pass mask_value '
              '(--mask-value) or threshold (--mask-threshold)')
    return reading

