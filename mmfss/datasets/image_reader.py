"""Read a user's image file, refusing what cannot be read before it costs memory or time.

One reader for every image a user hands mmfss (the inferencer, ``tools/infer.py``, the web
page, the mask reader's size check; datasets probe their files with :func:`probe_image`):

1. The header is parsed with PIL's lazy :func:`PIL.Image.open` (no pixel is decoded) and
   the size checked against ``max_pixels`` / ``max_side``: a 20000 x 20000 PNG of 1 MB is
   refused in well under a millisecond, before any decoding. A file PIL cannot identify
   (zero bytes, text, an HTML page saved as ``.jpg``) is refused here too.
2. JPEG files are decoded once by PIL at 1/8 scale (its DCT-domain ``draft`` mode, a few
   milliseconds): a truncated file, which OpenCV would decode with its missing part filled
   with grey and only a message on stderr, is refused naming the file.
3. The pixels are decoded as mmseg's pipelines decode them (``mmcv.imread``, OpenCV,
   ``IMREAD_COLOR``), so an image reaches a model exactly as in training and testing: 8-bit
   BGR, EXIF orientation applied, 16-bit samples scaled to 8 bits, grey and palette images
   expanded to three channels, alpha dropped, CMYK converted.

Errors are :class:`UnreadableImageError` (a ``ValueError``; :class:`ImageTooLargeError`
for the size limit) whose message names the file, so tools print them as one ``error:``
line and folder runs can name a broken file and go on.
"""
import os
import os.path as osp
import struct
import warnings
from dataclasses import dataclass
from typing import Optional

import numpy as np
from PIL import Image

__all__ = ['DEFAULT_MAX_PIXELS', 'ImageHeader', 'UnreadableImageError', 'ImageTooLargeError',
           'read_image_header', 'check_image_size', 'read_image', 'probe_image',
           'set_pil_pixel_limit']

# default of the inferencer and tools/infer.py (--max-pixels): 100 megapixels, above any
# camera's photo and a fifth of what a 20000 x 20000 upload would be
DEFAULT_MAX_PIXELS = 100_000_000
JPEG_FORMATS = ('JPEG', 'MPO')


class UnreadableImageError(ValueError):
    """An image file cannot be read; the message names it (and why)."""


class ImageTooLargeError(UnreadableImageError):
    """An image is larger than the limit it is read under; refused before decoding."""


@dataclass
class ImageHeader:
    """What an image file's header says.

    Attributes:
        path (str): The file.
        width (int): Width in pixels as stored (before EXIF orientation).
        height (int): Height in pixels as stored.
        format (str): PIL's format name (``'PNG'``, ``'JPEG'``, ...).
        mode (str): PIL's mode (``'RGB'``, ``'L'``, ``'P'``, ``'I;16'``, ``'CMYK'``, ...).
    """

    path: str
    width: int
    height: int
    format: str
    mode: str

    @property
    def pixels(self) -> int:
        return self.width * self.height


def _name(path: str, what: Optional[str]) -> str:
    return f'{what} {path}' if what else f'image {path}'


def read_image_header(path: str, what: Optional[str] = None) -> ImageHeader:
    """Parse the header of ``path`` (no pixel is decoded).

    Args:
        path (str): An image file.
        what (str, optional): What messages write before the path (default ``'image'``;
            e.g. ``'mask'``, ``'query 3: image'``).

    Returns:
        ImageHeader

    Raises:
        FileNotFoundError: the file does not exist.
        UnreadableImageError: the file is no image PIL can identify.
    """
    path = os.fspath(path)
    name = _name(path, what)
    if not osp.isfile(path):
        raise FileNotFoundError(f'{name} does not exist')
    if osp.getsize(path) == 0:
        raise UnreadableImageError(f'{name} cannot be read as an image (the file is empty)')
    try:
        return _parse_header(path)
    except (OSError, ValueError, SyntaxError, EOFError) as err:
        raise UnreadableImageError(f'{name} cannot be read as an image ({err})') from None


