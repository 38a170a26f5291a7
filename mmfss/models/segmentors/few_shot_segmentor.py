from typing import Dict, List, Optional

import torch
import torch.nn as nn
from mmseg.models.segmentors import BaseSegmentor
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptConfigType, OptMultiConfig, OptSampleList, SampleList
from torch import Tensor

from ..utils import EpisodeFeatures

__all__ = ['FewShotSegmentor']


@MODELS.register_module()
class FewShotSegmentor(BaseSegmentor):
    """Few-shot segmentor: backbone -> necks -> decode head -> 2-class logits.

    The backbone (any mmseg backbone) encodes the query and the K supports of each episode
    with shared weights. Its multi-level outputs start an :class:`EpisodeFeatures` that each
    neck in ``necks`` reads and extends in order (prior maps, refined features, auxiliary
    losses), and the decode head turns it into [B, 2, h, w] logits (0 background, 1 the
    support class). ``loss()`` adds the necks' auxiliary losses to the decode loss;
    ``predict()`` returns SegDataSamples at the query's original size.

    Inputs (from :class:`~mmfss.models.FewShotDataPreProcessor`):
    ``dict(query=[B, 3, H, W], support=[B, K, 3, Hs, Ws], support_masks=[B, K, Hs, Ws])``.

    Args:
        backbone (dict): Backbone config.
        decode_head (dict): Decode head config (e.g. ``PPMFewShotHead``).
        necks (list[dict], optional): Episode necks, applied in order.
        freeze_backbone (bool): Keep the backbone in eval mode with no gradients (PFENet,
            BAM and CMNet stage 2 freeze a pretrained backbone).
        train_cfg, test_cfg, data_preprocessor, init_cfg: As in mmseg's segmentors.
    """

    def __init__(self,
                 backbone: ConfigType,
                 decode_head: ConfigType,
                 necks: Optional[List[ConfigType]] = None,
                 freeze_backbone: bool = False,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.necks = nn.ModuleList([MODELS.build(n) for n in (necks or [])])
        self.decode_head = MODELS.build(decode_head)
        self.align_corners = self.decode_head.align_corners
        self.num_classes = self.decode_head.num_classes
        self.out_channels = self.decode_head.out_channels
        self.freeze_backbone = freeze_backbone
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg
        if freeze_backbone:
            self.backbone.eval()
            for p in self.backbone.parameters():
                p.requires_grad = False

    def train(self, mode: bool = True) -> 'FewShotSegmentor':
        super().train(mode)
        if self.freeze_backbone:
            self.backbone.eval()
        return self

    # ------------------------------------------------------------------ features
    def _backbone(self, images: Tensor) -> List[Tensor]:
        if self.freeze_backbone:
            with torch.no_grad():
                return list(self.backbone(images))
        return list(self.backbone(images))

    def extract_feat(self,
                     inputs: Dict[str, Tensor],
                     batch_img_metas: Optional[List[dict]] = None,
                     query_masks: Optional[Tensor] = None) -> EpisodeFeatures:
        """Encode query and supports, then run the necks.

        Args:
            inputs (dict): ``query`` [B, 3, H, W], ``support`` [B, K, 3, Hs, Ws],
                ``support_masks`` [B, K, Hs, Ws].
            batch_img_metas (list[dict], optional): Metainfo of each episode.
            query_masks (Tensor, optional): Query ground truth [B, H, W] (training).

        Returns:
            EpisodeFeatures: the backbone levels extended by every neck.
        """
        for key in ('query', 'support', 'support_masks'):
            if key not in inputs:
                raise KeyError(f'FewShotSegmentor inputs need "{key}"; got {sorted(inputs)}. '
                               'Use FewShotDataPreProcessor.')
        query, support = inputs['query'], inputs['support']
        b, k = support.shape[:2]
        flat_support = support.flatten(0, 1)
        if query.shape[-2:] == support.shape[-2:]:
            feats = self._backbone(torch.cat([query, flat_support]))
            query_feats = [f[:b] for f in feats]
            support_feats = [f[b:] for f in feats]
        else:
            query_feats = self._backbone(query)
            support_feats = self._backbone(flat_support)
        support_feats = [f.view(b, k, *f.shape[1:]) for f in support_feats]
        feats = EpisodeFeatures(
            query_feats=query_feats,
            support_feats=support_feats,
            support_masks=inputs['support_masks'],
            query_inputs=query,
            support_inputs=support,
            img_metas=list(batch_img_metas or []),
            query_masks=query_masks)
        for neck in self.necks:
            feats = neck(feats)
        return feats

    def encode_decode(self, inputs: Dict[str, Tensor],
                      batch_img_metas: Optional[List[dict]] = None) -> Tensor:
        """Logits [B, 2, H, W] at the (padded) query input size."""
        logits = self.decode_head(self.extract_feat(inputs, batch_img_metas))
        return resize(logits, size=inputs['query'].shape[-2:], mode='bilinear',
                      align_corners=self.align_corners)

    @staticmethod
    def _metas(data_samples: OptSampleList) -> Optional[List[dict]]:
        return None if data_samples is None else [s.metainfo for s in data_samples]

    # ------------------------------------------------------------------ modes
    def loss(self, inputs: Dict[str, Tensor], data_samples: SampleList) -> dict:
        query_masks = torch.stack([s.gt_sem_seg.data[0] for s in data_samples])
        feats = self.extract_feat(inputs, self._metas(data_samples), query_masks)
        losses = self.decode_head.loss(feats, data_samples, self.train_cfg)
        losses = {f'decode.{k}': v for k, v in losses.items()}
        for name, value in feats.aux_losses.items():
            if name in losses:
                raise KeyError(f'auxiliary loss {name!r} is defined twice')
            losses[name] = value
        return losses

    def predict(self, inputs: Dict[str, Tensor], data_samples: OptSampleList = None) -> SampleList:
        if data_samples is None:
            raise ValueError('FewShotSegmentor.predict needs data_samples (metainfo with '
                             'ori_shape/padding_size of each query)')
        logits = self.encode_decode(inputs, self._metas(data_samples))
        return self.postprocess_result(logits, data_samples)

    def _forward(self, inputs: Dict[str, Tensor], data_samples: OptSampleList = None) -> Tensor:
        """Raw decode-head logits [B, 2, h, w] (``mode='tensor'``)."""
        return self.decode_head(self.extract_feat(inputs, self._metas(data_samples)))
