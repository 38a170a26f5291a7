from .aspp_few_shot_head import ASPPFewShotHead, BAMASPP
from .ensemble_few_shot_head import (EnsembleFewShotHead, gram_matrix, kshot_weights,
                                     scene_difference)
from .feature_enrichment_head import FeatureEnrichmentHead
from .hierarchical_matching_head import HierarchicalMatchingHead
from .hypercorrelation_head import HypercorrelationHead, hypercorrelation
from .layer_correlation_head import LayerCorrelationHead
from .ppm_few_shot_head import PPMFewShotHead
from .psp_bottleneck_head import PSPBottleneckHead

__all__ = [
    'PPMFewShotHead', 'EnsembleFewShotHead', 'FeatureEnrichmentHead', 'ASPPFewShotHead',
    'BAMASPP', 'PSPBottleneckHead', 'HypercorrelationHead', 'hypercorrelation', 'gram_matrix', 'scene_difference', 'kshot_weights',
    'HierarchicalMatchingHead', 'LayerCorrelationHead'
]
