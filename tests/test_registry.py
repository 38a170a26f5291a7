import ast
import re
import subprocess
import sys

import pytest
from packaging.requirements import Requirement

import mmfss
from mmfss import _check_version

from .conftest import REPO

REGISTERED = {
    'MODELS': ['FewShotSegmentor', 'FewShotDataPreProcessor', 'PriorMaskNeck', 'PPMFewShotHead'],
    'DATASETS': ['Shapes5iDataset'],
    'TRANSFORMS': ['ApplyToEpisode', 'BinarizeMask', 'PackEpisodeInputs'],
    'METRICS': ['FewShotIoUMetric'],
    'HOOKS': ['PlainCheckpointHook'],
}


def test_import_registers_into_mmseg_registries():
    # A fresh interpreter: importing mmfss alone must register everything into mmseg's
    # registries (what custom_imports=dict(imports=['mmfss']) relies on).
    code = ('import mmfss, json; import mmseg.registry as r; '
            f'print(json.dumps({{k: [n for n in v if r.__dict__[k].get(n) is None] '
            f'for k, v in {REGISTERED!r}.items()}}))')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip().splitlines()[-1] == ('{"MODELS": [], "DATASETS": [], "TRANSFORMS": [], '
                                           '"METRICS": [], "HOOKS": []}')


def test_config_needs_only_custom_imports():
    from mmengine.config import Config
    cfg = Config.fromfile(f'{REPO}/configs/_base_/default_runtime.py')
    assert cfg.default_scope == 'mmseg'
    assert cfg.custom_imports == dict(imports=['mmfss'], allow_failed_imports=False)


def test_version_check_message():
    _check_version('mmseg', '1.2.2', '1.2.0', '1.3.0')
    with pytest.raises(ImportError, match=r'needs 1\.2\.0 <= mmseg < 1\.3\.0, but mmseg 1\.1\.0'):
        _check_version('mmseg', '1.1.0', '1.2.0', '1.3.0')
    with pytest.raises(ImportError, match='make install'):
        _check_version('mmcv', '2.2.0', mmfss.MMCV_MIN, mmfss.MMCV_MAX)


def _setup_requirements():
    tree = ast.parse(open(f'{REPO}/setup.py').read())
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name) and \
                node.targets[0].id in ('install_requires', 'extras_require'):
            found[node.targets[0].id] = ast.literal_eval(node.value)
    return found['install_requires'], found['extras_require']


def _install_pins():
    text = open(f'{REPO}/tools/install_env.sh').read()
    return re.findall(r'"([A-Za-z_\-]+==[0-9][^"]*)"', text)


def test_setup_ranges_admit_the_pinned_stack():
    install_requires, extras = _setup_requirements()
    reqs = {Requirement(r).name.lower().replace('_', '-'): Requirement(r)
            for r in install_requires}
    pins = _install_pins()
    assert len(pins) >= 6
    checked = 0
    for pin in pins:
        name, version = pin.split('==')
        key = name.lower().replace('_', '-')
        if key in reqs:
            assert reqs[key].specifier.contains(version), f'{pin} outside {reqs[key]}'
            checked += 1
    assert {'torch', 'torchvision', 'mmengine', 'mmsegmentation', 'open-clip-torch'} <= {
        p.split('==')[0].lower().replace('_', '-') for p in pins}
    assert checked >= 5
    assert Requirement('mmcv>=2.0.0rc4,<2.2.0').specifier == reqs['mmcv'].specifier
    assert reqs['mmcv'].specifier.contains('2.1.0')
    test_names = {Requirement(r).name.lower() for r in extras['tests']}
    assert {'pytest', 'pot', 'hypothesis'} <= test_names
