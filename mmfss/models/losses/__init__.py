from .attention_distillation_loss import AttentionDistillationLoss, attention_distillation_loss
from .graph_contrastive_loss import GraphContrastiveLoss, graph_contrastive_loss

__all__ = [
    'GraphContrastiveLoss', 'graph_contrastive_loss', 'AttentionDistillationLoss',
    'attention_distillation_loss'
]
