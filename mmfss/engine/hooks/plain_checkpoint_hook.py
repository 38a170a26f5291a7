from mmengine.hooks import Hook
from mmseg.registry import HOOKS

from mmfss.utils.checkpoint import from_plain, to_plain


@HOOKS.register_module()
class PlainCheckpointHook(Hook):
    """Write checkpoints that load with ``torch.load(weights_only=True)``.

    mmengine stores :class:`~mmengine.logging.HistoryBuffer` objects and numpy values in
    ``message_hub`` and ``meta``. Before saving, this hook converts the whole checkpoint with
    :func:`mmfss.utils.to_plain`; after loading, it converts it back with
    :func:`mmfss.utils.from_plain` so that resuming restores the message hub exactly. See
    :mod:`mmfss.utils.checkpoint` for why this is preferred over allow-listing.

    It runs last when saving (priority ``LOWEST``) so that what other hooks add is converted
    too. Add it to ``custom_hooks`` (``configs/_base_/default_runtime.py`` does).
    """

    priority = 'LOWEST'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        plain = to_plain(checkpoint)
        checkpoint.clear()
        checkpoint.update(plain)

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        from_plain(checkpoint)
