from .message_flow_neck import LearnedPositionalEncoding, MessageFlowNeck, MessagePassing
from .partial_ot_matching_neck import PartialOTMatchingNeck, cosine_cost
from .prior_mask_neck import PriorMaskNeck, prior_mask

__all__ = [
    'PriorMaskNeck', 'prior_mask', 'MessageFlowNeck', 'MessagePassing',
    'LearnedPositionalEncoding', 'PartialOTMatchingNeck', 'cosine_cost'
]
