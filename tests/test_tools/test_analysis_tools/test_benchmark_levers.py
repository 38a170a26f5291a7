"""tools/analysis_tools/benchmark_levers.py: each lever next to what it replaced."""
import re
import subprocess
import sys

from ...conftest import REPO

TOOL = f'{REPO}/tools/analysis_tools/benchmark_levers.py'


def _run(*args):
    return subprocess.run([sys.executable, TOOL, *args], cwd=REPO, capture_output=True,
                          text=True, timeout=600)


def test_every_lever_side_by_side():
    proc = _run('--tiny', '--rounds', '2', '--image-size', '64', '--batch', '1')
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [line for line in proc.stdout.splitlines() if line.startswith('| ') and
            'vs' in line]
    assert [r.split(':')[0][2:] for r in rows] == [
        'grad-cam', 'text-cache', 'attention', 'attention-inference', 'sinkhorn-backward',
        'split-conv']
    for row in rows:
        numbers = [float(x) for x in re.findall(r'\d+\.\d+', row.split('|', 2)[2])]
        assert len(numbers) == 6 and all(x >= 0 for x in numbers), row
    assert 'device: ' in proc.stdout and 'threads' in proc.stdout


def test_bad_arguments_are_one_error_line():
    proc = _run('--image-size', '100')
    assert proc.returncode == 2 and 'error: --image-size must be a multiple' in proc.stderr
    assert 'Traceback' not in proc.stderr
    proc = _run('--levers', 'sinkhorn')
    assert proc.returncode == 2 and "invalid choice: 'sinkhorn'" in proc.stderr
