from .clip_prior_neck import BG_PROMPTS, CLIP_ES_BACKGROUND, CLIPPriorNeck
from .clip_similarity_neck import CLIPSimilarityNeck
from .message_flow_neck import LearnedPositionalEncoding, MessageFlowNeck, MessagePassing
from .ot_graph_neck import DualBranchGraphLayer, OTGraphNeck, squared_euclidean_cost
from .partial_ot_matching_neck import PartialOTMatchingNeck, cosine_cost
from .prior_mask_neck import PriorMaskNeck, prior_mask
from .psp_level_neck import PSPLevelNeck, psp_bottleneck

__all__ = [
    'PriorMaskNeck', 'prior_mask', 'MessageFlowNeck', 'MessagePassing',
    'LearnedPositionalEncoding', 'PartialOTMatchingNeck', 'cosine_cost', 'CLIPPriorNeck',
    'BG_PROMPTS', 'CLIP_ES_BACKGROUND', 'OTGraphNeck', 'DualBranchGraphLayer',
    'squared_euclidean_cost', 'PSPLevelNeck', 'psp_bottleneck',
    'CLIPSimilarityNeck'
]
