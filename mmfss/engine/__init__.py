from .hooks import FewShotVisualizationHook, PlainCheckpointHook

__all__ = ['FewShotVisualizationHook', 'PlainCheckpointHook']
