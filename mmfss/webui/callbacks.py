"""The web page's callbacks, on the values its components exchange, without the web library.

The page (:mod:`mmfss.webui.page`) lays out ``MAX_WAYS`` class tabs of ``MAX_SHOTS``
support slots; each slot is an image editor (the image, with a brush layer for the mask) and
a mask-file upload. Its Segment button calls :meth:`PageCallbacks.segment` with the flat list
of those values (Gradio's image-editor value is a dict ``background`` / ``layers`` /
``composite`` of arrays), and shows what it returns. Errors are returned as a message, never
raised: the page shows the message and the server keeps serving.
"""
import logging
import os.path as osp
import time
from typing import List, Optional, Sequence, Tuple

import numpy as np

from mmfss.datasets.mask_reader import parse_mask_value
from .examples import ExampleEpisode
from .segment_session import ClassInput, PageInputError, SegmentSession, SupportInput

__all__ = ['MAX_WAYS', 'MAX_SHOTS', 'PageCallbacks', 'editor_support']

MAX_WAYS = 3
MAX_SHOTS = 3
logger = logging.getLogger('mmfss.webui')


def editor_support(value, mask_file: Optional[str]) -> SupportInput:
    """A support slot's values: the image editor's dict and the mask file's path.

    The image is the editor's background (RGB; an alpha channel is dropped); the drawn mask
    is every pixel that any layer covers (alpha > 0).
    """
    image = drawn = None
    if isinstance(value, dict):
        background = value.get('background')
        if background is not None:
            image = np.asarray(background)
            if image.ndim == 3 and image.shape[2] == 4:
                image = image[..., :3]
        covered = [np.asarray(layer)[..., 3] > 0 for layer in value.get('layers') or []
                   if layer is not None and np.asarray(layer).ndim == 3
                   and np.asarray(layer).shape[2] == 4]
        if covered:
            drawn = np.logical_or.reduce(covered)
            if image is not None and drawn.shape != image.shape[:2]:
                raise PageInputError(f'the drawn layer is {drawn.shape[1]}x{drawn.shape[0]} '
                                     f'but its image is {image.shape[1]}x{image.shape[0]}')
    elif value is not None:
        image = value  # a plain image (array or file)
    return SupportInput(image=image, drawn=drawn, mask_file=mask_file or None)


class PageCallbacks:
    """What the page's events do.

    Args:
        session (SegmentSession): Checks, encodes and segments.
        examples (list[ExampleEpisode]): Tasks the example chooser fills in.
    """

    def __init__(self, session: SegmentSession, examples: Sequence[ExampleEpisode] = ()):
        self.session = session
        self.examples = list(examples)
        self.requests = 0  # numbers the messages, so a repeated request shows a new one

    # ------------------------------------------------------------------ layout
    @staticmethod
    def n_inputs() -> int:
        """Values :meth:`segment` takes: names, then (editor, mask file) per slot, then
        queries, mask value, mask threshold, background rule, fg threshold, opacity."""
        return MAX_WAYS + 2 * MAX_WAYS * MAX_SHOTS + 6

    @staticmethod
    def _classes(values: Sequence) -> List[ClassInput]:
        names = values[:MAX_WAYS]
        slots = values[MAX_WAYS:MAX_WAYS + 2 * MAX_WAYS * MAX_SHOTS]
        classes = []
        for way in range(MAX_WAYS):
            supports = []
            for shot in range(MAX_SHOTS):
                i = 2 * (way * MAX_SHOTS + shot)
                try:
                    supports.append(editor_support(slots[i], slots[i + 1]))
                except PageInputError as err:
                    raise PageInputError(f'support {shot + 1} of class {way + 1}: {err}')
            classes.append(ClassInput(name=names[way] or '', supports=supports))
        return classes

    # ------------------------------------------------------------------ events
    def segment(self, *values) -> Tuple[str, list, list, list, list]:
        """The Segment button.

        Returns:
            tuple: (message, overlays, probability maps, panels, download files); the
            pictures are (file, caption) pairs. The message starts with ``#N`` (the
            request's number), then ``done in S s`` or, on an error, ``error:`` and the
            rest is empty.
        """
        if len(values) != self.n_inputs():
            raise TypeError(f'segment takes {self.n_inputs()} values, got {len(values)}')
        start = time.perf_counter()
        self.requests += 1
        prefix = f'#{self.requests} '
        queries, mask_value, mask_threshold, rule, fg_threshold, opacity = values[-6:]
        try:
            classes = self._classes(values)
            try:
                mask_value = parse_mask_value(mask_value) if (mask_value or '').strip() else None
            except ValueError as err:
                raise PageInputError(f'mask value: {err}') from err
            result = self.session.segment(
                classes, self._paths(queries), mask_value=mask_value,
                mask_threshold=None if mask_threshold in (None, '') else float(mask_threshold),
                background_rule=rule or None,
                fg_threshold=None if fg_threshold in (None, '') else float(fg_threshold),
                opacity=float(0.5 if opacity is None else opacity))
        except PageInputError as err:
            return f'{prefix}error: {err}', [], [], [], []
        except Exception as err:  # the server keeps serving; the log has the traceback
            logger.exception('segment failed')
            return f'{prefix}error: {type(err).__name__}: {err}', [], [], [], []
        seconds = time.perf_counter() - start
        return (f'{prefix}done in {seconds:.2f} s: {result.summary()}', result.overlays,
                result.probabilities, result.panels, result.downloads)

    @staticmethod
    def _paths(files) -> List[str]:
        """Paths of an upload component's value (paths, or objects with a ``name``)."""
        if not files:
            return []
        if isinstance(files, (str, dict)):
            files = [files]
        paths = []
        for f in files:
            if isinstance(f, dict):
                f = f.get('path') or f.get('name')
            paths.append(getattr(f, 'name', f))
        return [p for p in paths if p]

    def example_values(self, title: Optional[str]) -> list:
        """Values of names, slots and queries that fill in the example ``title``."""
        example = next((e for e in self.examples if e.title == title), None)
        if example is None:
            raise PageInputError(f'no example {title!r}')
        names: List[str] = [''] * MAX_WAYS
        slots: list = [None] * (2 * MAX_WAYS * MAX_SHOTS)
        for way, (name, supports) in enumerate(example.classes[:MAX_WAYS]):
            names[way] = name
            for shot, (image, _, layer) in enumerate(supports[:MAX_SHOTS]):
                slots[2 * (way * MAX_SHOTS + shot)] = dict(background=image, layers=[layer],
                                                           composite=None)
        return names + slots + [list(example.queries)]

    def describe(self, config: str, checkpoint: Optional[str]) -> str:
        """The page's header: which model is served."""
        model = type(self.session.inferencer.model).__name__
        text = (f'**Model**: `{osp.basename(config)}` ({model}), checkpoint '
                f'`{osp.basename(checkpoint) if checkpoint else "none (random weights)"}`.')
        if self.session.needs_class_names:
            text += ' This model uses text priors: every class needs its name.'
        return text
