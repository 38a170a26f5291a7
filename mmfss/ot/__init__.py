"""Optimal transport core shared by the DOTGraph and CMNet necks (no mmseg dependency)."""
from .partial_ot import augmented_problem, partial_ot
from .log_sinkhorn import log_sinkhorn_plan, sinkhorn

__all__ = ['sinkhorn', 'partial_ot', 'log_sinkhorn_plan', 'augmented_problem']
