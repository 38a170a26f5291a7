"""The web page of mmfss (``tools/webui.py``, ``make web``).

This package is not imported by ``import mmfss``; only :mod:`mmfss.webui.page` imports
Gradio (the ``[web]`` extra), so the callbacks and the session run and are tested without it.
"""
from .callbacks import MAX_SHOTS, MAX_WAYS, PageCallbacks, editor_support
from .examples import ExampleEpisode, shapes5i_examples
from .segment_session import (ClassInput, PageInputError, SegmentResult, SegmentSession,
                              SupportInput)

__all__ = [
    'MAX_SHOTS', 'MAX_WAYS', 'PageCallbacks', 'editor_support', 'ExampleEpisode',
    'shapes5i_examples', 'ClassInput', 'PageInputError', 'SegmentResult', 'SegmentSession',
    'SupportInput'
]
