from .compile import configure_compile, graph_breaks
from .hooks import CudnnBenchmarkHook, FewShotVisualizationHook, PlainCheckpointHook
from .optimizers import MixedPrecisionOptimWrapper, resolve_amp_dtype

__all__ = ['FewShotVisualizationHook', 'PlainCheckpointHook', 'CudnnBenchmarkHook',
           'MixedPrecisionOptimWrapper', 'resolve_amp_dtype', 'configure_compile', 'graph_breaks']
