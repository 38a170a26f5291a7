"""Every leaf config builds, with pretrained weights overridden, and trains/predicts a step."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmseg.registry import MODELS

from .conftest import REPO
from .test_models.test_segmentors.test_few_shot_segmentor import _batch

CONFIGS = sorted(p for p in glob.glob(f'{REPO}/configs/**/*.py', recursive=True)
                 if '_base_' not in p)


def test_configs_found():
    assert len(CONFIGS) >= 2


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: osp.relpath(p, f'{REPO}/configs'))
def test_config_builds_and_steps(path):
    cfg = Config.fromfile(path)
    assert cfg.custom_imports.imports == ['mmfss'] and cfg.default_scope == 'mmseg'
    cfg.model.backbone.init_cfg = None  # no download in tests
    cfg.model.data_preprocessor.size = None  # keep the tiny batch tiny
    model = MODELS.build(cfg.model)
    model.init_weights()
    data = model.data_preprocessor(_batch(b=2, k=1, h=64, w=64, ori=(64, 64)), True)
    losses = model(**data, mode='loss')
    loss = sum(v for k, v in losses.items() if 'loss' in k)
    assert torch.isfinite(loss)
    loss.backward()
    model.eval()
    with torch.no_grad():
        out = model(**model.data_preprocessor(_batch(b=1, h=64, w=64), False), mode='predict')
    assert out[0].pred_sem_seg.data.shape == (1, 60, 50)
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader', 'val_evaluator'):
        assert key in cfg
    assert cfg.val_evaluator.type == 'FewShotIoUMetric'
