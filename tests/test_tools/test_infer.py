"""tools/infer.py on files: one class, N classes from a support folder, and bad input."""
import importlib.util
import shutil

import numpy as np
import pytest
from mmengine.config import Config
from PIL import Image

from ..conftest import REPO


def _tool():
    spec = importlib.util.spec_from_file_location('infer_tool', f'{REPO}/tools/infer.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def files(trained_shapes_model, tmp_path_factory):
    """Two classes with two support pairs each (X.jpg + X_mask.png) and 4 query images."""
    from mmseg.registry import DATASETS
    cfg = Config.fromfile(trained_shapes_model[0])
    ds = DATASETS.build(cfg.test_dataloader.dataset)
    root = tmp_path_factory.mktemp('infer_files')
    classes = ds.metainfo['classes']
    for class_id in sorted(ds.class_pools)[:2]:
        folder = root / 'supports' / classes[class_id]
        folder.mkdir(parents=True)
        for name in ds.class_pools[class_id][:2]:
            info = ds.data_list[ds._name_to_index[name]]
            shutil.copy(info['img_path'], folder / f'{name}.jpg')
            label = np.asarray(Image.open(info['seg_map_path']))
            Image.fromarray((label == class_id).astype(np.uint8) * 255).save(
                folder / f'{name}_mask.png')
    (root / 'queries').mkdir()
    for name in sorted(ds._query_names)[-4:]:
        shutil.copy(ds.data_list[ds._name_to_index[name]]['img_path'], root / 'queries')
    return root


def test_one_class_with_support_pairs(trained_shapes_model, files, tmp_path, capsys):
    config, checkpoint = trained_shapes_model
    one = sorted((files / 'supports').iterdir())[0]
    pairs = [(str(p), str(p).replace('.jpg', '_mask.png')) for p in sorted(one.glob('*.jpg'))]
    argv = [config, checkpoint, '--query', str(files / 'queries'), '--out-dir', str(tmp_path),
            '--class-name', one.name, '--panels', '--batch-size', '3']
    for image, mask in pairs:
        argv += ['--support', image, mask]
    assert _tool().main(argv) == 0
    assert '4 queries, 2 shot(s) of 1 class(es)' in capsys.readouterr().out
    for sub in ('pred', 'vis', 'panel'):
        assert len(list((tmp_path / sub).glob('*.png'))) == 4
    pred = np.asarray(Image.open(sorted((tmp_path / 'pred').glob('*.png'))[0]))
    assert pred.shape == (96, 96) and set(np.unique(pred)) <= {0, 1}


def test_nway_from_support_folder(trained_shapes_model, files, tmp_path, capsys):
    config, checkpoint = trained_shapes_model
    argv = [config, checkpoint, '--query', str(files / 'queries'), '--support-dir',
            str(files / 'supports'), '--out-dir', str(tmp_path)]
    assert _tool().main(argv) == 0
    out = capsys.readouterr().out
    names = sorted(p.name for p in (files / 'supports').iterdir())
    assert '2 shot(s) of 2 class(es)' in out and all(n in out for n in names)
    for path in (tmp_path / 'pred').glob('*.png'):
        assert set(np.unique(np.asarray(Image.open(path)))) <= {0, 1, 2}


def test_bad_input_is_named(trained_shapes_model, files, tmp_path, capsys):
    config, checkpoint = trained_shapes_model
    tool = _tool()
    one = sorted((files / 'supports').iterdir())[0]
    image = str(sorted(one.glob('*.jpg'))[0])
    mask = image.replace('.jpg', '_mask.png')
    base = [config, checkpoint, '--query', str(files / 'queries'), '--out-dir', str(tmp_path)]

    def error(argv):
        assert tool.main(argv) == 2
        return capsys.readouterr().err

    assert 'missing.png does not exist' in error(
        base + ['--support', image, str(tmp_path / 'missing.png')])
    small = tmp_path / 'small.png'
    Image.fromarray(np.ones((8, 8), np.uint8)).save(small)
    assert 'small.png is 8x8 (WxH) but' in error(base + ['--support', image, str(small)])
    empty = tmp_path / 'empty.png'
    Image.fromarray(np.zeros((96, 96), np.uint8)).save(empty)
    assert 'empty.png is empty' in error(base + ['--support', image, str(empty)])
    lonely = tmp_path / 'lonely'
    lonely.mkdir()
    shutil.copy(image, lonely / 'a.jpg')
    assert 'no mask for a.jpg' in error(base + ['--support-dir', str(lonely)])
    assert 'query' in error([config, checkpoint, '--query', str(tmp_path / 'nothing.jpg'),
                             '--out-dir', str(tmp_path), '--support', image, mask])
    psp = f'{REPO}/configs/base_learner/pspnet_r50-d8_4xb4-20k_pascal5i-base-fold0.py'
    assert 'not a few-shot segmentor' in error(
        [psp, checkpoint, '--query', image, '--out-dir', str(tmp_path), '--support', image,
         mask])
    with pytest.raises(SystemExit):
        tool.main(base)  # no supports at all
    assert 'not both and not neither' in capsys.readouterr().err


def test_devices_checkpoints_and_mask_options(trained_shapes_model, files, tmp_path, capsys):
    config, checkpoint = trained_shapes_model
    tool = _tool()
    one = sorted((files / 'supports').iterdir())[0]
    image = str(sorted(one.glob('*.jpg'))[0])
    mask = image.replace('.jpg', '_mask.png')
    base = [config, checkpoint, '--query', str(files / 'queries'), '--out-dir', str(tmp_path),
            '--support', image]

    def error(argv):
        assert tool.main(argv) == 2
        err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
        assert len(err) == 1 and err[0].startswith('error: '), err
        return err[0]

    assert "--device 'gpu' is not a device" in error(base + [mask, '--device', 'gpu'])
    if not __import__('torch').cuda.is_available():
        assert 'CUDA is not available' in error(base + [mask, '--device', 'cuda:0'])
    text = tmp_path / 'notes.pth'
    text.write_text('hello')
    argv = [config, str(text)] + base[2:] + [mask]
    assert 'notes.pth is not a PyTorch checkpoint' in error(argv)
    # a label map: ambiguous until --mask-value picks the object
    label = np.asarray(Image.open(mask)) // 255
    label = label + (np.arange(label.shape[1])[None, :] < 10) * 2 * (label == 0)
    labels = tmp_path / 'labels.png'
    Image.fromarray(label.astype(np.uint8)).save(labels)
    line = error(base + [str(labels)])
    assert 'labels.png holds several object values (1, 2;' in line and '--mask-value' in line
    assert tool.main(base + [str(labels), '--mask-value', '1']) == 0
    out = capsys.readouterr().out
    assert 'labels.png: mask_value 1 = object' in out
    by_value = np.asarray(Image.open(sorted((tmp_path / 'pred').glob('*.png'))[0]))
    assert tool.main(base + [mask]) == 0
    assert 'value 255 = object, 0 = background' in capsys.readouterr().out
    plain = np.asarray(Image.open(sorted((tmp_path / 'pred').glob('*.png'))[0]))
    assert np.array_equal(by_value, plain)
    # the N-way background options reach the model
    assert tool.main(base + [mask, '--background-rule', 'threshold', '--fg-threshold', '0.9']) == 0
    capsys.readouterr()
    with pytest.raises(SystemExit):
        tool.main(base + [mask, '--fg-threshold', '1.5'])
    assert '--fg-threshold must be in (0, 1)' in capsys.readouterr().err
    # a mask covering nearly the whole image: read, with one warning line naming it
    inverted = tmp_path / 'inverted.png'
    full = np.full(label.shape, 255, np.uint8)
    full[:4, :4] = 0
    Image.fromarray(full).save(inverted)
    assert tool.main(base + [str(inverted)]) == 0
    err = capsys.readouterr().err
    assert err.count('warning: ') == 1 and 'inverted.png' in err and 'covers' in err
