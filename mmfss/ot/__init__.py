"""Optimal transport core shared by the DOTGraph and CMNet necks (no mmseg dependency)."""
from .partial_ot import augmented_problem, partial_ot
from .kernel_sinkhorn import (DOMAINS, KERNEL_MIN_EPS_PER_COST, kernel_sinkhorn_plan,
                             kernel_sinkhorn_scalings, use_kernel_domain)
from .log_sinkhorn import log_sinkhorn_plan, sinkhorn
from .precision import full_precision, island_dtype

__all__ = [
    'sinkhorn', 'partial_ot', 'log_sinkhorn_plan', 'augmented_problem',
    'kernel_sinkhorn_scalings', 'kernel_sinkhorn_plan', 'KERNEL_MIN_EPS_PER_COST', 'DOMAINS',
    'use_kernel_domain', 'full_precision', 'island_dtype'
]
