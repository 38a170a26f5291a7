import os

import torch
import torch.distributed as dist

__all__ = ['init_cpu_dist']


def init_cpu_dist(launcher: str) -> bool:
    """Initialise torch.distributed with gloo for a CPU-only ``pytorch`` launch.

    mmengine's ``init_dist`` for the ``pytorch`` launcher calls ``torch.cuda.set_device``,
    which fails on a machine without a GPU. When no GPU is visible, the tools call this
    first (torchrun sets ``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT``); the
    Runner then sees an initialised process group and does not initialise it again.

    Args:
        launcher (str): The ``--launcher`` argument.

    Returns:
        bool: Whether a gloo process group was initialised here.
    """
    if launcher != 'pytorch' or torch.cuda.is_available() or dist.is_initialized():
        return False
    missing = [k for k in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT')
               if k not in os.environ]
    if missing:
        raise RuntimeError(f'--launcher pytorch needs the environment variables {missing}; '
                           'start the job with torchrun (tools/dist_train.sh)')
    dist.init_process_group(backend='gloo')
    return True
