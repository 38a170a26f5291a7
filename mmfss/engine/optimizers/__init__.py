from .mixed_precision_optim_wrapper import (AMP_DTYPES, MixedPrecisionOptimWrapper,
                                            resolve_amp_dtype)

__all__ = ['MixedPrecisionOptimWrapper', 'resolve_amp_dtype', 'AMP_DTYPES']
