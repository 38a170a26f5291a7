"""mmfss.evaluation.result_table: rows per method and config variant, cells from the runs'
own numbers, and two runs of one cell refused (never one silently kept)."""
import json
import os.path as osp

import pytest

from mmfss.evaluation.result_table import collect_runs, result_table

PAPER = {'cmnet': {'shapes5i': {'1': {'mIoU': [60.0, 61.0, 62.0, 63.0]}}}}


def _record(config, seed, miou, fold=0, work_root='/w'):
    name = osp.splitext(osp.basename(config))[0]
    return dict(config=f'/repo/configs/cmnet/{config}', method='cmnet', benchmark='shapes5i',
                fold=fold, shot=1, train_seed=seed, state='tested',
                work_dir=f'{work_root}/{name}_seed{seed}',
                overrides=[f'randomness.seed={seed}'],
                test=dict(metrics={'mIoU': dict(values=miou), 'FB-IoU': dict(values=miou)}))


BASE = 'cmnet_r18-d8_1xb8-2k_shapes5i-fold0-1shot.py'
VARIANT = 'cmnet_r18-d8_1xb8-2k_shapes5i-fold0-1shot_mfm-stride2.py'


def test_variant_configs_have_their_own_rows():
    records = [_record(BASE, 0, [50.0, 52.0]), _record(BASE, 1, [54.0]),
               _record(VARIANT, 0, [40.0]), _record(VARIANT, 1, [44.0])]
    rows = {r['method']: r for r in result_table(records, PAPER) if r['metric'] == 'mIoU'}
    assert sorted(rows) == ['cmnet', 'cmnet_mfm-stride2']
    base, variant = rows['cmnet']['cells'][0], rows['cmnet_mfm-stride2']['cells'][0]
    assert base['value'] == pytest.approx((51.0 + 54.0) / 2)  # run means, then over seeds
    assert base['train_std'] == pytest.approx(3.0 / 2**0.5)
    assert base['test_std'] == pytest.approx(2**0.5)  # the two-seed run's episode spread
    assert base['paper'] == 60.0 and base['diff'] == pytest.approx(52.5 - 60.0)
    assert variant['value'] == pytest.approx(42.0)
    assert variant['paper'] is None and variant['diff'] is None  # the paper's is the method's


def test_two_runs_of_one_cell_are_refused(tmp_path):
    # the same config swept twice (other --cfg-options) into one work root
    records = [_record(BASE, 0, [50.0], work_root='/a'), _record(BASE, 0, [58.0], work_root='/b')]
    with pytest.raises(ValueError, match=r'two runs of cmnet shapes5i 1-shot fold 0 training '
                       r'seed 0: /a/\S+ and /b/\S+'):
        result_table(records)
    # the tool says so in one error line
    import subprocess
    import sys
    for i, rec in enumerate(records):
        run = tmp_path / f'run{i}'
        run.mkdir()
        (run / 'sweep_run.json').write_text(json.dumps(rec))
    assert len(collect_runs([str(tmp_path)])) == 2
    repo = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    proc = subprocess.run([sys.executable, 'tools/analysis_tools/collect_results.py',
                           str(tmp_path)], cwd=repo, capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: two runs of cmnet')
