"""What the web page computes, without the web library: checked inputs in, pictures out.

:class:`SegmentSession` wraps a :class:`~mmfss.apis.FewShotInferencer`: it checks a request
(classes, their supports with drawn or uploaded masks, the queries), encodes the supports once
and reuses the encoding while only the queries change, and writes the results of a request
(label maps, per-class masks, overlays, probability maps, panels) into its own folder, of
which it keeps the last few.
"""
import hashlib
import os
import os.path as osp
import shutil
import time
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import cv2
import mmcv
import numpy as np

from mmfss.datasets.image_reader import (ImageTooLargeError, UnreadableImageError,
                                        check_image_size, read_image, read_image_header)
from mmfss.datasets.mask_reader import MaskValue
from mmfss.utils import save_png

__all__ = ['PageInputError', 'SupportInput', 'ClassInput', 'SegmentResult', 'SegmentSession']

class PageInputError(ValueError):
    """A request the page cannot run; its message is shown in the page."""


@dataclass
class SupportInput:
    """One support of a class, as the page received it.

    Attributes:
        image (np.ndarray | str | None): [H, W, 3] uint8 RGB image or an image file.
        drawn (np.ndarray | None): [H, W] brush mask (non-zero = object), None if nothing
            was drawn.
        mask_file (str | None): An uploaded mask file in any format the mask reader knows.
    """

    image: Optional[object] = None
    drawn: Optional[np.ndarray] = None
    mask_file: Optional[str] = None

    @property
    def empty(self) -> bool:
        return self.image is None and self.drawn is None and self.mask_file is None


@dataclass
class ClassInput:
    """A class of the task: its name and its supports."""

    name: str = ''
    supports: List[SupportInput] = field(default_factory=list)


@dataclass
class SegmentResult:
    """The results of one request.

    Attributes:
        query_names (list[str]): Name of each query (its file name without extension).
        class_names (list[str]): Classes of labels 1..N.
        masks (list[np.ndarray]): [H, W] uint8 label map of each query (0 background).
        overlays (list[tuple]): (file, caption) of the colour overlay of each query.
        probabilities (list[tuple]): (file, caption) of the foreground probability map of
            each query and class.
        panels (list[tuple]): (file, caption) of the panel (supports, prediction) of each
            query.
        downloads (list[str]): PNG files: the label map of each query (``*_labels.png``,
            values 0..N) and its 0/255 mask of each class.
        encode_s (float): Seconds spent encoding the supports (0 when reused).
        predict_s (float): Seconds spent on the queries.
        reused (bool): Whether the supports' encoding came from an earlier request.
        folder (str): Where the files lie.
        readings (list[str]): How each support mask was read (file or drawing, rule,
            object share), and the mask reader's warnings.
    """

    query_names: List[str]
    class_names: List[str]
    masks: List[np.ndarray]
    overlays: List[Tuple[str, str]]
    probabilities: List[Tuple[str, str]]
    panels: List[Tuple[str, str]]
    downloads: List[str]
    encode_s: float
    predict_s: float
    reused: bool
    folder: str
    readings: List[str] = field(default_factory=list)

    def summary(self) -> str:
        ways = len(self.class_names)
        encoded = ('supports reused (encoded by an earlier request)' if self.reused else
                   f'supports encoded in {self.encode_s:.2f} s')
        return (f'{len(self.query_names)} quer{"y" if len(self.query_names) == 1 else "ies"}, '
                f'{ways} class{"" if ways == 1 else "es"} '
                f'({", ".join(self.class_names)}): {encoded}; queries segmented in '
                f'{self.predict_s:.2f} s' + ''.join(f'\n{r}' for r in self.readings))


def _digest(*parts) -> str:
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            h.update(str((part.dtype, part.shape)).encode())
            h.update(np.ascontiguousarray(part).tobytes())
        elif isinstance(part, str) and osp.isfile(part):
            with open(part, 'rb') as f:
                h.update(f.read())
        else:
            h.update(repr(part).encode())
        h.update(b'|')
    return h.hexdigest()


def probability_picture(prob: np.ndarray) -> np.ndarray:
    """[H, W] probabilities in [0, 1] as an RGB heat map (OpenCV's 'inferno' colour map)."""
    grey = (np.clip(prob, 0, 1) * 255).round().astype(np.uint8)
    return cv2.applyColorMap(grey, cv2.COLORMAP_INFERNO)[..., ::-1].copy()


