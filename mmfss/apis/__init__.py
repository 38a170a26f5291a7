from .few_shot_inferencer import FewShotInferencer, SupportSet
from .protocol_evaluation import PROTOCOL_CHOICES, protocol_summary, protocol_test_dataloader
from .seed_evaluation import episode_seeds, evaluate_seeds
from .sweep import SweepRun, plan_sweep, run_sweep

__all__ = [
    'FewShotInferencer', 'SupportSet', 'SweepRun', 'plan_sweep', 'run_sweep', 'episode_seeds',
    'evaluate_seeds', 'PROTOCOL_CHOICES', 'protocol_test_dataloader', 'protocol_summary'
]
