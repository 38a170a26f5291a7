from .few_shot_inferencer import FewShotInferencer, SupportSet
from .sweep import SweepRun, plan_sweep, run_sweep

__all__ = ['FewShotInferencer', 'SupportSet', 'SweepRun', 'plan_sweep', 'run_sweep']
