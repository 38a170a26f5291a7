from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

import torch

from torch import Tensor

__all__ = ['EpisodeFeatures']


@dataclass
class EpisodeFeatures:
    """Everything the necks and the decode head of a few-shot segmentor share.

    :class:`~mmfss.models.FewShotSegmentor` fills the backbone features and the inputs; each
    neck reads what it needs and adds its outputs (extra features, prior maps, auxiliary
    losses), so necks compose and are swapped by config alone.

    Attributes:
        query_feats (list[Tensor]): Backbone levels of the query, each [B, C_l, h_l, w_l].
        support_feats (list[Tensor]): Same levels of the supports, each
            [B, K, C_l, hs_l, ws_l].
        support_masks (Tensor): Binary support masks at input resolution [B, K, Hs, Ws]
            (int64: 0 background, 1 foreground, 255 ignore/padding).
        query_inputs (Tensor): Normalised query images [B, 3, H, W].
        support_inputs (Tensor): Normalised support images [B, K, 3, Hs, Ws].
        img_metas (list[dict]): Metainfo of each episode (``class_id``, ``ori_shape``, ...).
        query_masks (Tensor, optional): Query ground truth [B, H, W] (training only).
        priors (dict[str, Tensor]): Named prior maps, each [B, 1, h, w], for the head.
        aux_losses (dict[str, Tensor]): Auxiliary losses added by necks in training.
        extras (dict[str, Any]): Any other neck output that later modules read.
        support_cache (dict, optional): Set when the supports were encoded once for many
            queries (:class:`SupportEncoding` with one support set): results computed from
            the supports alone may be stored there and reused (:meth:`support_only`).
        support_groups (int): With ``support_cache``, the number of distinct support sets
            G (the ways): episode ``e`` uses the supports of episode ``e % G``.
        shot_priors (dict[str, Tensor]): Per-shot maps [B, K, h, w] of priors that are
            aggregated over the K shots (e.g. PFENet's prior), so that a module that
            weights the shots (BAM's K-shot reweighting in
            :class:`~mmfss.models.EnsembleFewShotHead`) can re-aggregate them.
        shot_weights (Tensor, optional): [B, K] weights of the shots (summing to 1) for the
            modules that aggregate over shots (priors, prototypes); None: the plain mean.
        run_stage (callable, optional): ``run_stage(x, level)`` applies the backbone stage
            that produces output ``level`` to ``x``, the output of the level before (e.g.
            layer4 of a ResNet on masked layer3 features, as PFENet's prior); set by
            :class:`~mmfss.models.FewShotSegmentor` (without gradients for a frozen
            backbone); None when the backbone's stages cannot be addressed.
        backbone (str): Class name of the backbone (for messages).
    """

    query_feats: List[Tensor]
    support_feats: List[Tensor]
    support_masks: Tensor
    query_inputs: Tensor
    support_inputs: Tensor
    img_metas: List[dict] = field(default_factory=list)
    query_masks: Optional[Tensor] = None
    priors: Dict[str, Tensor] = field(default_factory=dict)
    aux_losses: Dict[str, Tensor] = field(default_factory=dict)
    extras: Dict[str, Any] = field(default_factory=dict)
    support_cache: Optional[Dict[str, Any]] = None
    support_groups: int = 0
    shot_priors: Dict[str, Tensor] = field(default_factory=dict)
    shot_weights: Optional[Tensor] = None
    run_stage: Optional[Callable[[Tensor, int], Tensor]] = None
    backbone: str = ''

    def shot_mean(self, x: Tensor) -> Tensor:
        """Aggregate ``x`` [B, K, ...] over the shots: weighted by :attr:`shot_weights`
        when set, else the mean. Returns [B, ...]."""
        if self.shot_weights is None:
            return x.mean(dim=1)
        w = self.shot_weights.to(x.dtype)
        return (w.view(*w.shape, *([1] * (x.dim() - 2))) * x).sum(dim=1)

    @property
    def batch_size(self) -> int:
        return self.query_inputs.shape[0]

    @property
    def shot(self) -> int:
        return self.support_inputs.shape[1]

    def support_only(self, key: str, compute: Callable[[int], Any]) -> Any:
        """A result that depends on the supports alone, computed once per support encoding.

        Args:
            key (str): Unique name of the result in the cache (e.g. the neck's prior keys).
            compute (callable): ``compute(n)`` returns the result for the first ``n``
                episodes: a Tensor or a list/tuple of Tensors, each [n * r, ...] with the
                r rows of each episode together (e.g. r = K, one row per support).

        Returns:
            The result for every episode (each Tensor [B * r, ...]). Without a cache this is
            ``compute(B)``; with one, ``compute(G)`` is evaluated on the first use of the
            encoding, stored, and repeated to the batch (episode ``e`` gets row ``e % G``).
        """
        if self.support_cache is None:
            return compute(self.batch_size)
        groups = self.support_groups
        if key not in self.support_cache:
            self.support_cache[key] = compute(groups)
        cached = self.support_cache[key]
        repeats = self.batch_size // groups

        def expand(t: torch.Tensor) -> torch.Tensor:
            return t if repeats == 1 else t.repeat(repeats, *([1] * (t.dim() - 1)))

        if isinstance(cached, (list, tuple)):
            return type(cached)(expand(t) for t in cached)
        return expand(cached)
