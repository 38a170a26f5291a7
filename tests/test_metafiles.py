"""The OpenMMLab model index (model-index.yml, configs/<method>/metafile.yaml) in step with
the configs and with the papers' numbers (mmfss/evaluation/paper_results.json)."""
import glob
import json
import os
import os.path as osp
import re
import shutil
import subprocess
import sys
import zipfile

import yaml

from .conftest import REPO


def _load(path):
    with open(osp.join(REPO, path)) as f:
        return yaml.safe_load(f)


def test_model_index_lists_every_method_and_config():
    index = _load('model-index.yml')['Import']
    papers = json.load(open(osp.join(REPO, 'mmfss/evaluation/paper_results.json')))
    assert {osp.basename(osp.dirname(p)) for p in index} == {
        'pfenet', 'bam', 'hsnet', 'hdmnet', 'piclip', 'foundationfss', 'cmnet', 'dotgraph'}
    for metafile in index:
        method = osp.basename(osp.dirname(metafile))
        meta = _load(metafile)
        (collection, ) = meta['Collections']
        assert osp.isfile(osp.join(REPO, collection['README']))
        listed = {m['Config']: m for m in meta['Models']}
        configs = {osp.relpath(p, REPO) for p in glob.glob(f'{REPO}/configs/{method}/*.py')}
        assert set(listed) == configs, sorted(set(listed) ^ configs)
        for config, model in listed.items():
            assert model['Name'] == osp.basename(config)[:-3]
            assert model['In Collection'] == collection['Name']
            if 'Results' not in model:
                continue
            m = re.search(r'_(pascal5i|coco20i|fss1000)(?:-fold(\d))?-(\d)shot', config)
            bench, fold, shot = m.group(1), m.group(2), m.group(3)
            paper = papers[method][bench][shot]
            expected = paper['mIoU'][int(fold)] if fold is not None else paper['mIoU_mean']
            assert model['Results']['Metrics']['mIoU'] == expected, config


def _tracked_tree(dst):
    """A copy of the source tree as a clean clone has it (no venv, build or run outputs)."""
    ignore = shutil.ignore_patterns('.git', '.venv', 'work_dirs', 'data', 'build', 'dist',
                                    '*.egg-info', '.mim', '__pycache__', '*.so', 'pretrain',
                                    '.pytest_cache', '.hypothesis')
    shutil.copytree(REPO, dst, ignore=ignore)
    return dst


def test_mim_search_lists_every_config_of_an_installed_wheel(tmp_path):
    """``pip install .`` carries configs, tools and the model index as ``mmfss/.mim``
    (setup.py's add_mim_extension), so OpenMMLab's ``mim search mmfss`` lists every config of
    every metafile with the paper's number, and ``mim train`` finds ``tools/train.py``."""
    src = _tracked_tree(tmp_path / 'src')
    env = dict(os.environ, MMFSS_WITH_OPS='0', PIP_DISABLE_PIP_VERSION_CHECK='1')
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation',
                    '-q', '-w', str(tmp_path / 'wheel'), str(src)], check=True, env=env)
    (wheel, ) = (tmp_path / 'wheel').glob('mmfss-*.whl')
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
    assert {'mmfss/.mim/model-index.yml', 'mmfss/.mim/tools/train.py',
            'mmfss/.mim/configs/_base_/default_runtime.py'} <= names
    target = tmp_path / 'site'
    subprocess.run([sys.executable, '-m', 'pip', 'install', '--no-deps', '-q', '--target',
                    str(target), str(wheel)], check=True, env=env)
    # the installed wheel's distribution comes first on the path, as in a plain install
    out = subprocess.run(
        [sys.executable, '-W', 'ignore', '-c', 'from mim.cli import cli; cli()', 'search',
         'mmfss'], cwd=tmp_path, env=dict(env, PYTHONPATH=str(target)), check=True,
        capture_output=True, text=True).stdout
    blocks = {b.split('\n', 1)[0].strip(): b for b in out.split('config id: ')[1:]}
    for metafile in _load('model-index.yml')['Import']:
        for model in _load(metafile)['Models']:
            assert model['Name'] in blocks, model['Name']
            block = blocks[model['Name']]
            assert re.search(r'^config\s+' + re.escape(model['Config'][:40]), block, re.M)
            if 'Results' in model:
                dataset = model['Results']['Dataset'].lower()
                miou = model['Results']['Metrics']['mIoU']
                assert re.search(rf'{re.escape(dataset)}/miou\s+{miou}\b', block), block
