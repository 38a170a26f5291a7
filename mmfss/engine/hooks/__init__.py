from .cudnn_benchmark_hook import CudnnBenchmarkHook
from .few_shot_visualization_hook import FewShotVisualizationHook
from .plain_checkpoint_hook import PlainCheckpointHook

__all__ = ['FewShotVisualizationHook', 'PlainCheckpointHook', 'CudnnBenchmarkHook']