def _parse_header(path: str) -> ImageHeader:
    """PIL's format plugins on the file's first bytes, as :func:`PIL.Image.open` tries them,
    without its decompression-bomb check (the caller's limits decide, with the size in the
    message) and without decoding."""
    with open(path, 'rb') as fp:
        prefix = fp.read(16)
        tried: set = set()
        for load in (Image.preinit, Image.init):  # the common plugins first, as PIL does
            load()
            for fmt in [f for f in Image.ID if f not in tried]:
                tried.add(fmt)
                factory, accept = Image.OPEN[fmt]
                result = not accept or accept(prefix)
                if not result or isinstance(result, str):
                    continue
                fp.seek(0)
                try:
                    img = factory(fp, path)
                except (SyntaxError, IndexError, TypeError, struct.error):
                    continue
                return ImageHeader(path, int(img.width), int(img.height), str(img.format),
                                   str(img.mode))
    raise UnreadableImageError('no image format PIL knows starts like this file')


def check_image_size(header: ImageHeader, max_pixels: Optional[int] = DEFAULT_MAX_PIXELS,
                     max_side: Optional[int] = None, what: Optional[str] = None) -> None:
    """Raise :class:`ImageTooLargeError` when ``header`` exceeds a limit (None: no limit)."""
    size = f'{header.width}x{header.height}'
    name = _name(header.path, what)
    if max_side is not None and max(header.width, header.height) > max_side:
        raise ImageTooLargeError(f'{name} is {size}: images up to {max_side} pixels a side '
                                 'are accepted')
    if max_pixels is not None and header.pixels > max_pixels:
        raise ImageTooLargeError(
            f'{name} is {size} ({header.pixels / 1e6:.1f} megapixels): images up to '
            f'{max_pixels / 1e6:.1f} megapixels are accepted (max_pixels, --max-pixels)')


def _check_jpeg_complete(header: ImageHeader, name: str) -> None:
    """Decode a JPEG at 1/8 scale: raises on a truncated or corrupt entropy-coded stream."""
    try:
        with Image.open(header.path) as img:
            img.draft(img.mode, (max(header.width // 8, 1), max(header.height // 8, 1)))
            img.load()
    except Image.DecompressionBombError as err:
        raise ImageTooLargeError(f'{name}: {err}') from None
    except (OSError, ValueError, SyntaxError, EOFError) as err:
        raise UnreadableImageError(f'{name} cannot be read as an image ({err}; a truncated '
                                   'or damaged file?)') from None


def read_image(path: str, max_pixels: Optional[int] = DEFAULT_MAX_PIXELS,
               max_side: Optional[int] = None, what: Optional[str] = None) -> np.ndarray:
    """Read an image file as mmseg's pipelines do, after checking its header.

    Args:
        path (str): The image file.
        max_pixels (int, optional): Largest accepted width x height; None: no limit.
        max_side (int, optional): Largest accepted side; None: no limit.
        what (str, optional): How messages name the image.

    Returns:
        np.ndarray: [H, W, 3] uint8 BGR (EXIF orientation applied).

    Raises:
        FileNotFoundError, UnreadableImageError, ImageTooLargeError: naming the file.
    """
    import mmcv
    header = read_image_header(path, what)
    check_image_size(header, max_pixels, max_side, what)
    name = _name(header.path, what)
    if header.format in JPEG_FORMATS:
        _check_jpeg_complete(header, name)
    try:
        img = mmcv.imread(header.path, flag='color', channel_order='bgr')
    except Exception as err:  # noqa: BLE001  OpenCV raises cv2.error and others
        raise UnreadableImageError(f'{name} cannot be read as an image ({err})') from None
    if img is None or img.size == 0:
        raise UnreadableImageError(f'{name} cannot be read as an image (OpenCV could not '
                                   f'decode this {header.format} file; a truncated or damaged '
                                   'file?)')
    return img


def probe_image(path: str, decode: bool = True) -> Optional[str]:
    """Why ``path`` cannot be read as an image, or None when it can (for datasets).

    Args:
        path (str): An image or label file.
        decode (bool): Decode the pixels too (else the header only).
    """
    try:
        if decode:
            read_image(path, max_pixels=None)
        else:
            read_image_header(path)
    except (FileNotFoundError, UnreadableImageError) as err:
        return str(err)
    return None


def set_pil_pixel_limit(max_pixels: int) -> None:
    """Make PIL refuse, at ``Image.open``, any image over ``max_pixels`` (process-wide).

    PIL only warns between its limit and twice it; the warning is turned into the error, so
    code that decodes uploads with PIL before mmfss sees them (Gradio's image editor) refuses
    the same images before decoding them. For servers; tools keep PIL's default.
    """
    Image.MAX_IMAGE_PIXELS = int(max_pixels)
    warnings.filterwarnings('error', category=Image.DecompressionBombWarning)
