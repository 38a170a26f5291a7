"""Every leaf config builds, with pretrained weights overridden, and trains/predicts a step."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from .conftest import REPO
from .test_models.test_segmentors.test_few_shot_segmentor import _batch
from .tiny_clip import TINY_CLIP

CONFIGS = sorted(p for p in glob.glob(f'{REPO}/configs/**/*.py', recursive=True)
                 if '_base_' not in p)


def test_configs_found():
    assert len(CONFIGS) >= 2


def _seg_batch(b=2, h=64, w=64, num_classes=16):
    samples = []
    for _ in range(b):
        s = SegDataSample()
        s.gt_sem_seg = PixelData(data=torch.randint(0, num_classes, (1, h, w)))
        s.set_metainfo(dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w)))
        samples.append(s)
    return dict(inputs=[torch.randint(0, 255, (3, h, w), dtype=torch.uint8) for _ in range(b)],
                data_samples=samples)


def _loader_dataset(cfg):
    dataset = cfg.train_dataloader.dataset
    return dataset.get('episodic', dataset)


def _step_segmentor(cfg):
    """Stage-1 configs: a standard mmseg segmentor on the base-class view."""
    cfg.model.pretrained = None
    cfg.model.data_preprocessor.size = (64, 64)
    model = revert_sync_batchnorm(MODELS.build(cfg.model))
    model.init_weights()
    num_classes = cfg.model.decode_head.num_classes
    base_classes = {'PASCAL5iDataset': 15, 'COCO20iDataset': 60}[_loader_dataset(cfg).type]
    assert num_classes == base_classes + 1 == cfg.model.auxiliary_head.num_classes
    data = model.data_preprocessor(_seg_batch(num_classes=num_classes), True)
    losses = model(**data, mode='loss')
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    model.eval()
    with torch.no_grad():
        out = model(**model.data_preprocessor(_seg_batch(b=1), False), mode='predict')
    assert out[0].pred_sem_seg.data.shape == (1, 64, 64)


def _step_few_shot(cfg):
    cfg.model.backbone.init_cfg = None  # no download (or stage-1 checkpoint) in tests
    for neck in cfg.model.get('necks', []):
        if neck.type == 'CLIPPriorNeck':  # a tiny random model of the same architecture
            neck.update(pretrained=None, model_cfg=TINY_CLIP[neck.model_name])
    if cfg.model.decode_head.get('base_learner_init'):
        cfg.model.decode_head.base_learner_init = None
    cfg.model.data_preprocessor.size = None  # keep the tiny batch tiny
    model = MODELS.build(cfg.model)
    model.init_weights()
    k = _loader_dataset(cfg).get('shot', 1)
    data = model.data_preprocessor(_batch(b=2, k=k, h=64, w=64, ori=(64, 64)), True)
    losses = model(**data, mode='loss')
    loss = sum(v for name, v in losses.items() if 'loss' in name)
    assert torch.isfinite(loss)
    loss.backward()
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert trainable and any(p.grad is not None and p.grad.abs().sum() > 0 for p in trainable)
    model.eval()
    with torch.no_grad():
        out = model(**model.data_preprocessor(_batch(b=1, k=k, h=64, w=64), False),
                    mode='predict')
    assert out[0].pred_sem_seg.data.shape == (1, 60, 50)
    assert cfg.val_evaluator.type == 'FewShotIoUMetric'
    # every model runs N-way inference with supports encoded once (the inferencer's path)
    data = model.data_preprocessor(_batch(b=2, k=k, h=64, w=64), False)
    sup = data['inputs']['support'][:1].expand(2, -1, -1, -1, -1)
    masks = data['inputs']['support_masks'][:1].expand(2, -1, -1, -1)
    with torch.no_grad():
        encoding = model.encode_support(sup, masks, [1, 2], ['aeroplane', 'bicycle'])
        out = model.predict_with_support(data['inputs']['query'], encoding,
                                         data['data_samples'])
    assert out[0].seg_logits.data.shape == (3, 60, 50)


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: osp.relpath(p, f'{REPO}/configs'))
def test_config_builds_and_steps(path):
    cfg = Config.fromfile(path)
    assert cfg.custom_imports.imports == ['mmfss'] and cfg.default_scope == 'mmseg'
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader', 'val_evaluator'):
        assert key in cfg
    torch.manual_seed(0)
    if cfg.model.type == 'EncoderDecoder':
        _step_segmentor(cfg)
    else:
        _step_few_shot(cfg)


def test_cmnet_config_conventions():
    """Stage 2 loads the stage-1 backbone of its own fold and freezes it; shots and folds
    reach every loader; ablations change only their module."""
    root = f'{REPO}/configs/cmnet'
    for ds, name in (('pascal5i', 'cmnet_r50-d8_1xb4-200e_pascal5i'),
                     ('coco20i', 'cmnet_r50-d8_4xb8-50e_coco20i')):
        for fold in range(4):
            for shot in (1, 5):
                cfg = Config.fromfile(f'{root}/{name}-fold{fold}-{shot}shot.py')
                init = cfg.model.backbone.init_cfg
                assert init.prefix == 'backbone.' and cfg.model.freeze_backbone
                assert init.checkpoint == cfg.stage1_checkpoint
                assert f'{ds}-base-fold{fold}/' in init.checkpoint
                stage1 = osp.basename(osp.dirname(init.checkpoint))
                assert osp.isfile(f"{REPO}/configs/base_learner/{stage1}.py")
                for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
                    assert cfg[key].dataset.fold == fold and cfg[key].dataset.shot == shot
                s1 = Config.fromfile(f"{REPO}/configs/base_learner/{stage1}.py")
                for key in ('train_dataloader', 'val_dataloader'):
                    assert s1[key].dataset.episodic.fold == fold
    _check_variants(root, 'cmnet_r50-d8_1xb4-200e_pascal5i-fold0-1shot')
    full = Config.fromfile(f'{root}/cmnet_r50-d8_1xb4-200e_pascal5i-fold0-1shot.py')
    partial = Config.fromfile(f'{root}/cmnet_r50-d8_1xb4-200e_pascal5i-fold0-1shot_full-ot.py')
    a, b = full.model.to_dict(), partial.model.to_dict()
    assert a['necks'][2].pop('transport') == 'partial' and b['necks'][2].pop('transport') == 'full'
    assert a == b


def _check_variants(root, name):
    """Every variant of a root config is a short file that inherits it."""
    for path in glob.glob(f'{root}/{name}_*.py'):
        with open(path) as f:
            text = f.read()
        assert f"_base_ = ['./{name}.py']" in text and len(text.splitlines()) <= 50, path


def test_dotgraph_config_conventions():
    """Backbone and base learner come from the base-class PSPNet of the same fold; the
    CLIP model names real weights; folds and shots reach every loader."""
    root = f'{REPO}/configs/dotgraph'
    for ds, name, n_base in (('pascal5i', 'dotgraph_r50-d8-vitb16_1xb4-100e_pascal5i', 16),
                             ('coco20i', 'dotgraph_r50-d8-vitb16_4xb2-50e_coco20i', 61)):
        for fold in range(4):
            for shot in (1, 5):
                cfg = Config.fromfile(f'{root}/{name}-fold{fold}-{shot}shot.py')
                ckpt = cfg.base_learner_checkpoint
                assert f'{ds}-base-fold{fold}/' in ckpt
                assert cfg.model.backbone.init_cfg.checkpoint == ckpt
                head = cfg.model.decode_head
                assert head.base_learner_init.checkpoint == ckpt
                assert head.base_learner_init.prefix == 'decode_head.'
                assert head.base_learner.num_classes == n_base
                stage1 = osp.basename(osp.dirname(ckpt))
                assert Config.fromfile(f'{REPO}/configs/base_learner/{stage1}.py'
                                       ).model.decode_head.num_classes == n_base
                clip = [n for n in cfg.model.necks if n.type == 'CLIPPriorNeck'][0]
                assert clip.model_name == 'ViT-B-16' and clip.pretrained == 'openai'
                for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
                    assert cfg[key].dataset.fold == fold and cfg[key].dataset.shot == shot
    _check_variants(root, 'dotgraph_r50-d8-vitb16_1xb4-100e_pascal5i-fold0-1shot')
    small = Config.fromfile(f'{root}/dotgraph_r50-d8-vitb16_1xb4-100e_pascal5i-fold0-1shot_225.py')
    assert small.model.data_preprocessor.size == (225, 225)
