"""The launch scripts parse and pass the launcher their runner needs (slurm cannot run here)."""
import glob
import subprocess

import pytest

from ..conftest import REPO

SCRIPTS = sorted(glob.glob(f'{REPO}/tools/*.sh'))


@pytest.mark.parametrize('script', SCRIPTS, ids=lambda p: p.rsplit('/', 1)[-1])
def test_shell_syntax(script):
    proc = subprocess.run(['bash', '-n', script], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


@pytest.mark.parametrize('name, tool, launcher', [
    ('dist_train.sh', 'train.py', '--launcher pytorch'),
    ('dist_test.sh', 'test.py', '--launcher pytorch'),
    ('slurm_train.sh', 'train.py', '--launcher="slurm"'),
    ('slurm_test.sh', 'test.py', '--launcher="slurm"'),
])
def test_launchers(name, tool, launcher):
    text = open(f'{REPO}/tools/{name}').read()
    assert f'tools/{tool}' in text or f'/{tool}' in text
    assert launcher in text
    if name.startswith('dist'):
        assert 'torch.distributed.run' in text  # torchrun, not the deprecated launch
