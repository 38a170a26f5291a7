from .few_shot_inferencer import FewShotInferencer, SupportSet

__all__ = ['FewShotInferencer', 'SupportSet']
