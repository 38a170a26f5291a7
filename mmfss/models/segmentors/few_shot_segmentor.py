from typing import Dict, List, Optional, Sequence

import torch
import torch.nn as nn
from mmengine.structures import PixelData
from mmseg.models.segmentors import BaseSegmentor
from mmseg.models.utils import resize
from mmseg.registry import MODELS
from mmseg.utils import ConfigType, OptConfigType, OptMultiConfig, OptSampleList, SampleList
from torch import Tensor

from torch.nn.modules.batchnorm import _BatchNorm

from ..utils import (BACKGROUND_RULES, EpisodeFeatures, LazyLevels, SupportEncoding, class_argmax,
                     fuse_ways)
from ..utils.backbone_stages import level_channels, prefix_runner, stage_runner

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

    N-way K-shot (inference): :meth:`encode_support` runs the backbone once on the supports
    of N classes, and :meth:`predict_with_support` predicts any number of query batches
    with them: the query features are computed once and shared by the N one-way episodes,
    which go through the necks and the head as one batch of B*N episodes; the N foreground
    probabilities are fused into a map of labels 0..N by :func:`~mmfss.models.utils.fuse_ways`
    (``test_cfg.background_rule``, default ``'mean'``; ``test_cfg.fg_threshold`` for
    ``'threshold'``). :meth:`predict` takes this path for N-way dataset episodes (metainfo
    ``ways`` > 1, supports ordered way by way).

    Backbones: any mmseg backbone that returns several levels (the ResNet family,
    MobileNetV2/V3, SwinTransformer, MixVisionTransformer, VisionTransformer with
    ``out_indices``, one of your own). ``in_channels='auto'`` in a neck or head config
    (and in the ensemble's ``meta_head``/``base_learner``) is filled from the levels it
    reads: the backbone's, probed once on the meta device, then those the necks append
    (their ``out_channels``). Where a backbone's stages can be addressed
    (:mod:`~mmfss.models.utils.backbone_stages`), ``EpisodeFeatures.run_stage`` runs the
    stage producing a level (PFENet's masked support stage); elsewhere it is None.

    Args:
        backbone (dict): Backbone config.
        decode_head (dict): Decode head config (e.g. ``PPMFewShotHead``).
        necks (list[dict], optional): Episode necks, applied in order.
        freeze_backbone (bool): Keep the backbone in eval mode with no gradients (PFENet,
            BAM and CMNet stage 2 freeze a pretrained backbone).
        defer_support_stage (bool): Run the backbone's last stage on the supports only when
            a neck or head reads that level (:class:`~mmfss.models.utils.LazyLevels`): the
            PFENet-style models read it masked (``PriorMaskNeck`` recomputes it), so the
            unmasked one is skipped, as PFENet's code does. Taken where the backbone's
            forward can be stopped before its last stage (mmseg's ResNet family, mmfss's VGG;
            :func:`~mmfss.models.utils.backbone_stages.prefix_runner`) and no batch norm of
            the backbone is in training mode (batch statistics would see other images); the
            outputs equal the joint pass's (tests/test_models/test_segmentors). False: the
            whole backbone on queries and supports together, always.
        backbone_channels_last (bool): Feed the backbone (and its stages) channels-last
            inputs, so that its convolutions run in the NHWC layout (oneDNN on the CPU,
            cuDNN's tensor-core kernels on a GPU); its outputs are handed on contiguous.
            Other convolution kernels, other rounding: 1.7e-6 relative on ResNet-50
            features, up to 1.8e-5 of the largest logit through BAM's VGG-16 (against BAM's
            code: 1.9e-6 without), above mmfss's 1e-5 parity tolerance, so off by default;
            the backbone runs 27% faster on a 2-core AMD EPYC (docs/speed.md).
        mask_support_input (bool): Multiply each support image by its foreground mask
            (label 1; background and ignore become 0 in the normalised image) before the
            backbone and every module that reads the support images (HDMNet
            ``extract_feats`` and PI-CLIP's CLIP encoder see masked supports; PFENet and
            BAM mask features, not images: False).
        train_cfg, test_cfg, data_preprocessor, init_cfg: As in mmseg's segmentors.
    """

    def __init__(self,
                 backbone: ConfigType,
                 decode_head: ConfigType,
                 necks: Optional[List[ConfigType]] = None,
                 freeze_backbone: bool = False,
                 defer_support_stage: bool = True,
                 backbone_channels_last: bool = False,
                 mask_support_input: bool = False,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self._stage_runner = stage_runner(self.backbone)
        self._prefix_runner = prefix_runner(self.backbone)
        self.defer_support_stage = defer_support_stage
        self.backbone_channels_last = backbone_channels_last
        self.mask_support_input = mask_support_input
        levels = (level_channels(self.backbone) if _wants_channels(necks, decode_head)
                  else None)
        self.necks = nn.ModuleList()
        for cfg in necks or []:
            self.necks.append(MODELS.build(_fill_channels(cfg, levels)))
            if levels is not None and getattr(self.necks[-1], 'out_channels', None):
                levels = levels + [int(self.necks[-1].out_channels)]
        self.decode_head = MODELS.build(_fill_channels(decode_head, levels))
        for neck in self.necks:  # necks that run a module of the model (PSPLevelNeck)
            if hasattr(neck, 'bind'):
                neck.bind(self)
        self.align_corners = self.decode_head.align_corners
        self.num_classes = self.decode_head.num_classes
        self.out_channels = self.decode_head.out_channels
        self.freeze_backbone = freeze_backbone
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg
        test_cfg = test_cfg or {}
        self.background_rule = test_cfg.get('background_rule', 'mean')
        self.fg_threshold = float(test_cfg.get('fg_threshold', 0.5))
        if self.background_rule not in BACKGROUND_RULES:
            raise ValueError(f'test_cfg.background_rule must be one of {BACKGROUND_RULES}, '
                             f'got {self.background_rule!r}')
        if not 0 < self.fg_threshold < 1:
            raise ValueError(f'test_cfg.fg_threshold must be in (0, 1), got {self.fg_threshold}')
        if freeze_backbone:
            self.backbone.eval()
            for p in self.backbone.parameters():
                p.requires_grad = False

    def init_weights(self) -> None:
        """Initialise as mmengine does, after checking that every local ``Pretrained``
        checkpoint of the submodules' ``init_cfg`` exists (a missing reference file names
        what to download and how to convert it, see :mod:`mmfss.utils.reference_weights`)."""
        from mmfss.utils.reference_weights import check_reference_files
        paths = []
        for module in self.modules():
            cfgs = getattr(module, 'init_cfg', None)
            for cfg in cfgs if isinstance(cfgs, list) else [cfgs]:
                if isinstance(cfg, dict) and cfg.get('type') == 'Pretrained' and isinstance(
                        cfg.get('checkpoint'), str) and '://' not in cfg['checkpoint']:
                    paths.append(cfg['checkpoint'])
        check_reference_files(dict.fromkeys(paths))
        super().init_weights()

    def train(self, mode: bool = True) -> 'FewShotSegmentor':
        super().train(mode)
        if self.freeze_backbone:
            self.backbone.eval()
        return self

    # ------------------------------------------------------------------ features
    @property
    def has_stages(self) -> bool:
        """Whether the backbone's stages can be addressed (see :meth:`run_backbone_stage`)."""
        return self._stage_runner is not None

    def run_backbone_stage(self, x: Tensor, level: int) -> Tensor:
        """Apply the backbone stage that produces output ``level`` to ``x``.

        ``x`` is (a function of) output ``level - 1``; e.g. ``layer4(x)`` for the last
        level of an mmseg ResNet with ``out_indices=(0, 1, 2, 3)``, the patch merging and
        blocks of the last stage for a Swin Transformer (see
        :mod:`~mmfss.models.utils.backbone_stages` for each family), frozen (no gradients)
        or not.

        Args:
            x (Tensor): [N, C_{level-1}, h, w] input of the stage.
            level (int): Index into the backbone's outputs (negative counts from the end).

        Returns:
            Tensor: [N, C_level, h', w'].

        Raises:
            TypeError: the backbone's stages cannot be addressed.
        """
        if self._stage_runner is None:
            raise TypeError(
                f'{type(self.backbone).__name__} does not expose its stages: it is none of '
                'the families of mmfss.models.utils.backbone_stages (ResNet, MobileNetV2/V3, '
                'SwinTransformer, MixVisionTransformer) and defines no run_stage(x, level)')
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.freeze_backbone):
            return self._in_layout(self._stage_runner, x, level)

    @property
    def _run_stage(self):
        return self.run_backbone_stage if self._stage_runner is not None else None

    def _backbone(self, images: Tensor) -> List[Tensor]:
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.freeze_backbone):
            outs = self._in_layout(self.backbone, images)
        if isinstance(outs, Tensor):
            raise TypeError(f'{type(self.backbone).__name__} returned one tensor; the few-shot '
                            'models read several levels: give it out_indices with two or '
                            'more levels')
        # a ViT with output_cls_token returns [map, cls token] per level: keep the map
        return [o[0] if isinstance(o, (list, tuple)) else o for o in outs]

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
        query = inputs['query']
        support = self._masked_support(inputs['support'], inputs['support_masks'])
        b, k = support.shape[:2]
        flat_support = support.flatten(0, 1)
        if self._can_defer_support_stage():
            query_feats, support_feats = self._encode_deferred(query, flat_support, b, k)
        else:
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
            query_masks=query_masks,
            run_stage=self._run_stage,
            backbone=type(self.backbone).__name__)
        return self._run_necks(feats)

    def _masked_support(self, support: Tensor, masks: Tensor) -> Tensor:
        """``support`` [..., 3, H, W] times its foreground ``masks`` [..., H, W] with
        ``mask_support_input``, else unchanged."""
        if not self.mask_support_input:
            return support
        return support * (masks == 1).unsqueeze(-3).to(support.dtype)

    def _in_layout(self, fn, x: Tensor, *args):
        """``fn(x, *args)`` with ``x`` channels-last when ``backbone_channels_last``; the
        output (a tensor, or a list/tuple of them) made contiguous again."""
        if not (self.backbone_channels_last and x.dim() == 4):
            return fn(x, *args)
        out = fn(x.contiguous(memory_format=torch.channels_last), *args)
        if isinstance(out, Tensor):
            return out.contiguous()
        return type(out)(o.contiguous() if isinstance(o, Tensor) else
                         type(o)(t.contiguous() for t in o) for o in out)

    def _can_defer_support_stage(self) -> bool:
        """Whether :meth:`extract_feat` may defer the supports' last backbone stage."""
        if not (self.defer_support_stage and self._prefix_runner is not None
                and self._stage_runner is not None):
            return False
        n = getattr(self.backbone, 'out_indices', None)
        if n is None or isinstance(n, int) or len(n) < 2:
            return False
        return not any(isinstance(m, _BatchNorm) and m.training
                       for m in self.backbone.modules())

    def _encode_deferred(self, query: Tensor, flat_support: Tensor, b: int, k: int):
        """Backbone levels of the queries, and of the supports with the last level deferred
        (:class:`LazyLevels`)."""
        last = len(self.backbone.out_indices) - 1
        grad = torch.is_grad_enabled() and not self.freeze_backbone
        with torch.set_grad_enabled(grad):
            if query.shape[-2:] == flat_support.shape[-2:]:
                levels = self._in_layout(self._prefix_runner, torch.cat([query, flat_support]),
                                         last - 1)
                query_levels = [f[:b] for f in levels]
                support_levels = [f[b:] for f in levels]
            else:
                query_levels = self._in_layout(self._prefix_runner, query, last - 1)
                support_levels = self._in_layout(self._prefix_runner, flat_support, last - 1)
            query_levels.append(self._in_layout(self._stage_runner, query_levels[-1], last))
        before = support_levels[-1]

        def compute() -> Tensor:
            with torch.set_grad_enabled(grad):
                out = self._in_layout(self._stage_runner, before, last)
            return out.view(b, k, *out.shape[1:])

        return query_levels, LazyLevels(
            [f.view(b, k, *f.shape[1:]) for f in support_levels] + [compute])

    def _run_necks(self, feats: EpisodeFeatures) -> EpisodeFeatures:
        for neck in self.necks:
            feats = neck(feats)
        return feats

    # ------------------------------------------------------------------ support reuse
    def encode_support(self,
                       support: Tensor,
                       support_masks: Tensor,
                       class_ids: Optional[Sequence] = None,
                       class_names: Optional[Sequence] = None) -> SupportEncoding:
        """Run the backbone once on the supports of one or more N-way K-shot tasks.

        Args:
            support (Tensor): Normalised support images [W, K, 3, Hs, Ws] (one task shared
                by every query) or [E, W, K, 3, Hs, Ws] (one task per episode).
            support_masks (Tensor): Masks [W, K, Hs, Ws] or [E, W, K, Hs, Ws] (1 foreground,
                0 background, 255 ignore).
            class_ids (sequence, optional): Class id of each way, [W] or [E][W].
            class_names (sequence, optional): Class name of each way, [W] or [E][W] (needed
                by text priors such as :class:`~mmfss.models.CLIPPriorNeck`).

        Returns:
            SupportEncoding: reusable with :meth:`predict_with_support`.
        """
        if support.dim() == 5:
            support, support_masks = support[None], support_masks[None]
            class_ids = None if class_ids is None else [list(class_ids)]
            class_names = None if class_names is None else [list(class_names)]
        if support.dim() != 6 or support.shape[3] != 3:
            raise ValueError('support must be [W, K, 3, H, W] or [E, W, K, 3, H, W], got '
                             f'{tuple(support.shape)}')
        if support_masks.shape != support.shape[:3] + support.shape[4:]:
            raise ValueError(f'support_masks {tuple(support_masks.shape)} do not match support '
                             f'images {tuple(support.shape)}')
        e, w, k = support.shape[:3]
        support = self._masked_support(support, support_masks)
        for name, value in (('class_ids', class_ids), ('class_names', class_names)):
            if value is not None and (len(value) != e or any(len(v) != w for v in value)):
                raise ValueError(f'{name} must give one entry per way for each of the {e} '
                                 f'support sets ({w} ways), got {value!r}')
        feats = self._backbone(support.flatten(0, 2))
        return SupportEncoding(
            support_inputs=support,
            support_masks=support_masks,
            support_feats=[f.view(e, w, k, *f.shape[1:]) for f in feats],
            class_ids=[[int(c) for c in v] for v in class_ids] if class_ids is not None else
            [[-1] * w for _ in range(e)],
            class_names=[list(v) for v in class_names] if class_names is not None else
            [[None] * w for _ in range(e)])

    def extract_feat_with_support(self,
                                  query: Tensor,
                                  encoding: SupportEncoding,
                                  batch_img_metas: Optional[List[dict]] = None
                                  ) -> EpisodeFeatures:
        """Encode a query batch and pair it with encoded supports: B*W one-way episodes.

        Episode ``b * W + n`` is query ``b`` with the supports of way ``n``; its metainfo is
        the query's with ``class_id``/``class_name`` of that way. The query backbone runs
        once per query; supports are not re-encoded.

        Args:
            query (Tensor): Normalised queries [B, 3, H, W].
            encoding (SupportEncoding): From :meth:`encode_support` with 1 or B sets.
            batch_img_metas (list[dict], optional): Metainfo of each query.

        Returns:
            EpisodeFeatures: of the B*W episodes, after every neck.
        """
        b, (e, w) = query.shape[0], (encoding.num_sets, encoding.ways)
        if e not in (1, b):
            raise ValueError(f'the encoding holds {e} support sets for {b} queries: it must '
                             'hold one (shared) or one per query')
        metas = list(batch_img_metas) if batch_img_metas else [{} for _ in range(b)]
        if len(metas) != b:
            raise ValueError(f'{len(metas)} metainfo dicts for {b} queries')

        def per_episode(t: Tensor) -> Tensor:  # [E, W, ...] -> [B * W, ...]
            if e == 1 and b > 1:
                t = t.expand(b, *t.shape[1:])
            return t.reshape(b * w, *t.shape[2:])

        def repeat_query(t: Tensor) -> Tensor:
            return t if w == 1 else t.repeat_interleave(w, dim=0)

        episode_metas = []
        for i, meta in enumerate(metas):
            s = i if e > 1 else 0
            for n in range(w):
                episode_metas.append(
                    dict(meta, class_id=encoding.class_ids[s][n],
                         class_name=encoding.class_names[s][n]))
        feats = EpisodeFeatures(
            query_feats=[repeat_query(f) for f in self._backbone(query)],
            support_feats=[per_episode(f) for f in encoding.support_feats],
            support_masks=per_episode(encoding.support_masks),
            query_inputs=repeat_query(query),
            support_inputs=per_episode(encoding.support_inputs),
            img_metas=episode_metas,
            support_cache=encoding.cache if e == 1 else None,
            support_groups=w,
            run_stage=self._run_stage,
            backbone=type(self.backbone).__name__)
        return self._run_necks(feats)

    def predict_with_support(self, query: Tensor, encoding: SupportEncoding,
                             data_samples: OptSampleList = None) -> SampleList:
        """Predict query batches with supports encoded once (inference, eval mode).

        Args:
            query (Tensor): Normalised queries [B, 3, H, W].
            encoding (SupportEncoding): From :meth:`encode_support`.
            data_samples (list[SegDataSample], optional): Metainfo of each query
                (``ori_shape``, ``padding_size``); without them the prediction stays at
                the input size.

        Returns:
            list[SegDataSample]: ``pred_sem_seg`` [1, H, W] with labels 0 (background) ..
            W (the W-th way) and ``seg_logits``: the two logits for W = 1, otherwise the
            W + 1 fused log-domain scores of :func:`~mmfss.models.utils.fuse_ways`
            (background score, then the foreground log-probability of each way).
        """
        if self.training:
            raise RuntimeError('predict_with_support reuses encoded supports and is meant for '
                               'inference: call model.eval() first')
        feats = self.extract_feat_with_support(query, encoding, self._metas(data_samples))
        logits = resize(self.decode_head(feats), size=query.shape[-2:], mode='bilinear',
                        align_corners=self.align_corners)
        w = encoding.ways
        if w > 1:
            log_probs = logits.log_softmax(1).view(query.shape[0], w, 2, *logits.shape[-2:])
            logits = fuse_ways(log_probs, self.background_rule, self.fg_threshold)
        return self.postprocess_result(logits, data_samples)

    def _predict_multiway(self, inputs: Dict[str, Tensor],
                          data_samples: SampleList, ways: int) -> SampleList:
        """N-way dataset episodes: supports [B, W*K, ...] ordered way by way."""
        support, masks = inputs['support'], inputs['support_masks']
        b, wk = support.shape[:2]
        if wk % ways:
            raise ValueError(f'{wk} supports cannot be split into {ways} ways')
        k = wk // ways
        metas = self._metas(data_samples)
        encoding = self.encode_support(
            support.view(b, ways, k, *support.shape[2:]),
            masks.view(b, ways, k, *masks.shape[2:]),
            class_ids=[m['class_ids'] for m in metas],
            class_names=[m.get('class_names') or [None] * ways for m in metas])
        return self.predict_with_support(inputs['query'], encoding, data_samples)

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
        ways = {int(s.metainfo.get('ways', 1)) for s in data_samples}
        if len(ways) != 1:
            raise ValueError(f'a batch mixes episodes of {sorted(ways)} ways')
        if ways != {1}:
            return self._predict_multiway(inputs, data_samples, ways.pop())
        direct = [bool(s.metainfo.get('score_from_features')) for s in data_samples]
        if all(direct):  # HSNet use_original_imgsize: one resize, head output -> score frame
            logits = self.decode_head(self.extract_feat(inputs, self._metas(data_samples)))
            return self.postprocess_result(logits, data_samples)
        if any(direct):
            raise ValueError('a batch mixes queries scored from the logits at their own '
                             'resolution (HSNet use_original_imgsize) and others')
        logits = self.encode_decode(inputs, self._metas(data_samples))
        return self.postprocess_result(logits, data_samples)

    def postprocess_result(self, seg_logits: Tensor,
                           data_samples: OptSampleList = None) -> SampleList:
        """mmseg's post-processing, or the scored frame of a reference protocol.

        A query whose metainfo holds ``score_shape`` (set by
        :class:`~mmfss.datasets.transforms.ProtocolTestResize`) has its logits, cropped of the
        batch padding, resized bilinearly to ``score_shape`` with ``score_align_corners``
        (PFENet/BAM: the label's longer side squared; HSNet: 400 x 400), where its label is;
        other queries are post-processed as :meth:`BaseSegmentor.postprocess_result` does
        (crop, flip back, resize to ``ori_shape``, argmax), with the argmax over contiguous
        class values (:func:`~mmfss.models.utils.class_argmax`, the same indices, 15x faster
        on a CPU).

        Queries marked ``score_from_features`` (HSNet ``use_original_imgsize``) come with the
        decode head's logits at their own resolution and are resized once, uncropped (their
        stretched inputs have no padding).

        Args:
            seg_logits (Tensor): [B, C, H, W] logits at the batch's input size (or the head's
                resolution, see above).
            data_samples (list[SegDataSample], optional): One per query.

        Returns:
            list[SegDataSample]: With ``seg_logits`` and ``pred_sem_seg``.
        """
        plain = data_samples is None or not any('score_shape' in s.metainfo for s in data_samples)
        # compiled: mmseg's own loop breaks the graph once (its crop reads numpy padding)
        if data_samples is None or seg_logits.shape[1] < 2 or (
                plain and torch.compiler.is_compiling()):
            return super().postprocess_result(seg_logits, data_samples)
        h, w = seg_logits.shape[-2:]
        for i, sample in enumerate(data_samples):
            meta = sample.metainfo
            if 'score_shape' in meta:
                left, right, top, bottom = (0, 0, 0, 0) if meta.get('score_from_features') \
                    else meta.get('padding_size', (0, 0, 0, 0))
                size, align_corners = meta['score_shape'], bool(
                    meta.get('score_align_corners', True))
            else:  # mmseg's BaseSegmentor.postprocess_result
                left, right, top, bottom = meta.get('img_padding_size',
                                                    meta.get('padding_size', (0, 0, 0, 0)))
                size, align_corners = meta['ori_shape'], self.align_corners
            logits = seg_logits[i:i + 1, :, top:h - bottom, left:w - right]
            flip = meta.get('flip') and 'score_shape' not in meta
            if flip:
                if meta.get('flip_direction') not in ('horizontal', 'vertical'):
                    raise ValueError(f"flip_direction must be 'horizontal' or 'vertical', got "
                                     f"{meta.get('flip_direction')!r}")
                logits = logits.flip(dims=(3, ) if meta['flip_direction'] == 'horizontal'
                                     else (2, ))
            logits = resize(logits, size=tuple(size), mode='bilinear',
                            align_corners=align_corners, warning=False)[0]
            sample.set_data(dict(seg_logits=PixelData(data=logits),
                                 pred_sem_seg=PixelData(data=class_argmax(logits)[None])))
        return data_samples

    def _forward(self, inputs: Dict[str, Tensor], data_samples: OptSampleList = None) -> Tensor:
        """Raw decode-head logits [B, 2, h, w] (``mode='tensor'``)."""
        return self.decode_head(self.extract_feat(inputs, self._metas(data_samples)))


def _wants_channels(*cfgs) -> bool:
    """Whether any config (nested in lists and dicts) asks for ``in_channels='auto'``."""
    def walk(node):
        if isinstance(node, dict):
            return node.get('in_channels') == 'auto' or any(walk(v) for v in node.values())
        if isinstance(node, (list, tuple)):
            return any(walk(v) for v in node)
        return False
    return walk(list(cfgs))


def _fill_channels(cfg: ConfigType, levels: Optional[List[int]]) -> ConfigType:
    """``cfg`` with every ``in_channels='auto'`` (also in nested module configs such as
    ``meta_head`` and ``base_learner``) replaced by the channels of the levels its
    ``in_index`` reads."""
    if not isinstance(cfg, dict):
        return cfg
    out = type(cfg)()
    for key, value in cfg.items():
        out[key] = _fill_channels(value, levels) if isinstance(value, dict) else value
    if out.get('in_channels') == 'auto':
        index = out.get('in_index', -1)
        try:
            out['in_channels'] = ([levels[i] for i in index] if isinstance(
                index, (list, tuple)) else levels[index])
        except IndexError:
            raise ValueError(f'{out.get("type")}: in_index {index} reads a level the backbone '
                             f'and the necks before it do not have (levels: {levels})')
    return out
