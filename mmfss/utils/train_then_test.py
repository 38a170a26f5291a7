import time
from typing import Optional, Tuple

from mmengine.config import Config
from mmengine.runner import Runner

__all__ = ['train_then_test']


def train_then_test(config: str, work_dir: str,
                    max_iters: Optional[int] = None) -> Tuple[dict, Config, dict]:
    """Train an iteration-based config, then evaluate it once with its test loop.

    Validation during training is switched off (mmengine's iteration loop would also validate
    at the last iteration), so the test set is scored exactly once, after training.

    Args:
        config (str): Config file.
        work_dir (str): Where logs and checkpoints go.
        max_iters (int, optional): Overrides the training length (and the poly schedule's
            end and the checkpoint interval with it).

    Returns:
        tuple: the test metrics, the config that ran, and timings
        ``dict(train_time_s, test_time_s)``.
    """
    cfg = Config.fromfile(config)
    cfg.work_dir = work_dir
    if max_iters is not None:
        cfg.train_cfg.max_iters = max_iters
        cfg.param_scheduler[0].end = max_iters
        cfg.default_hooks.checkpoint.interval = max_iters
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    start = time.time()
    runner = Runner.from_cfg(cfg)
    runner.train()
    train_time = time.time() - start
    metrics = runner.test()
    return metrics, cfg, dict(train_time_s=round(train_time, 1),
                              test_time_s=round(time.time() - start - train_time, 1))
