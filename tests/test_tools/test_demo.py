"""The trivial references of tools/demo.py, on constructed episodes with known answers."""
import importlib.util
import json

import pytest
import torch
from mmengine.config import Config
from mmseg.registry import DATASETS

from ..conftest import REPO, small_shapes_cfg


def _demo_module():
    spec = importlib.util.spec_from_file_location('mmfss_demo', f'{REPO}/tools/demo.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_references_on_real_episodes(shapes_root):
    demo = _demo_module()
    pipeline = Config.fromfile(f'{REPO}/configs/_base_/datasets/shapes5i.py').test_pipeline
    ds = DATASETS.build(small_shapes_cfg(shapes_root, split='val', num_episodes=12,
                                         pipeline=pipeline))
    refs = demo.evaluate_references(ds)
    # all-foreground: fg IoU = foreground share of valid pixels, bg IoU = 0
    fg = valid = 0
    for idx in range(len(ds)):
        label = ds[idx]['data_samples'].gt_sem_seg.data
        fg += int((label == 1).sum())
        valid += int((label != 255).sum())
    assert refs['all_foreground']['fg-IoU'] == pytest.approx(100 * fg / valid, abs=0.01)
    assert refs['all_foreground']['bg-IoU'] == 0
    assert refs['all_foreground']['episodes'] == 12
    assert 0 <= refs['support_mask']['mIoU'] < 100


def test_support_reference_is_exact_when_support_equals_query():
    demo = _demo_module()

    class OneEpisode:
        metainfo = dict(classes=('background', 'thing'))

        def __len__(self):
            return 1

        def __getitem__(self, idx):
            from mmengine.structures import PixelData
            from mmseg.structures import SegDataSample
            label = torch.zeros(1, 40, 40, dtype=torch.long)
            label[0, 10:30, 6:20] = 1  # even-aligned: exact at half resolution
            s = SegDataSample()
            s.gt_sem_seg = PixelData(data=label)
            # the support is the same mask at half resolution
            s.support_masks = PixelData(data=label[:, ::2, ::2].clone())
            s.set_metainfo(dict(class_id=1, img_path='q.jpg'))
            return dict(data_samples=s)

    refs = demo.evaluate_references(OneEpisode())
    assert refs['support_mask']['mIoU'] == 100.0 and refs['support_mask']['FB-IoU'] == 100.0
    assert refs['all_foreground']['mIoU'] == pytest.approx(100 * 280 / 1600, abs=0.01)


def test_summary_is_written_atomically(tmp_path):
    from mmfss.utils import dump_json
    path = tmp_path / 'summary.json'
    dump_json(dict(mIoU=1.5), str(path), indent=2)
    assert json.loads(path.read_text()) == dict(mIoU=1.5)
    assert [p.name for p in tmp_path.iterdir()] == ['summary.json']
    # a failing write leaves neither a partial file nor a changed summary
    with pytest.raises(TypeError):
        dump_json(dict(bad=object()), str(path))
    assert json.loads(path.read_text()) == dict(mIoU=1.5)
    assert [p.name for p in tmp_path.iterdir()] == ['summary.json']
    with pytest.raises(FileExistsError):
        dump_json({}, str(path), overwrite=False)
