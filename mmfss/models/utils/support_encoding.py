from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from torch import Tensor

__all__ = ['SupportEncoding']


@dataclass
class SupportEncoding:
    """Support images of one or more episodes, encoded once by the backbone.

    Made by :meth:`~mmfss.models.FewShotSegmentor.encode_support` and passed to
    :meth:`~mmfss.models.FewShotSegmentor.predict_with_support`, so that the supports of an
    N-way K-shot task are encoded once and reused for any number of query batches.

    ``E`` is the number of support sets: 1 when every query of a batch shares them (the
    inferencer), or the batch size when each episode has its own (N-way dataset episodes).
    ``W`` is the number of ways (classes) and ``K`` the shots of each class.

    Attributes:
        support_inputs (Tensor): Normalised support images [E, W, K, 3, Hs, Ws].
        support_masks (Tensor): Binary support masks [E, W, K, Hs, Ws] (0, 1, 255 ignore).
        support_feats (list[Tensor]): Backbone levels, each [E, W, K, C_l, hs_l, ws_l].
        class_ids (list[list[int]]): [E][W] class id of each way (-1 when unknown).
        class_names (list[list[str | None]]): [E][W] class name of each way (text priors).
        cache (dict[str, Any]): Results that necks compute from the supports alone (e.g. the
            CLIP priors of the supports), filled on first use when ``E == 1`` and reused by
            later query batches (see :meth:`EpisodeFeatures.support_only`).
    """

    support_inputs: Tensor
    support_masks: Tensor
    support_feats: List[Tensor]
    class_ids: List[List[int]]
    class_names: List[List[Optional[str]]]
    cache: Dict[str, Any] = field(default_factory=dict)

    @property
    def num_sets(self) -> int:
        return self.support_inputs.shape[0]

    @property
    def ways(self) -> int:
        return self.support_inputs.shape[1]

    @property
    def shot(self) -> int:
        return self.support_inputs.shape[2]
