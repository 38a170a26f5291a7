import os
import os.path as osp

import pytest
import torch
from mmengine.registry import init_default_scope

import mmfss  # noqa: F401

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
SMALL_SHAPES = dict(num_train=160, num_val=80, data_seed=0)


def pytest_report_header(config):
    """The CPU and the instruction set of mmfss.ot's C++ passes, at the top of every run."""
    from mmfss.ot import kernel_passes
    return kernel_passes.describe()


@pytest.fixture(scope='session', autouse=True)
def _mmseg_scope():
    init_default_scope('mmseg')
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(scope='session')
def shapes_root(tmp_path_factory):
    """A small Shapes-5i copy (160 train / 80 val images) shared by the session."""
    from mmfss.datasets import generate_shapes5i
    root = str(tmp_path_factory.mktemp('data') / 'shapes5i-small')
    generate_shapes5i(root, seed=SMALL_SHAPES['data_seed'], num_train=SMALL_SHAPES['num_train'],
                      num_val=SMALL_SHAPES['num_val'])
    return root


def small_shapes_cfg(root, **kwargs):
    """Dataset kwargs for the small copy."""
    cfg = dict(type='Shapes5iDataset', data_root=root, num_train=SMALL_SHAPES['num_train'],
               num_val=SMALL_SHAPES['num_val'], data_seed=SMALL_SHAPES['data_seed'])
    cfg.update(kwargs)
    return cfg


TINY_CONFIG = """
_base_ = ['{repo}/configs/baseline/fss-baseline_r18-d8_1xb8-2k_shapes5i-fold0-1shot.py']
ds = dict(data_root='{root}', num_train={num_train}, num_val={num_val}, data_seed={data_seed})
train_dataloader = dict(
    batch_size=2, num_workers=0, persistent_workers=False, dataset=ds)
val_dataloader = dict(
    batch_size=4, num_workers=0, persistent_workers=False,
    dataset=dict(ds, num_episodes={episodes}))
test_dataloader = val_dataloader
model = dict(
    backbone=dict(stem_channels=8, base_channels=8),
    decode_head=dict(in_channels=[16, 32], channels=16))
train_cfg = dict(max_iters={iters}, val_interval={val_interval})
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end={iters}, by_epoch=False)
]
default_hooks = dict(
    checkpoint=dict(interval={ckpt_interval}), logger=dict(interval=1))
"""


def write_tiny_config(path, root, iters=4, ckpt_interval=2, val_interval=1000, episodes=16):
    """A CPU-second-sized training config on the small Shapes-5i copy."""
    text = TINY_CONFIG.format(repo=REPO, root=root, iters=iters, ckpt_interval=ckpt_interval,
                              val_interval=val_interval, episodes=episodes, **SMALL_SHAPES)
    with open(path, 'w') as f:
        f.write(text)
    return str(path)


@pytest.fixture(scope='session', autouse=True)
def _stats_cache(tmp_path_factory):
    """Keep the datasets' label-statistics cache out of the user's home during tests."""
    old = os.environ.get('MMFSS_CACHE_DIR')
    os.environ['MMFSS_CACHE_DIR'] = str(tmp_path_factory.mktemp('mmfss-cache'))
    yield
    if old is None:
        os.environ.pop('MMFSS_CACHE_DIR', None)
    else:
        os.environ['MMFSS_CACHE_DIR'] = old


@pytest.fixture(scope='session')
def trained_shapes_model(tmp_path_factory, shapes_root):
    """(config, checkpoint) of the tiny baseline trained for 40 iterations on Shapes-5i."""
    from mmengine.config import Config
    from mmengine.runner import Runner
    folder = tmp_path_factory.mktemp('trained')
    config = write_tiny_config(folder / 'tiny.py', shapes_root, iters=40, ckpt_interval=40)
    cfg = Config.fromfile(config)
    cfg.work_dir = str(folder / 'work')
    Runner.from_cfg(cfg).train()
    checkpoint = folder / 'work' / 'iter_40.pth'
    assert checkpoint.is_file()
    return config, str(checkpoint)
