"""The OpenMMLab model index (model-index.yml, configs/<method>/metafile.yaml) in step with
the configs and with the papers' numbers (mmfss/evaluation/paper_results.json)."""
import glob
import json
import os.path as osp
import re

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
