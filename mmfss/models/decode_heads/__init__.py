from .aspp_few_shot_head import ASPPFewShotHead, BAMASPP
from .ensemble_few_shot_head import (EnsembleFewShotHead, gram_matrix, kshot_weights,
                                     scene_difference)
from .feature_enrichment_head import FeatureEnrichmentHead
from .ppm_few_shot_head import PPMFewShotHead

__all__ = [
    'PPMFewShotHead', 'EnsembleFewShotHead', 'FeatureEnrichmentHead', 'ASPPFewShotHead',
    'BAMASPP', 'gram_matrix', 'scene_difference', 'kshot_weights'
]
