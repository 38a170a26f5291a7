"""Training, checkpointing and resuming under torch >= 2.6 (weights_only=True loading)."""
import copy
import pickle
import warnings

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.logging import HistoryBuffer
from mmengine.runner import Runner

from mmfss.utils import from_plain, load_from_local, to_plain, trust_checkpoint

from ..conftest import write_tiny_config


class _Snapshot(Hook):
    """Records the iteration, parameters and optimizer state when training starts/ends."""

    def __init__(self):
        self.at = {}

    def _take(self, runner, key):
        self.at[key] = dict(
            iter=runner.iter,
            params={k: v.detach().clone() for k, v in runner.model.state_dict().items()},
            optim=copy.deepcopy(runner.optim_wrapper.optimizer.state_dict()),
            loss_history=(runner.message_hub.log_scalars['train/loss'].data[0].copy()
                          if 'train/loss' in runner.message_hub.log_scalars else None))

    def before_train(self, runner):
        self._take(runner, 'start')

    def after_train(self, runner):
        self._take(runner, 'end')


def _runner(cfg_path, work_dir, max_iters, resume_from=None):
    cfg = Config.fromfile(cfg_path)
    cfg.work_dir = str(work_dir)
    cfg.train_cfg.max_iters = max_iters
    cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
    cfg.default_hooks.pop('visualization')
    if resume_from:
        cfg.resume = True
        cfg.load_from = resume_from
    runner = Runner.from_cfg(cfg)
    snap = _Snapshot()
    runner.register_hook(snap)
    return runner, snap


@pytest.mark.slow
def test_train_resume_continues(tmp_path, shapes_root):
    cfg = write_tiny_config(tmp_path / 'tiny.py', shapes_root, iters=6, ckpt_interval=3)
    first, snap1 = _runner(cfg, tmp_path / 'run', max_iters=3)
    first.train()
    ckpt = str(tmp_path / 'run' / 'iter_3.pth')

    # The checkpoint holds plain types only: it loads with weights_only=True.
    loaded = torch.load(ckpt, weights_only=True)
    assert isinstance(loaded['message_hub']['log_scalars']['train/loss'], dict)

    second, snap2 = _runner(cfg, tmp_path / 'run', max_iters=6, resume_from=ckpt)
    second.train()
    start, end1 = snap2.at['start'], snap1.at['end']
    assert end1['iter'] == 3 and start['iter'] == 3
    for k, v in end1['params'].items():
        torch.testing.assert_close(start['params'][k], v, rtol=0, atol=0, msg=k)
    s1, s2 = end1['optim']['state'], start['optim']['state']
    assert len(s1) > 0 and s1.keys() == s2.keys()
    for pid in s1:
        for name, value in s1[pid].items():
            torch.testing.assert_close(s2[pid][name], value, rtol=0, atol=0)
    assert start['optim']['param_groups'][0]['lr'] == end1['optim']['param_groups'][0]['lr']
    # the message hub history is restored as HistoryBuffers and keeps growing
    np.testing.assert_array_equal(start['loss_history'], end1['loss_history'])
    assert isinstance(second.message_hub.get_scalar('train/loss'), HistoryBuffer)
    assert len(snap2.at['end']['loss_history']) == 6
    assert snap2.at['end']['iter'] == 6
    # and training moved the parameters on from the resumed point
    moved = [not torch.equal(snap2.at['end']['params'][k], v)
             for k, v in start['params'].items() if v.is_floating_point()]
    assert any(moved)


def test_plain_roundtrip():
    buf = HistoryBuffer([1.0, 2.5], [1, 2], max_length=10)
    ckpt = dict(meta=dict(seed=np.int64(3), lr=np.float32(0.5), arr=np.arange(4)),
                message_hub=dict(log_scalars={'train/loss': buf}), tup=(np.float64(1.5), 'a'))
    plain = to_plain(copy.deepcopy(ckpt))
    assert plain['meta']['seed'] == 3 and type(plain['meta']['seed']) is int
    assert type(plain['tup'][0]) is float
    restored = from_plain(plain)
    out = restored['message_hub']['log_scalars']['train/loss']
    assert isinstance(out, HistoryBuffer) and out.max_length == 10
    np.testing.assert_array_equal(out.data[0], [1.0, 2.5])
    np.testing.assert_array_equal(restored['meta']['arr'], np.arange(4))
    with pytest.raises(TypeError, match='object'):
        to_plain(dict(x=object()))


def test_foreign_checkpoint_needs_explicit_trust(tmp_path):
    path = str(tmp_path / 'foreign.pth')
    torch.save(dict(state_dict=dict(w=torch.ones(2)), meta=dict(seed=np.float64(1.0))), path)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path)  # torch's default refuses it
    with pytest.raises(RuntimeError, match='foreign.pth.*trust'):
        load_from_local(path)
    trust_checkpoint(path)
    with pytest.warns(UserWarning, match='weights_only=False'):
        ckpt = load_from_local(path)
    assert ckpt['meta']['seed'] == 1.0
    plain = str(tmp_path / 'plain.pth')
    torch.save(dict(state_dict=dict(w=torch.ones(2))), plain)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert torch.equal(load_from_local(plain)['state_dict']['w'], torch.ones(2))
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        load_from_local(str(tmp_path / 'missing.pth'))
