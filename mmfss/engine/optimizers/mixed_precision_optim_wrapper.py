"""Mixed-precision training that picks its precision from the device."""
from contextlib import contextmanager
from typing import Optional, Union

import torch
import torch.nn as nn
from mmengine.logging import print_log
from mmengine.optim import AmpOptimWrapper, OptimWrapper
from mmseg.registry import OPTIM_WRAPPERS

__all__ = ['MixedPrecisionOptimWrapper', 'resolve_amp_dtype', 'AMP_DTYPES']

AMP_DTYPES = ('auto', 'bfloat16', 'float16')


def resolve_amp_dtype(dtype: Union[str, torch.dtype], device_type: str) -> torch.dtype:
    """The autocast dtype: ``'auto'`` gives bfloat16 where the device computes it (CUDA
    with ``torch.cuda.is_bf16_supported()``: Ampere and newer; any CPU), else float16.

    Raises:
        ValueError: an unknown dtype, or bfloat16 on a GPU without it.
    """
    if isinstance(dtype, torch.dtype):
        dtype = str(dtype).replace('torch.', '')
    if dtype not in AMP_DTYPES:
        raise ValueError(f'mixed-precision dtype must be one of {AMP_DTYPES}, got {dtype!r}')
    bf16_ok = device_type != 'cuda' or torch.cuda.is_bf16_supported()
    if dtype == 'auto':
        return torch.bfloat16 if bf16_ok else torch.float16
    if dtype == 'bfloat16' and not bf16_ok:
        raise ValueError(f'{torch.cuda.get_device_name()} does not compute bfloat16: use '
                         "dtype='float16' (or 'auto')")
    return getattr(torch, dtype)


@OPTIM_WRAPPERS.register_module()
class MixedPrecisionOptimWrapper(AmpOptimWrapper):
    """mmengine's ``AmpOptimWrapper`` with the precision chosen for the device
    (``tools/train.py --amp`` uses it).

    * ``dtype='auto'`` (default): bfloat16 where the device computes it (no loss scaling
      needed: bfloat16 has float32's range), else float16 with dynamic loss scaling;
      ``'bfloat16'`` or ``'float16'`` force one.
    * The models keep their float32 islands under either (BAM's Gram matrix, the CLIP
      Grad-CAM, the OT costs and plans), so float16 trains where they would overflow.
    * Runs on CPU too (``torch.autocast('cpu')``), where mmengine's wrapper refuses to
      start: the CPU path of ``tools/gpu_check.py`` and the tests train with it.

    The first step logs the precision in use.

    Args:
        dtype (str): ``'auto'``, ``'bfloat16'`` or ``'float16'``.
        loss_scale (str | float | dict): As ``AmpOptimWrapper`` (float16 only; bfloat16
            runs unscaled).
        device_type (str, optional): ``'cuda'`` or ``'cpu'``; default: cuda when available.
        **kwargs: :class:`~mmengine.optim.OptimWrapper` arguments.
    """

    def __init__(self,
                 dtype: str = 'auto',
                 loss_scale: Union[str, float, dict] = 'dynamic',
                 device_type: Optional[str] = None,
                 **kwargs) -> None:
        OptimWrapper.__init__(self, **kwargs)  # AmpOptimWrapper.__init__ asserts a GPU
        self.device_type = device_type or ('cuda' if torch.cuda.is_available() else 'cpu')
        self.cast_dtype = resolve_amp_dtype(dtype, self.device_type)
        scaled = self.cast_dtype == torch.float16
        self._scale_update_param = None
        if loss_scale == 'dynamic':
            scaler_args = {}
        elif isinstance(loss_scale, float):
            self._scale_update_param = loss_scale
            scaler_args = dict(init_scale=loss_scale)
        elif isinstance(loss_scale, dict):
            scaler_args = dict(loss_scale)
        else:
            raise TypeError(f'loss_scale must be "dynamic", a float or a dict, got '
                            f'{loss_scale!r}')
        self.loss_scaler = torch.amp.GradScaler(self.device_type, enabled=scaled,
                                                **scaler_args)
        self._announced = False

    def describe(self) -> str:
        """One line: the precision, the device and the loss scaling."""
        name = str(self.cast_dtype).replace('torch.', '')
        scaling = 'dynamic loss scaling' if self.loss_scaler.is_enabled() else \
            'no loss scaling'
        return (f'mixed precision: {name} autocast on {self.device_type}, {scaling}; '
                'float32 kept for the Gram matrix, the CLIP Grad-CAM and the OT costs')

    @contextmanager
    def optim_context(self, model: nn.Module):
        if not self._announced:
            print_log(self.describe(), logger='current')
            self._announced = True
        with OptimWrapper.optim_context(self, model), torch.autocast(
                self.device_type, dtype=self.cast_dtype):
            yield
