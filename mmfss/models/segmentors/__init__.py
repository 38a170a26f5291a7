from .few_shot_segmentor import FewShotSegmentor

__all__ = ['FewShotSegmentor']
