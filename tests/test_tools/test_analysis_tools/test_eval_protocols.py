"""tools/analysis_tools/eval_protocols.py: one checkpoint under every protocol, one table."""
import json
import subprocess
import sys

from ...conftest import REPO

TOOL = f'{REPO}/tools/analysis_tools/eval_protocols.py'


def test_every_protocol_in_one_table(tmp_path, trained_shapes_model):
    from mmengine.config import Config
    from mmengine.runner import Runner
    config, checkpoint = trained_shapes_model
    work = tmp_path / 'protocols'
    proc = subprocess.run([sys.executable, TOOL, config, checkpoint, '--num-episodes', '16',
                           '--work-dir', str(work)], cwd=REPO, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    table = proc.stdout[proc.stdout.index('| protocol |'):]
    assert [line.split('|')[1].strip() for line in table.splitlines()[2:6]] == [
        'pfenet', 'bam', 'hsnet', 'mmfss']
    assert 'shortened' in table
    rows = {r['protocol']: r for r in json.loads((work / 'protocols.json').read_text())['rows']}
    assert rows['bam']['seeds'] == [510, 365, 382, 322, 988]
    assert len(rows['bam']['metrics']['mIoU']['values']) == 5
    assert (rows['pfenet']['seeds'], rows['hsnet']['seeds'], rows['mmfss']['seeds']) == (
        [321], [0], [0])
    assert {r['episodes'] for r in rows.values()} == {16}
    assert (rows['pfenet']['input'], rows['hsnet']['input'], rows['mmfss']['input']) == (
        '96 pad_long_side', '80 stretch', 'config')
    # the mmfss row is the config's own evaluation (its 16 episodes, its geometry)
    cfg = Config.fromfile(config)
    cfg.work_dir = str(tmp_path / 'direct')
    cfg.load_from = checkpoint
    direct = Runner.from_cfg(cfg).test()
    assert rows['mmfss']['metrics']['mIoU']['mean'] == direct['mIoU']
    assert rows['mmfss']['metrics']['FB-IoU']['mean'] == direct['FB-IoU']


def test_bad_protocol_is_one_error_line(tmp_path):
    proc = subprocess.run([sys.executable, TOOL, 'a.py', 'b.pth', '--protocols', 'voc'],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "--protocols: 'voc' is not one of pfenet, bam, hsnet, mmfss" in proc.stderr
