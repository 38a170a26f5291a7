"""End-to-end runs of tools/train.py, tools/test.py and the torchrun launch scripts on CPU."""
import glob
import json
import os
import os.path as osp
import re
import socket
import subprocess
import sys
import zipfile

import pytest

from ..conftest import REPO, write_tiny_config


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _run(cmd, **kw):
    env = dict(os.environ, PYTHON=sys.executable, PORT=str(_free_port()), OMP_NUM_THREADS='1')
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
                          **kw)
    assert proc.returncode == 0, f'{cmd} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}'
    return proc.stdout + proc.stderr


def _metrics(work_dir):
    """The evaluation metrics mmengine wrote as json into the test work dir."""
    found = []
    for dirpath, _, files in os.walk(work_dir):
        found += [osp.join(dirpath, f) for f in files if re.fullmatch(r'\d{8}_\d{6}\.json', f)]
    assert found, f'no metrics json under {work_dir}'
    with open(sorted(found)[-1]) as f:
        return json.load(f)


@pytest.mark.slow
def test_train_then_test_cli(tmp_path, shapes_root):
    cfg = write_tiny_config(tmp_path / 'tiny.py', shapes_root, iters=2, ckpt_interval=2)
    work = tmp_path / 'work'
    _run([sys.executable, 'tools/train.py', cfg, '--work-dir', str(work)])
    ckpt = work / 'iter_2.pth'
    assert ckpt.is_file()
    # resume from a named checkpoint and train two more iterations
    out = _run([sys.executable, 'tools/train.py', cfg, '--work-dir', str(work), '--resume',
                str(ckpt), '--cfg-options', 'train_cfg.max_iters=4'])
    assert 'resumed epoch: 0, iter: 2' in out
    assert (work / 'iter_4.pth').is_file()
    # --show-dir without an interval: every episode (the config's hook says interval 50)
    _run([sys.executable, 'tools/test.py', cfg, str(work / 'iter_4.pth'), '--work-dir',
          str(tmp_path / 'test'), '--out', str(tmp_path / 'preds'), '--show-dir',
          str(tmp_path / 'show')])
    metrics = _metrics(tmp_path / 'test')
    assert metrics['episodes'] == 16
    assert 0 <= metrics['mIoU'] <= 100 and 0 <= metrics['FB-IoU'] <= 100
    # --out: one prediction per episode; --show-dir: one drawing per episode
    assert len(list((tmp_path / 'preds').glob('*.png'))) == 16
    drawn = list((tmp_path / 'show' / 'vis_data' / 'vis_image').glob('test_*.png'))  # --help
    assert len(drawn) == 16 and all(p.stat().st_size > 0 for p in drawn)
    # --seeds 3: episode seeds 0, 1, 2 with one model load; seed 0 repeats the run above
    out = _run([sys.executable, 'tools/test.py', cfg, str(work / 'iter_4.pth'), '--work-dir',
                str(tmp_path / 'seeds'), '--seeds', '3', '--dump-episodes',
                str(tmp_path / 'episodes.tsv')])
    with open(tmp_path / 'seeds' / 'seeds_summary.json') as f:
        summary = json.load(f)
    assert summary['seeds'] == [0, 1, 2]
    miou = summary['metrics']['mIoU']
    assert len(miou['values']) == 3 and miou['values'][0] == pytest.approx(metrics['mIoU'])
    assert len(set(miou['values'])) > 1  # other episodes, other numbers
    assert miou['mean'] == pytest.approx(sum(miou['values']) / 3)
    mean = miou['mean']
    assert miou['std'] == pytest.approx((sum((v - mean)**2 for v in miou['values']) / 3)**0.5)
    assert 'over 3 episode seeds [0, 1, 2]: mIoU:' in out
    # --dump-episodes: the episodes of the (first) test set, which episodes_file= reads back
    from mmfss.datasets.protocols import read_episodes_file
    dumped = read_episodes_file(str(tmp_path / 'episodes.tsv'))
    assert len(dumped) == 16 and all(len(s) == 1 for _, s, _ in dumped)
    assert '16 episodes written to' in out


def _load_tool(name):
    import importlib.util
    spec = importlib.util.spec_from_file_location(f'mmfss_{name}_tool', f'{REPO}/tools/{name}.py')
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


def test_cli_error_is_one_line_and_exit_2(tmp_path):
    """As a process: exit status 2, one ``error:`` line on stderr, no traceback."""
    proc = subprocess.run([sys.executable, 'tools/test.py', str(tmp_path / 'nope.py'), 'x.pth'],
                          cwd=REPO, capture_output=True, text=True, timeout=300)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr[-2000:]
    assert lines[0].startswith('error: config file ') and 'nope.py does not exist' in lines[0]


