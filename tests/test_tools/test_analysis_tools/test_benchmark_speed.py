"""tools/analysis_tools/benchmark_speed.py: sides alternate, ratios printed, the reference
imported from --reference-root only."""
import json
import subprocess
import sys
import textwrap

from ...conftest import REPO

TOOL = f'{REPO}/tools/analysis_tools/benchmark_speed.py'

# a stand-in with PFENet's constructor and call signatures (the tool's plumbing is tested,
# not PFENet: the real comparison needs a checkout of dvlab-research/PFENet)
FAKE_PFENET = '''
import torch, torch.nn as nn, torch.nn.functional as F
class PFENet(nn.Module):
    def __init__(self, layers=50, classes=2, zoom_factor=8, criterion=None, BatchNorm=None,
                 pretrained=True, shot=1, ppm_scales=None, vgg=False):
        super().__init__()
        for name in ('layer0', 'layer1', 'layer2', 'layer3', 'layer4', 'down_query',
                     'down_supp', 'init_merge', 'alpha_conv', 'beta_conv', 'inner_cls',
                     'res1', 'res2'):
            setattr(self, name, nn.Conv2d(3, 3, 1))
        self.cls = nn.Conv2d(3, classes, 1)
        self.criterion = criterion
    def forward(self, x, s_x=None, s_y=None, y=None):
        out = self.cls(self.res2(self.layer0(x)) + s_x.mean(1))
        if y is None:
            return out
        loss = self.criterion(out, y)
        return out.max(1)[1], loss, loss * 0
'''


def _run(*args):
    return subprocess.run([sys.executable, TOOL, *args], cwd=REPO, capture_output=True,
                          text=True, timeout=900)


def test_pairs_side_by_side(tmp_path):
    root = tmp_path / 'PFENet'
    (root / 'model').mkdir(parents=True)
    (root / 'model' / '__init__.py').write_text('')
    (root / 'model' / 'PFENet.py').write_text(textwrap.dedent(FAKE_PFENET))
    out = tmp_path / 'speed.json'
    proc = _run('--pairs', 'baseline:pfenet', 'pfenet:pfenet@ref', '--reference-root',
                f'pfenet={root}', '--crop', '64', '--repeats', '2', '--warmup', '0',
                '--no-memory', '--out', str(out), '--model-options',
                'defer_support_stage=False')
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'defer_support_stage=False' in proc.stdout
    assert '| baseline / pfenet |' in proc.stdout and '| pfenet / pfenet@ref |' in proc.stdout
    result = json.loads(out.read_text())
    assert set(result['stats']) == {'baseline', 'pfenet', 'pfenet@ref'}
    for side in result['stats'].values():
        assert len(side['train']['values']) == len(side['infer']['values']) == 2
    ratio = result['ratios'][0]['train'][0]
    stats = result['stats']
    assert abs(ratio - stats['baseline']['train']['median'] /
               stats['pfenet']['train']['median']) < 1e-9


def test_memory_of_one_side():
    proc = _run('--memory-of', 'baseline', '--crop', '64', '--batch', '1')
    assert proc.returncode == 0, proc.stderr[-3000:]
    memory = json.loads(proc.stdout.strip().splitlines()[-1])
    assert memory['kind'] == 'peak resident set' and memory['peak_mb'] > 100


def test_bad_sides_are_one_error_line(tmp_path):
    proc = _run('--pairs', 'baseline:pfenet@ref')
    assert proc.returncode == 2
    assert "needs --reference-root pfenet=DIR" in proc.stderr
    proc = _run('--pairs', 'baseline:segformer')
    assert proc.returncode == 2 and "'segformer' is not one of" in proc.stderr
    proc = _run('--reference-root', f'pfenet={tmp_path / "missing"}')
    assert proc.returncode == 2 and 'is not a folder' in proc.stderr


def test_piclip_reference_is_refused_in_one_line(tmp_path):
    """``piclip@ref`` needs a checkout (``--reference-root piclip=DIR``) with PI-CLIP's
    ``model/PI_CLIP.py`` and the libraries its code imports (einops, lxml): a folder without
    them is one ``error:`` line naming what is missing, not a traceback."""
    proc = _run('--pairs', 'piclip:piclip@ref', '--no-memory')
    assert proc.returncode == 2
    assert 'needs --reference-root piclip=DIR' in proc.stderr
    empty = tmp_path / 'PI-CLIP'
    empty.mkdir()
    proc = _run('--pairs', 'piclip:piclip@ref', '--reference-root', f'piclip={empty}',
                '--crop', '64', '--repeats', '1', '--warmup', '0', '--no-memory')
    assert proc.returncode == 2, proc.stderr[-3000:]
    lines = [line for line in proc.stderr.splitlines() if line.startswith('error:')]
    assert len(lines) == 1 and 'Traceback' not in proc.stderr, proc.stderr[-3000:]
    assert (f'piclip={empty}' in lines[0]
            and ('needs einops' in lines[0] or 'needs lxml' in lines[0]
                 or 'model/PI_CLIP.py cannot be imported' in lines[0])), lines[0]
