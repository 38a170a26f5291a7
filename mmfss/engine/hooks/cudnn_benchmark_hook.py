import torch
from mmengine.hooks import Hook
from mmseg.registry import HOOKS

__all__ = ['CudnnBenchmarkHook']


@HOOKS.register_module()
class CudnnBenchmarkHook(Hook):
    """cuDNN autotuning for the training crops only.

    ``env_cfg.cudnn_benchmark=True`` makes cuDNN time its algorithms for every new input
    shape. Training crops have one shape (473 x 473), so the tuning pays off; evaluation
    episodes keep their own geometry (the long side resized, the other following the
    image), so nearly every episode is a new shape and would be tuned again. This hook
    turns autotuning off for validation and testing and restores it for training.

    Args:
        train (bool): Autotuning in the training loop (default True).
        eval (bool): Autotuning in validation and test loops (default False).
    """

    priority = 'VERY_HIGH'

    def __init__(self, train: bool = True, eval: bool = False) -> None:
        self.train, self.eval = bool(train), bool(eval)

    def before_train_epoch(self, runner) -> None:
        torch.backends.cudnn.benchmark = self.train

    def before_val_epoch(self, runner) -> None:
        torch.backends.cudnn.benchmark = self.eval

    def after_val_epoch(self, runner, metrics=None) -> None:
        torch.backends.cudnn.benchmark = self.train

    def before_test_epoch(self, runner) -> None:
        torch.backends.cudnn.benchmark = self.eval