def test_cli_errors(tmp_path, monkeypatch, capsys):
    """Every case of bad input to tools/train.py and tools/test.py: one error line, exit 2,
    before anything is built."""
    tools = {name: _load_tool(name) for name in ('train', 'test')}

    def fails(name, *argv):
        monkeypatch.setattr(sys, 'argv', [f'{name}.py', *map(str, argv)])
        assert tools[name].main() == 2
        captured = capsys.readouterr()
        lines = [line for line in captured.err.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith('error: '), captured.err[-2000:]
        assert 'Traceback' not in captured.err + captured.out
        return lines[0]

    typo = f'{REPO}/configs/baseline/fss-baseline_r18-d8_1xb8-2k_shapes5i-fold0-1shto.py'
    line = fails('train', typo)
    assert '1shto.py does not exist (similar names in' in line and '1shot.py' in line
    broken = tmp_path / 'broken.py'
    broken.write_text('model = dict(type=\n')
    assert 'broken.py cannot be loaded: SyntaxError' in fails('train', broken)
    cfg = write_tiny_config(tmp_path / 'tiny.py', str(tmp_path / 'data'))
    ckpt = tmp_path / 'c.pth'
    ckpt.write_bytes(b'')
    text = tmp_path / 'notes.pth'
    text.write_text('not a checkpoint')
    for extra, message in ((['--seeds', '0'], '--seeds must be >= 1'),
                           (['--seeds', '2', '--out', 'o'], 'use it without --seeds'),
                           (['--data-root', tmp_path / 'nowhere'], 'nowhere is not a folder'),
                           (['--cfg-options', 'model'], "'model': expected KEY=VALUE")):
        assert message in fails('test', cfg, ckpt, *extra)
    assert 'missing.pth does not exist' in fails('test', cfg, tmp_path / 'missing.pth')
    assert 'notes.pth is not a PyTorch checkpoint' in fails('test', cfg, text)
    assert '--resume checkpoint' in fails('train', cfg, '--resume', tmp_path / 'gone.pth')
    line = fails('train', cfg, '--data-root', tmp_path / 'nowhere')
    assert '--data-root' in line and 'nowhere' in line
    # a benchmark config without its data: said before anything is built
    pascal = f'{REPO}/configs/baseline/fss-baseline_r50-d8_4xb4-20k_pascal5i-fold0-1shot.py'
    zipped = tmp_path / 'zipped.pth'  # passes the checkpoint check (torch.save's zip format)
    with zipfile.ZipFile(zipped, 'w') as z:
        z.writestr('archive/data.pkl', b'')
    monkeypatch.chdir(tmp_path)
    for line in (fails('train', pascal), fails('test', pascal, zipped)):
        assert line.startswith('error: data root data/VOCdevkit/VOC2012 does not exist '
                               '(PASCAL5iDataset of '), line
    # mmseg's --tta is not offered (no few-shot TTA pipeline exists)
    monkeypatch.setattr(sys, 'argv', ['test.py', cfg, str(ckpt), '--tta'])
    with pytest.raises(SystemExit) as exit_info:
        tools['test'].main()
    assert exit_info.value.code == 2
    assert 'unrecognized arguments: --tta' in capsys.readouterr().err


TOOLS = sorted(osp.relpath(p, f'{REPO}/tools') for pattern in ('*.py', '*/*.py')
               for p in glob.glob(f'{REPO}/tools/{pattern}')
               if not osp.basename(p).startswith('_'))  # private helpers are no tools


@pytest.mark.parametrize('tool', TOOLS)
def test_help_imports_no_framework(tool):
    """--help parses arguments before torch/mmengine/mmseg are imported (it answers at once)."""
    code = ('import runpy, sys; sys.argv = [sys.argv[1], "--help"]\n'
            'try:\n    runpy.run_path(sys.argv[0], run_name="__main__")\n'
            'except SystemExit as e:\n    assert e.code == 0, e.code\n'
            'heavy = sorted(m for m in ("torch", "mmengine", "mmseg", "mmcv") '
            'if m in sys.modules)\nprint("HEAVY", heavy)')
    proc = subprocess.run([sys.executable, '-c', code, f'{REPO}/tools/{tool}'], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'usage:' in proc.stdout and 'HEAVY []' in proc.stdout, proc.stdout[-500:]


@pytest.mark.slow
def test_dist_train_and_test_two_processes(tmp_path, shapes_root):
    """2 CPU processes (gloo) through tools/dist_train.sh and tools/dist_test.sh."""
    cfg = write_tiny_config(tmp_path / 'tiny.py', shapes_root, iters=2, ckpt_interval=2,
                            episodes=20)
    work = tmp_path / 'dist'
    out = _run(['bash', 'tools/dist_train.sh', cfg, '2', '--work-dir', str(work)])
    assert 'Distributed training: True' in out and 'GPU number: 2' in out  # 2 processes
    assert "dist_cfg=dict(backend='gloo')" in out
    ckpt = work / 'iter_2.pth'
    assert ckpt.is_file()
    _run(['bash', 'tools/dist_test.sh', cfg, str(ckpt), '2', '--work-dir', str(tmp_path / 't2')])
    _run([sys.executable, 'tools/test.py', cfg, str(ckpt), '--work-dir', str(tmp_path / 't1')])
    two, one = _metrics(tmp_path / 't2'), _metrics(tmp_path / 't1')
    assert two['episodes'] == one['episodes'] == 20
    timing = {'time', 'data_time'}
    two = {k: v for k, v in two.items() if k not in timing}
    one = {k: v for k, v in one.items() if k not in timing}
    assert two == one  # each episode counted once: identical numbers
