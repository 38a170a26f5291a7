"""tools/sweep.py and tools/analysis_tools/collect_results.py on a tiny Shapes-5i config:
2 folds x 2 training seeds, one run interrupted and resumed, finished runs never redone,
then the table: its cells are the runs' own numbers, a missing run shows as missing."""
import json
import os
import os.path as osp
import subprocess
import sys

import pytest

from ..conftest import REPO, write_tiny_config


def _run(args, check=True):
    proc = subprocess.run([sys.executable] + args, cwd=REPO, capture_output=True, text=True)
    if check:
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def _records(root):
    out = {}
    for name in sorted(os.listdir(root)):
        path = osp.join(root, name, 'sweep_run.json')
        if osp.isfile(path):
            with open(path) as f:
                out[name] = json.load(f)
    return out


@pytest.mark.slow
def test_sweep_resume_and_collect(shapes_root, tmp_path):
    configs = tmp_path / 'configs' / 'baseline'
    configs.mkdir(parents=True)
    write_tiny_config(configs / 'fss-baseline_tiny_1xb2-4it_shapes5i-fold0-1shot.py',
                      shapes_root, iters=4, ckpt_interval=2, episodes=16)
    root = tmp_path / 'sweep'
    base = ['tools/sweep.py', '--method', 'fss-baseline', '--benchmark', 'shapes5i',
            '--configs-dir', str(tmp_path / 'configs'), '--work-root', str(root),
            '--test-seeds', '2']
    # the plan, nothing run
    plan = _run(base + ['--folds', '0', '1', '--train-seeds', '0', '1', '--dry-run']).stdout
    assert plan.count(': planned') == 4 and 'test_dataloader.dataset.fold=1' in plan
    assert not root.exists() or not _records(root)
    # fold 0, both seeds
    _run(base + ['--folds', '0', '--train-seeds', '0', '1'])
    first = _records(root)
    assert sorted(first) == ['fss-baseline_tiny_1xb2-4it_shapes5i-fold0-1shot_seed0',
                             'fss-baseline_tiny_1xb2-4it_shapes5i-fold0-1shot_seed1']
    assert all(r['state'] == 'tested' and len(r['test']['metrics']['mIoU']['values']) == 2
               for r in first.values())
    stamps = {n: osp.getmtime(root / n / 'sweep_run.json') for n in first}
    # an interrupted run: fold 1, seed 0 trained to iteration 2 of 4, then stopped
    interrupted = root / 'fss-baseline_tiny_1xb2-4it_shapes5i-fold1-1shot_seed0'
    _run(['tools/train.py', str(configs / 'fss-baseline_tiny_1xb2-4it_shapes5i-fold0-1shot.py'),
          '--work-dir', str(interrupted), '--cfg-options', 'train_dataloader.dataset.fold=1',
          'val_dataloader.dataset.fold=1', 'test_dataloader.dataset.fold=1',
          'randomness.seed=0', 'train_cfg.max_iters=2'])
    assert (interrupted / 'iter_2.pth').exists() and not (interrupted / 'iter_4.pth').exists()
    out = _run(base + ['--folds', '0', '1', '--train-seeds', '0', '1']).stdout
    assert out.count('done, skipped') == 2 and 'fold1-1shot_seed0: resuming' in out
    assert 'fold1-1shot_seed1: training' in out and 'sweep: 2 tested, 2 already done' in out
    assert all(osp.getmtime(root / n / 'sweep_run.json') == t for n, t in stamps.items())
    with open(interrupted / 'sweep_train.log') as f:
        log = f.read()
    assert 'resumed epoch: 0, iter: 2' in log and (interrupted / 'iter_4.pth').exists()
    records = _records(root)
    assert len(records) == 4 and all(r['state'] == 'tested' for r in records.values())
    # a run that failed counts as missing in its cell, never averaged over
    failed = root / 'fss-baseline_tiny_1xb2-4it_shapes5i-fold1-1shot_seed1' / 'sweep_run.json'
    record = json.loads(failed.read_text())
    failed.write_text(json.dumps(dict(record, state='failed', error='killed')))
    table_dir = tmp_path / 'table'
    printed = _run(['tools/analysis_tools/collect_results.py', str(root), '--out-dir',
                    str(table_dir)]).stdout
    result = json.loads((table_dir / 'results.json').read_text())
    miou = next(r for r in result['rows'] if r['metric'] == 'mIoU')
    assert (miou['method'], miou['benchmark'], miou['shot']) == ('fss-baseline', 'shapes5i', 1)
    runs = {(r['fold'], r['train_seed']): r['test']['metrics']['mIoU']['values']
            for r in records.values()}
    fold0 = miou['cells']['0']
    means = [sum(runs[(0, s)]) / 2 for s in (0, 1)]
    assert fold0['value'] == pytest.approx(sum(means) / 2, abs=1e-9)
    assert fold0['train_std'] == pytest.approx(abs(means[0] - means[1]) / 2**0.5, abs=1e-9)
    assert fold0['n_train'] == 2 and fold0['missing'] == []
    fold1 = miou['cells']['1']
    assert fold1['value'] == pytest.approx(sum(runs[(1, 0)]) / 2, abs=1e-9)
    assert fold1['missing'] == ['seed 1'] and fold1['train_std'] is None
    assert miou['cells']['2']['value'] is None and miou['cells']['3']['missing'] == [
        'seed 0', 'seed 1']
    mean = miou['cells']['mean']
    assert mean['value'] is None and mean['missing'] == ['fold 2', 'fold 3']
    assert 'missing (fold 2, fold 3)' in printed and 'failed runs:' in printed
    for ext in ('md', 'csv', 'png'):
        assert (table_dir / f'results.{ext}').stat().st_size > 0
    # bad input: one error line
    proc = _run(['tools/analysis_tools/collect_results.py', str(tmp_path / 'none')], check=False)
    assert proc.returncode == 2 and proc.stderr.strip().startswith('error:')
    proc = _run(['tools/sweep.py', '--method', 'cmnet'], check=False)
    assert proc.returncode == 2 and 'error: give config files, or --method and --benchmark' \
        in proc.stderr
