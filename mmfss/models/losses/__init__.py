from .graph_contrastive_loss import GraphContrastiveLoss, graph_contrastive_loss

__all__ = ['GraphContrastiveLoss', 'graph_contrastive_loss']
