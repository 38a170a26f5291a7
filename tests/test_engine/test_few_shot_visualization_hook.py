import glob
import os.path as osp
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from mmengine.structures import PixelData
from mmengine.visualization import Visualizer
from mmseg.registry import HOOKS, VISUALIZERS
from mmseg.structures import SegDataSample
from PIL import Image


@pytest.fixture
def visualizer(tmp_path):
    Visualizer._instance_dict.clear()  # a fresh instance per test
    return VISUALIZERS.build(dict(type='SegLocalVisualizer', save_dir=str(tmp_path),
                                  vis_backends=[dict(type='LocalVisBackend')],
                                  name=f'vis_{tmp_path.name}'))


def _episode(folder, ways, shot=2):
    rng = np.random.default_rng(ways)
    paths = []
    for i in range(ways * shot + 1):
        path = osp.join(folder, f'img{i}.jpg')
        Image.fromarray(rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    sample = SegDataSample()
    label = torch.zeros(1, 60, 80, dtype=torch.int64)
    label[:, 10:30, 10:40] = ways
    sample.gt_sem_seg = PixelData(data=label)
    sample.pred_sem_seg = PixelData(data=label.roll(5, dims=2))
    masks = torch.full((ways * shot, 48, 48), 255, dtype=torch.int64)
    masks[:, :40, :40] = 0
    masks[:, 5:20, 5:20] = 1
    sample.support_masks = PixelData(data=masks)
    meta = dict(img_path=paths[0], ori_shape=(60, 80), episode_index=7, ways=ways,
                support_img_paths=paths[1:], support_img_shapes=[(40, 40)] * (ways * shot))
    if ways == 1:
        meta.update(class_id=2, class_name=None)
    else:
        meta.update(class_id=-1, class_ids=[3, 1], class_names=['dog', 'cat'])
    sample.set_metainfo(meta)
    return sample


@pytest.mark.parametrize('ways', [1, 2])
def test_hook_writes_one_panel_per_episode(visualizer, tmp_path, ways):
    visualizer.dataset_meta = dict(classes=('background', 'aeroplane', 'bicycle', 'bird'))
    hook = HOOKS.build(dict(type='FewShotVisualizationHook', draw=True, interval=1,
                            tile_height=64))
    sample = _episode(str(tmp_path), ways)
    if ways == 1:  # the name comes from the dataset's classes
        assert hook._class_names(sample, 1) == ['bicycle']
    else:
        assert hook._class_names(sample, 2) == ['dog', 'cat']
    hook._after_iter(SimpleNamespace(iter=0), 0, {}, [sample], mode='test')
    files = glob.glob(str(tmp_path / '**' / 'test_000007_img0*.png'), recursive=True)
    assert len(files) == 1
    panel = np.asarray(Image.open(files[0]))
    # 2*ways square supports, then ground truth and prediction (80x60 -> 85x64), 4-px gaps
    tiles = 2 * ways
    assert panel.shape[0] == 64 + 40
    assert panel.shape[1] == tiles * 64 + 2 * 85 + 4 * (tiles + 1)
    hook._after_iter(SimpleNamespace(iter=0), 0, {}, [sample], mode='train')  # not drawn
    with pytest.raises(ValueError, match='tile_height'):
        HOOKS.build(dict(type='FewShotVisualizationHook', tile_height=0))
    assert len(glob.glob(str(tmp_path / '**' / '*.png'), recursive=True)) == 1
