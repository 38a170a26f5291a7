from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

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

    @property
    def batch_size(self) -> int:
        return self.query_inputs.shape[0]

    @property
    def shot(self) -> int:
        return self.support_inputs.shape[1]
