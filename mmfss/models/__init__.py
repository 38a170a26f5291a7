from .data_preprocessor import FewShotDataPreProcessor
from .decode_heads import PPMFewShotHead
from .necks import (LearnedPositionalEncoding, MessageFlowNeck, MessagePassing,
                    PartialOTMatchingNeck, PriorMaskNeck, cosine_cost, prior_mask)
from .segmentors import FewShotSegmentor
from .utils import EpisodeFeatures, foreground_weights, masked_average_pooling

__all__ = [
    'FewShotDataPreProcessor', 'FewShotSegmentor', 'PriorMaskNeck', 'prior_mask',
    'MessageFlowNeck', 'MessagePassing', 'LearnedPositionalEncoding', 'PartialOTMatchingNeck',
    'cosine_cost',
    'PPMFewShotHead', 'EpisodeFeatures', 'foreground_weights', 'masked_average_pooling'
]
