import os

import torch
import torch.distributed as dist
from mmengine.config import Config

__all__ = ['setup_cpu_dist', 'teardown_dist']


def setup_cpu_dist(cfg: Config, launcher: str) -> bool:
    """Prepare a CPU-only ``pytorch`` launch (torchrun without GPUs) for mmengine's Runner.

    mmengine assumes GPUs for the ``pytorch`` launcher: ``init_dist`` calls
    ``torch.cuda.set_device`` and the model wrapper passes ``device_ids=[LOCAL_RANK]`` to
    DistributedDataParallel, which both fail without a GPU. When no GPU is visible this
    initialises the process group with gloo (torchrun sets ``RANK``, ``WORLD_SIZE``,
    ``MASTER_ADDR``, ``MASTER_PORT``; the Runner then skips its own initialisation) and sets
    ``model_wrapper_cfg.device_ids = None`` (CPU DDP), and drops ``sync_bn`` (torch's
    SyncBatchNorm trains on GPUs only). With a GPU it does nothing.

    Args:
        cfg (Config): The config the Runner will be built from (modified in place).
        launcher (str): The ``--launcher`` argument.

    Returns:
        bool: Whether the CPU set-up was applied.
    """
    if launcher != 'pytorch' or torch.cuda.is_available():
        return False
    missing = [k for k in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT')
               if k not in os.environ]
    if missing:
        raise RuntimeError(f'--launcher pytorch needs the environment variables {missing}; '
                           'start the job with torchrun (tools/dist_train.sh)')
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo')
    wrapper = cfg.get('model_wrapper_cfg') or dict(
        type='MMDistributedDataParallel',
        broadcast_buffers=False,
        find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper
    cfg.setdefault('env_cfg', {}).setdefault('dist_cfg', {})['backend'] = 'gloo'
    if cfg.get('sync_bn'):
        # torch's SyncBatchNorm trains on GPUs only ("expected input tensor to be on GPU")
        print(f'mmfss: CPU run (gloo): sync_bn={cfg.sync_bn!r} dropped, batch norm stays '
              'per process', flush=True)
        cfg.sync_bn = None
    return True


def teardown_dist() -> None:
    """Destroy the default process group, if any, before the interpreter exits.

    Without this, gloo's threads can still be alive when a torchrun worker exits and the
    process aborts ("terminate called without an active exception") after the work is done.
    """
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
