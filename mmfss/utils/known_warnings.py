"""The warnings of mmseg and mmengine that a user of mmfss's tools can do nothing about.

The tools (``tools/train.py``, ``tools/test.py``, ``tools/infer.py``, ``tools/webui.py``,
``tools/demo.py``) call :func:`filter_known_warnings` before they build anything, so that a
user learns that a warning on their terminal means something. Each entry is matched at its
source, by the start of its message and the module (``warnings``) or logger (mmengine's
``print_log``) that emits it, never by category alone: any other warning, from the same
modules included, is still shown. The list lives here only, each with the reason it is
filtered. The test suite runs every tool on the ``make demo`` model and asserts that its
stderr holds no warning (``tests/test_tools/test_quiet_tools.py``).
"""
import logging
import re
import warnings
from dataclasses import dataclass
from typing import Optional

__all__ = ['KnownWarning', 'KNOWN_WARNINGS', 'KnownWarningFilter', 'filter_known_warnings']


@dataclass(frozen=True)
class KnownWarning:
    """A warning filtered from the tools' output.

    Attributes:
        message (str): Regular expression matched at the start of the message.
        source (str): ``warnings``: regular expression of the emitting module (matched as
            :func:`warnings.filterwarnings` matches ``module``); ``log``: the text of the
            mmengine logger call site, for the record.
        via (str): ``'warnings'`` (:func:`warnings.warn`) or ``'log'`` (mmengine's
            ``print_log`` at WARNING level).
        reason (str): Why the user cannot act on it.
    """

    message: str
    source: str
    via: str
    reason: str


KNOWN_WARNINGS = (
    KnownWarning(
        r'For binary segmentation, we suggest using', r'mmseg\.models\.decode_heads\.decode_head',
        'warnings',
        'raised by mmseg for every head with num_classes=2: mmfss heads predict background '
        'and foreground with two channels and a softmax on purpose, as PFENet, BAM and HSNet '
        'do (their losses and metrics need both channels); no config can silence it'),
    KnownWarning(
        r'``build_loss`` would be deprecated soon', r'mmseg\.models\.builder', 'warnings',
        "raised inside mmseg 1.2.2's own BaseDecodeHead.__init__, which calls its deprecated "
        'build_loss for every head; nothing in a config or in mmfss reaches that call'),
    KnownWarning(
        r'The draw is False, it means that the hook for visualization will not take effect',
        r'mmseg\.engine\.hooks\.visualization_hook', 'warnings',
        "mmseg's default_runtime registers SegVisualizationHook with draw=False; the test "
        "tool turns drawing on with --show/--show-dir, which is how a user asks for it"),
    KnownWarning(
        r'"FileClient" will be deprecated in future', 'mmengine.fileio.file_client', 'log',
        "mmengine's own checkpoint loading and CheckpointHook create a FileClient; no "
        'argument of theirs avoids it in mmengine 0.10.7'),
    KnownWarning(
        r'"HardDiskBackend" is the alias of "LocalBackend"', 'mmengine.fileio.file_client',
        'log', "created by mmengine's FileClient for local paths (see above)"),
)


class KnownWarningFilter(logging.Filter):
    """Drops mmengine log records whose message starts like a ``via='log'`` entry."""

    def __init__(self) -> None:
        super().__init__()
        self._patterns = [re.compile(w.message) for w in KNOWN_WARNINGS if w.via == 'log']

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.WARNING:
            return True
        message = record.getMessage()
        return not any(p.match(message) for p in self._patterns)


def filter_known_warnings(logger: Optional[logging.Logger] = None) -> None:
    """Filter the :data:`KNOWN_WARNINGS` (and nothing else) from this process's output.

    Installs one :func:`warnings.filterwarnings` rule per ``via='warnings'`` entry and the
    :class:`KnownWarningFilter` on ``logger`` (default: mmengine's current logger, created
    if there is none; call again with a runner's logger once it exists). Idempotent.
    """
    for known in KNOWN_WARNINGS:
        if known.via == 'warnings':
            warnings.filterwarnings('ignore', message=known.message, module=known.source)
    if logger is None:
        from mmengine.logging import MMLogger
        logger = MMLogger.get_current_instance()
    if not any(isinstance(f, KnownWarningFilter) for f in logger.filters):
        logger.addFilter(KnownWarningFilter())
