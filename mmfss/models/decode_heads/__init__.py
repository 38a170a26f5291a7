from .ppm_few_shot_head import PPMFewShotHead

__all__ = ['PPMFewShotHead']
