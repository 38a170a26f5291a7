from .backbones import VGG, HypercolumnResNet
from .data_preprocessor import FewShotDataPreProcessor
from .decode_heads import (ASPPFewShotHead, EnsembleFewShotHead, FeatureEnrichmentHead,
                           HypercorrelationHead, PPMFewShotHead)
from .losses import GraphContrastiveLoss, graph_contrastive_loss
from .necks import (CLIPPriorNeck, LearnedPositionalEncoding, MessageFlowNeck,
                    MessagePassing, OTGraphNeck, PartialOTMatchingNeck, PriorMaskNeck,
                    cosine_cost, prior_mask)
from .segmentors import FewShotSegmentor
from .utils import EpisodeFeatures, foreground_weights, masked_average_pooling

__all__ = [
    'VGG', 'HypercolumnResNet', 'FeatureEnrichmentHead', 'ASPPFewShotHead',
    'HypercorrelationHead', 'FewShotDataPreProcessor', 'FewShotSegmentor', 'PriorMaskNeck', 'prior_mask',
    'MessageFlowNeck', 'MessagePassing', 'LearnedPositionalEncoding', 'PartialOTMatchingNeck',
    'cosine_cost', 'CLIPPriorNeck', 'OTGraphNeck', 'GraphContrastiveLoss',
    'graph_contrastive_loss', 'PPMFewShotHead', 'EnsembleFewShotHead', 'EpisodeFeatures',
    'foreground_weights', 'masked_average_pooling'
]
