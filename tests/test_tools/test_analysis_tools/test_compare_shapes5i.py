import importlib.util

import pytest

from ...conftest import REPO

_spec = importlib.util.spec_from_file_location(
    'compare_shapes5i', f'{REPO}/tools/analysis_tools/compare_shapes5i.py')
compare = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(compare)

BASE = 'configs/baseline/fss-baseline_r18-d8_1xb8-2k_shapes5i-fold0-1shot.py'


def test_bad_arguments_are_named(tmp_path):
    with pytest.raises(SystemExit, match="NAME=CONFIG, got 'baseline'"):
        compare.main(['--configs', 'baseline'])
    with pytest.raises(SystemExit, match='config nope.py does not exist'):
        compare.main(['--configs', 'a=nope.py'])
    other = tmp_path / 'other.py'
    other.write_text(f"_base_ = ['{REPO}/{BASE}']\n"
                     "test_dataloader = dict(dataset=dict(seed=7))\n")
    with pytest.raises(SystemExit, match='evaluate different episodes'):
        compare.main(['--configs', f'a={BASE}', f'b={other}'])
    with pytest.raises(SystemExit):
        compare.main(['--max-iters', '0'])


def test_default_configs_share_episodes():
    settings = [compare.episode_setting(f'{REPO}/{c}') for _, c in compare.DEFAULT]
    assert all(s == settings[0] for s in settings)
    assert settings[0]['fold'] == 0 and settings[0]['shot'] == 1