class SegmentSession:
    """Check, encode once, segment and write the results of the page's requests.

    Args:
        inferencer (FewShotInferencer): The model.
        work_dir (str): Folder of the results (created; the page removes it on exit).
        max_queries (int): Most query images per request.
        max_side (int): Longest image side accepted, in pixels.
        cache_size (int): Support encodings kept for reuse.
        keep_results (int): Result folders kept (older ones are deleted).
    """

    def __init__(self, inferencer, work_dir: str, max_queries: int = 16, max_side: int = 4096,
                 cache_size: int = 4, keep_results: int = 8) -> None:
        self.inferencer = inferencer
        self.work_dir = work_dir
        self.max_queries = max_queries
        self.max_side = max_side
        self.cache_size = cache_size
        self.keep_results = keep_results
        self._cache: 'OrderedDict[str, object]' = OrderedDict()
        self._requests = 0
        os.makedirs(work_dir, exist_ok=True)

    @property
    def needs_class_names(self) -> bool:
        return self.inferencer.needs_class_names

    # ------------------------------------------------------------------ checks
    @property
    def max_pixels(self) -> int:
        """Largest image accepted (``max_side`` squared), checked on file headers."""
        return self.max_side * self.max_side

    def _check_file(self, path: str, what: str, decode: bool = False) -> Optional[np.ndarray]:
        """Check an uploaded image file on its header (size limit, before decoding);
        with ``decode``, return its BGR pixels."""
        if not osp.isfile(path):
            raise PageInputError(f'{what}: file {osp.basename(path)} was not received')
        try:
            if not decode:
                check_image_size(read_image_header(path), self.max_pixels, self.max_side)
                return None
            return read_image(path, self.max_pixels, self.max_side)
        except ImageTooLargeError as err:
            raise PageInputError(f'{what}: ' + str(err).replace(
                path, osp.basename(path)).split(' (max_pixels')[0]) from None
        except UnreadableImageError:
            raise PageInputError(f'{what}: {osp.basename(path)} is not an image (or is '
                                 'damaged)') from None

    def _image(self, image, what: str) -> np.ndarray:
        """The RGB array of a support image, checked (files: on their header, before
        decoding)."""
        if isinstance(image, str):
            image = mmcv.bgr2rgb(self._check_file(image, what, decode=True))
        image = np.asarray(image)
        if image.ndim == 2:
            image = np.repeat(image[..., None], 3, axis=2)
        if image.ndim != 3 or image.shape[2] not in (3, 4) or image.dtype != np.uint8:
            raise PageInputError(f'{what}: expected an RGB image, got {image.dtype} '
                                 f'{image.shape}')
        if max(image.shape[:2]) > self.max_side:
            raise PageInputError(f'{what} is {image.shape[1]}x{image.shape[0]}: images up to '
                                 f'{self.max_side} pixels a side are accepted')
        return np.ascontiguousarray(image[..., :3])

    def _tasks(self, classes: Sequence[ClassInput]) -> Tuple[List[str], List[list]]:
        """Names and (BGR image, mask source) pairs of the classes in use."""
        names, groups = [], []
        for index, cls in enumerate(classes, 1):
            name = (cls.name or '').strip()
            supports = [s for s in cls.supports if not s.empty]
            if not supports:
                if name:
                    raise PageInputError(f'class {index} ({name}) has no support image')
                continue
            if not name:
                if self.needs_class_names:
                    raise PageInputError(f'class {index} has no name: this model uses text '
                                         'priors (CLIP), so every class needs its name')
                name = f'class {index}'
            if name in names:
                raise PageInputError(f'two classes are named {name!r}: give each its own name')
            pairs = []
            for shot, support in enumerate(supports, 1):
                what = f'support {shot} of class {index} ({name})'
                if support.image is None:
                    raise PageInputError(f'{what}: a mask without its image: add the image')
                image = self._image(support.image, what)
                drawn = support.drawn is not None and np.asarray(support.drawn).any()
                if drawn and support.mask_file:
                    raise PageInputError(f'{what}: a mask is drawn and a mask file is '
                                         'uploaded: keep one (clear the drawing or the file)')
                if support.mask_file:
                    mask = support.mask_file
                elif drawn:
                    mask = (np.asarray(support.drawn) > 0).astype(np.uint8) * 255
                else:
                    raise PageInputError(f'{what}: no mask: draw the object with the brush or '
                                         'upload its mask file')
                pairs.append((mmcv.rgb2bgr(image), mask))
            names.append(name)
            groups.append(pairs)
        if not groups:
            raise PageInputError('no support: add a support image and its mask to class 1')
        shots = [len(g) for g in groups]
        if len(set(shots)) > 1:
            raise PageInputError('every class needs the same number of supports, got '
                                 + ', '.join(f'{n}: {k}' for n, k in zip(names, shots)))
        return names, groups

    # ------------------------------------------------------------------ work
    def _support_set(self, names, groups, mask_value, mask_threshold):
        key = _digest(names, mask_value, mask_threshold,
                      *[part for pairs in groups for pair in pairs for part in pair])
        if key in self._cache:
            self._cache.move_to_end(key)
            return (*self._cache[key], 0.0, True)
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            try:
                support_set = self.inferencer.encode_supports(
                    dict(zip(names, groups)), mask_value=mask_value,
                    mask_threshold=mask_threshold)
            except (ValueError, FileNotFoundError) as err:
                raise PageInputError(self._readable(str(err), groups)) from err
        seconds = time.perf_counter() - start
        notes = [f'support {shot} of {name} '
                 f'({osp.basename(mask) if isinstance(mask, str) else "drawn mask"}): '
                 f'{r.rule} ({r.coverage:.1%} object)'
                 for name, pairs, readings in zip(names, groups, support_set.readings)
                 for shot, ((_, mask), r) in enumerate(zip(pairs, readings), 1)]
        notes += [f'warning: {self._readable(str(w.message), groups)}' for w in caught
                  if type(w.message).__name__ == 'MaskReadingWarning']
        self._cache[key] = (support_set, notes)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return support_set, notes, seconds, False

    @staticmethod
    def _readable(message: str, groups) -> str:
        """Name uploaded files by their base names (the server's upload folders are noise)."""
        for pairs in groups:
            for _, mask in pairs:
                if isinstance(mask, str):
                    message = message.replace(mask, osp.basename(mask))
        return message.replace('the image array', 'its image').replace(
            'mask (array)', 'the drawn mask').replace(' of way ', ' of class ')

    def segment(self,
                classes: Sequence[ClassInput],
                queries: Sequence[str],
                mask_value: MaskValue = None,
                mask_threshold: Optional[float] = None,
                background_rule: Optional[str] = None,
                fg_threshold: Optional[float] = None,
                opacity: float = 0.5) -> SegmentResult:
        """Segment the classes in the queries and write the pictures of the results.

        Args:
            classes: The classes; those without supports and without a name are unused.
            queries: Query image files.
            mask_value, mask_threshold: How ambiguous support masks are read (see
                :func:`~mmfss.datasets.mask_reader.read_mask`).
            background_rule (str, optional): N-way background rule ('mean' or
                'threshold'); None keeps the model's.
            fg_threshold (float, optional): Threshold of the 'threshold' rule.
            opacity (float): Opacity of the overlay colours.

        Returns:
            SegmentResult

        Raises:
            PageInputError: the request cannot run; the message says why.
        """
        names, groups = self._tasks(classes)
        queries = [q for q in (queries or []) if q]
        if not queries:
            raise PageInputError('no query: add one or more query images')
        if len(queries) > self.max_queries:
            raise PageInputError(f'{len(queries)} queries: at most {self.max_queries} per '
                                 'request')
        for i, query in enumerate(queries, 1):  # headers only: the inferencer decodes them
            self._check_file(query, f'query {i} ({osp.basename(query)})')
        model = self.inferencer.model
        if background_rule:
            model.background_rule = background_rule
        if fg_threshold is not None:
            if not 0 < float(fg_threshold) < 1:
                raise PageInputError(f'foreground threshold must be in (0, 1), got '
                                     f'{fg_threshold}')
            model.fg_threshold = float(fg_threshold)
        support_set, notes, encode_s, reused = self._support_set(names, groups, mask_value,
                                                          mask_threshold)
        folder = self._new_folder()
        start = time.perf_counter()
        self.inferencer.max_pixels = self.max_pixels
        try:
            out = self.inferencer(list(queries), support_set, return_probs=True,
                                  out_dir=folder, panels=True, opacity=opacity)
        except (ValueError, FileNotFoundError) as err:
            message = str(err)
            for query in queries:  # the server's upload folders are noise
                message = message.replace(query, osp.basename(query))
            raise PageInputError(message) from err
        predict_s = time.perf_counter() - start
        result = self._result(out, support_set, folder, encode_s, predict_s, reused)
        result.readings = list(notes)
        return result

    def _new_folder(self) -> str:
        self._requests += 1
        folder = osp.join(self.work_dir, f'request_{self._requests:05d}')
        os.makedirs(folder)
        old = sorted(d for d in os.listdir(self.work_dir) if d.startswith('request_'))
        for name in old[:-self.keep_results]:
            shutil.rmtree(osp.join(self.work_dir, name), ignore_errors=True)
        return folder

    @staticmethod
    def _result(out: Dict, support_set, folder: str, encode_s: float, predict_s: float,
                reused: bool) -> SegmentResult:
        names, class_names = out['names'], list(support_set.class_names)
        overlays, probabilities, panels, downloads = [], [], [], []
        for name, labels, probs in zip(names, out['masks'], out['probs']):
            overlays.append((osp.join(folder, 'vis', f'{name}.png'), name))
            panels.append((osp.join(folder, 'panel', f'{name}.png'), name))
            labels_file = osp.join(folder, 'download', f'{name}_labels.png')
            save_png(labels_file, labels)
            downloads.append(labels_file)
            for way, (cls, prob) in enumerate(zip(class_names, probs), 1):
                safe = ''.join(c if c.isalnum() or c in '-_' else '_' for c in cls)
                prob_file = osp.join(folder, 'prob', f'{name}_{safe}.png')
                save_png(prob_file, probability_picture(prob))
                probabilities.append((prob_file, f'{name}: P({cls})'))
                mask_file = osp.join(folder, 'download', f'{name}_{safe}.png')
                save_png(mask_file, (labels == way).astype(np.uint8) * 255)
                downloads.append(mask_file)
        return SegmentResult(query_names=names, class_names=class_names, masks=out['masks'],
                             overlays=overlays, probabilities=probabilities, panels=panels,
                             downloads=downloads, encode_s=encode_s, predict_s=predict_s,
                             reused=reused, folder=folder)
