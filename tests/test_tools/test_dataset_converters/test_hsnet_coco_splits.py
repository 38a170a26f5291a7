import pickle
import subprocess
import sys

import numpy as np
import pytest

from mmfss.datasets import COCO20iDataset
from tests.conftest import REPO
from tests.data_trees import coco_name, coco_tree


def test_hsnet_pickle_to_text_feeds_the_hsnet_protocol(tmp_path):
    """HSNet's split pickle (0-based class -> 'val2014/<name>.jpg' list, every class a key)
    becomes the text file COCO20iDataset(protocol='hsnet') draws HSNet's episodes from."""
    coco_tree(tmp_path, split='val', n=160)
    fold0 = {c: [f'val2014/{coco_name("val", i)}.jpg' for i in range(160) if i % 80 == c]
             for c in range(0, 80, 4)}
    classwise = {c: fold0.get(c, []) for c in range(80)}
    src, dst = tmp_path / 'fold0.pkl', tmp_path / 'hsnet_val_fold0.txt'
    with open(src, 'wb') as f:
        pickle.dump(classwise, f)
    proc = subprocess.run([sys.executable, 'tools/dataset_converters/hsnet_coco_splits.py',
                           str(src), str(dst)], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert '40 entries written' in proc.stdout
    lines = dst.read_text().splitlines()
    assert lines[0] == f'1\t{coco_name("val", 0)}' and len(lines) == 40
    ds = COCO20iDataset(data_root=str(tmp_path), split='val', fold=0, shot=1, protocol='hsnet',
                        hsnet_split_file=str(dst), stats_cache_dir='')
    assert len(ds) == 1000 and ds.test_size == 400
    # HSNet data/coco.py load_frame after np.random.seed(0)
    np.random.seed(0)
    class_ids = [c for c in range(80) if c % 4 == 0]
    for query, supports, class_id in ds.episodes[:50]:
        c = np.random.choice(class_ids, 1, replace=False)[0]
        q = np.random.choice(classwise[c], 1, replace=False)[0]
        while True:
            s = np.random.choice(classwise[c], 1, replace=False)[0]
            if s != q:
                break
        assert (query, supports, class_id) == (q[8:-4], [s[8:-4]], c + 1)
    # HSNet data/coco.py: mask != class -> 0, so the 255 border is background (PASCAL keeps
    # it as ignore); PFENet's protocol keeps 255 ignored
    from mmcv.transforms import Compose
    load = Compose([dict(type='ApplyToEpisode', transforms=[
        dict(type='LoadImageFromFile'), dict(type='LoadAnnotations'),
        dict(type='BinarizeMask')])])
    for dataset, border in ((ds, 0), (COCO20iDataset(data_root=str(tmp_path), split='val',
                                                     fold=0, stats_cache_dir='',
                                                     num_episodes=5), 255)):
        out = load(dataset.get_data_info(0))
        for image in [out['query']] + out['supports']:
            assert set(np.unique(image['gt_seg_map'][0])) == {border}
            assert 255 not in np.unique(image['gt_seg_map']) or border == 255
    dst.write_text('1\tnot_an_image\n')
    with pytest.raises(ValueError, match=r"hsnet_val_fold0.txt:1: image 'not_an_image'"):
        COCO20iDataset(data_root=str(tmp_path), split='val', fold=0, protocol='hsnet',
                       hsnet_split_file=str(dst), stats_cache_dir='')
    with pytest.raises(ValueError, match="protocol='hsnet' needs hsnet_split_file"):
        COCO20iDataset(data_root=str(tmp_path), split='val', fold=0, protocol='hsnet',
                       stats_cache_dir='')
