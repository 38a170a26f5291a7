"""The effective batch of a run against the one its config name states."""
import os.path as osp
import re
from typing import Optional, Tuple

__all__ = ['config_batch', 'effective_batch_message']


def config_batch(config_path: str) -> Optional[Tuple[int, int]]:
    """``(gpus, batch per gpu)`` from an mmseg-style config name (``..._4xb2-50e_...``),
    or None when the name states none."""
    match = re.search(r'(?:^|[_-])(\d+)xb(\d+)(?=[-_.]|$)', osp.basename(config_path))
    return (int(match.group(1)), int(match.group(2))) if match else None


def effective_batch_message(config_path: str, world_size: int, cfg) -> Optional[str]:
    """One log line when ``world_size x batch_size`` differs from the config name's batch.

    The schedule (learning rate, epochs) of a paper config is set for the batch its name
    states (``1xb4``: 4 episodes per step; ``4xb2``: 8). The line gives both batches, the
    learning rate that mmengine's ``auto_scale_lr`` would give (linear scaling) and the
    options that turn it on; None when they agree or the name states no batch.

    Args:
        config_path (str): The config file (its name is read).
        world_size (int): Processes of the run.
        cfg (Config): The run's config (``train_dataloader.batch_size``,
            ``optim_wrapper.optimizer.lr``, ``auto_scale_lr``).
    """
    stated = config_batch(config_path)
    batch = cfg.get('train_dataloader', {}).get('batch_size')
    if stated is None or batch is None:
        return None
    gpus, per_gpu = stated
    base, real = gpus * per_gpu, world_size * int(batch)
    if base == real:
        return None
    lr = cfg.get('optim_wrapper', {}).get('optimizer', {}).get('lr')
    scaled = None if lr is None else lr * real / base
    head = (f'effective batch: this run trains {world_size} x {batch} = {real} episodes per '
            f'step, the config name says {gpus}x{per_gpu} = {base}, the batch its schedule '
            'was set for.')
    auto = cfg.get('auto_scale_lr') or {}
    if auto.get('enable'):
        return (f'{head} auto_scale_lr is on (base_batch_size '
                f'{auto.get("base_batch_size")}): the learning rate is scaled by mmengine.')
    lr_text = '' if lr is None else f' The learning rate stays {lr:g};'
    return (f'{head}{lr_text} mmengine\'s linear scaling would give {scaled:g}: add '
            f'--cfg-options auto_scale_lr.enable=True auto_scale_lr.base_batch_size={base}'
            if scaled is not None else
            f'{head} Add --cfg-options auto_scale_lr.enable=True '
            f'auto_scale_lr.base_batch_size={base} to scale the learning rate linearly')
