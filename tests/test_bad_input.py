"""Bad input across every entry point: a refusal naming the file, never a run.

Each case is a file (or argument) a user may hand mmfss and its expected outcome at each
entry point where it applies: the CLI (``tools/infer.py``: one ``error:`` or ``skipped:``
line, nothing written half), the inferencer API (an exception naming the file), the web
page's session (the page's message) and the datasets (an error naming the file and the
episode, or a named skip). Files that are merely unusual (CMYK, palette, 16-bit, 1-bit,
RGBA, grey, EXIF-rotated) must be read, and read as mmseg's pipelines read them.
"""
import importlib.util
import io
import os
import os.path as osp
import shutil
import time

import mmcv
import numpy as np
import pytest
from PIL import Image

from mmfss.datasets.image_reader import (ImageTooLargeError, UnreadableImageError,
                                         read_image, read_image_header)
from .conftest import REPO, small_shapes_cfg

SIZE = 96


def _tool(name):
    spec = importlib.util.spec_from_file_location(f'{name}_tool', f'{REPO}/tools/{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _exif_rotated(rgb: np.ndarray, path: str) -> None:
    """Save ``rgb`` transposed (W x H) with EXIF orientation 6: viewers show ``rgb``."""
    stored = np.ascontiguousarray(np.rot90(rgb, k=1))  # 90 degrees counter-clockwise
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW to display
    Image.fromarray(stored).save(path, 'JPEG', quality=95, exif=exif.tobytes())


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    """One photo-like image with its mask, and every bad or unusual variant of them."""
    root = tmp_path_factory.mktemp('bad_input')
    rng = np.random.default_rng(0)
    rgb = np.zeros((SIZE, SIZE, 3), np.uint8)
    rgb[...] = (40, 90, 160)
    rgb[20:70, 30:80] = (230, 200, 40)
    rgb = np.clip(rgb + rng.integers(0, 20, rgb.shape), 0, 255).astype(np.uint8)
    mask = np.zeros((SIZE, SIZE), np.uint8)
    mask[20:70, 30:80] = 255
    f = {}

    def path(name):
        f[name] = str(root / name)
        return f[name]

    Image.fromarray(rgb).save(path('good.png'))
    Image.fromarray(mask).save(path('good_mask.png'))
    Image.fromarray(rgb).save(path('photo.jpg'), quality=95)
    open(path('zero.png'), 'wb').close()
    open(path('zero.jpg'), 'wb').close()
    with open(path('text.jpg'), 'w') as fh:
        fh.write('<html>404 Not Found</html>\n')
    data = open(f['photo.jpg'], 'rb').read()
    with open(path('truncated.jpg'), 'wb') as fh:
        fh.write(data[:len(data) * 2 // 3])
    data = open(f['good.png'], 'rb').read()
    with open(path('truncated.png'), 'wb') as fh:
        fh.write(data[:len(data) * 2 // 3])
    Image.fromarray(rgb).convert('CMYK').save(path('cmyk.jpg'), quality=95)
    Image.fromarray(rgb).convert('P', palette=Image.ADAPTIVE).save(path('palette.png'))
    Image.fromarray(rgb[..., 0].astype(np.uint16) * 257).save(path('grey16.png'))
    Image.fromarray(rgb[..., 0] > 128).save(path('onebit.png'))
    Image.fromarray(np.dstack([rgb, np.full((SIZE, SIZE), 255, np.uint8)])).save(
        path('rgba.png'))
    Image.fromarray(rgb).convert('L').save(path('grey.jpg'), quality=95)
    Image.fromarray(rgb).convert('L').save(path('grey.png'))
    _exif_rotated(rgb, path('exif6.jpg'))
    Image.fromarray(mask[:50, :60]).save(path('small_mask.png'))
    Image.fromarray(np.zeros_like(mask)).save(path('empty_mask.png'))
    labels = np.zeros_like(mask)
    labels[10:40, 10:40], labels[50:90, 50:90] = 3, 7
    Image.fromarray(labels).save(path('labels_mask.png'))
    Image.new('1', (20000, 20000)).save(path('huge.png'))  # 48 kB, 400 megapixels
    return f


# --------------------------------------------------------------------- the reader itself
@pytest.mark.parametrize('name,expected', [
    ('zero.png', 'the file is empty'),
    ('zero.jpg', 'the file is empty'),
    ('text.jpg', 'cannot be read as an image'),
    ('truncated.jpg', 'truncated'),
    ('truncated.png', 'cannot be read as an image'),
])
def test_unreadable_files_are_named(files, name, expected):
    with pytest.raises(UnreadableImageError, match=expected) as info:
        read_image(files[name])
    assert files[name] in str(info.value)


@pytest.mark.parametrize('name', ['cmyk.jpg', 'palette.png', 'grey16.png', 'onebit.png',
                                  'rgba.png', 'grey.jpg', 'grey.png', 'photo.jpg'])
def test_unusual_files_are_read_as_mmseg_reads_them(files, name):
    """Equal to the pipelines' LoadImageFromFile (mmcv.imfrombytes, cv2), pixel for pixel."""
    img = read_image(files[name])
    with open(files[name], 'rb') as fh:
        expected = mmcv.imfrombytes(fh.read(), flag='color', channel_order='bgr')
    assert img.dtype == np.uint8 and img.shape == (SIZE, SIZE, 3)
    np.testing.assert_array_equal(img, expected)


def test_exif_rotation_applied_like_the_pipelines(files):
    img = read_image(files['exif6.jpg'])
    header = read_image_header(files['exif6.jpg'])
    assert img.shape == (SIZE, SIZE, 3) and header.width == SIZE  # square: check content
    reference = mmcv.bgr2rgb(read_image(files['photo.jpg'])).astype(int)
    shown = mmcv.bgr2rgb(img).astype(int)
    stored = np.asarray(Image.open(files['exif6.jpg'])).astype(int)
    # the rotation is applied: the displayed picture matches the original photo
    assert np.abs(shown - reference).mean() < 4 < np.abs(stored - reference).mean()


def test_huge_image_refused_on_its_header(files):
    """A 20000 x 20000 PNG of 48 kB: refused before decoding, in milliseconds."""
    import resource
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    with pytest.raises(ImageTooLargeError, match=r'20000x20000 \(400\.0 megapixels\)'):
        read_image(files['huge.png'])
    seconds = time.perf_counter() - start
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert seconds < 0.2 and grown_mb < 100, (seconds, grown_mb)
    with pytest.raises(ImageTooLargeError, match='4096 pixels a side'):
        read_image(files['good.png'].replace('good.png', 'huge.png'), max_side=4096)


# --------------------------------------------------------------------- inferencer and CLI
@pytest.fixture(scope='module')
def inferencer(trained_shapes_model):
    from mmfss.apis import FewShotInferencer
    config, checkpoint = trained_shapes_model
    return FewShotInferencer(config, checkpoint, show_progress=False)


# (support image, support mask, expected error) of the inferencer's supports
SUPPORT_ERRORS = [
    ('zero.png', 'good_mask.png', 'zero.png cannot be read as an image (the file is empty)'),
    ('text.jpg', 'good_mask.png', 'text.jpg cannot be read as an image'),
    ('truncated.jpg', 'good_mask.png', 'truncated.jpg cannot be read'),
    ('huge.png', 'good_mask.png', 'huge.png is 20000x20000'),
    ('good.png', 'zero.png', 'zero.png cannot be read as an image (the file is empty)'),
    ('good.png', 'huge.png', 'huge.png is 20000x20000'),
    ('good.png', 'small_mask.png', 'small_mask.png is 60x50 (WxH) but'),
    ('good.png', 'empty_mask.png', 'empty_mask.png is empty'),
    ('good.png', 'labels_mask.png', 'several object values'),
    ('exif6.jpg', 'missing_mask.png', 'missing_mask.png does not exist'),
]


@pytest.mark.parametrize('image,mask,expected', SUPPORT_ERRORS)
def test_inferencer_support_errors(inferencer, files, image, mask, expected):
    mask_path = files.get(mask, osp.join(osp.dirname(files['good.png']), mask))
    with pytest.raises((ValueError, FileNotFoundError)) as info:
        inferencer.encode_supports([(files[image], mask_path)])
    assert expected in str(info.value), str(info.value)


@pytest.mark.parametrize('name', ['cmyk.jpg', 'palette.png', 'grey16.png', 'onebit.png',
                                  'rgba.png', 'grey.jpg', 'grey.png', 'exif6.jpg'])
def test_inferencer_reads_unusual_queries(inferencer, files, name):
    support = inferencer.encode_supports([(files['good.png'], files['good_mask.png'])])
    out = inferencer(files[name], support)
    assert out['masks'][0].shape == (SIZE, SIZE) and out['failed'] == []


def test_inferencer_unusual_masks(inferencer, files):
    """Grey, 1-bit and EXIF-rotated masks are read; RGBA's alpha is the mask."""
    mask = np.asarray(Image.open(files['good_mask.png'])) > 0
    folder = osp.dirname(files['good.png'])
    Image.fromarray(mask).save(osp.join(folder, 'onebit_mask.png'))
    stored = np.ascontiguousarray(np.rot90(mask.astype(np.uint8) * 255, k=1))
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(stored).save(osp.join(folder, 'exif6_mask.png'), exif=exif.tobytes())
    for mask_name in ('onebit_mask.png', 'exif6_mask.png'):
        support = inferencer.encode_supports([(files['exif6.jpg'],
                                               osp.join(folder, mask_name))])
        np.testing.assert_array_equal(support.masks[0][0], mask.astype(np.uint8))


def test_inferencer_folder_goes_past_broken_queries(inferencer, files, tmp_path):
    queries = tmp_path / 'queries'
    queries.mkdir()
    for name in ('good.png', 'truncated.jpg', 'photo.jpg', 'zero.png', 'huge.png'):
        shutil.copy(files[name], queries / name)
    support = inferencer.encode_supports([(files['good.png'], files['good_mask.png'])])
    with pytest.raises(UnreadableImageError, match='huge.png'):  # default: the first stops
        inferencer(str(queries), support)
    out = inferencer(str(queries), support, out_dir=str(tmp_path / 'out'),
                     skip_unreadable=True, batch_size=2)
    assert out['names'] == ['good', 'photo'] and len(out['masks']) == 2
    assert [osp.basename(q) for q, _ in out['failed']] == ['huge.png', 'truncated.jpg',
                                                           'zero.png']
    assert sorted(os.listdir(tmp_path / 'out' / 'pred')) == ['good.png', 'photo.png']


def test_cli_folder_run_names_broken_files(trained_shapes_model, files, tmp_path, capsys):
    config, checkpoint = trained_shapes_model
    queries = tmp_path / 'queries'
    queries.mkdir()
    for name in ('good.png', 'truncated.jpg', 'photo.jpg', 'text.jpg'):
        shutil.copy(files[name], queries / name)
    argv = [config, checkpoint, '--query', str(queries), '--out-dir', str(tmp_path / 'out'),
            '--support', files['good.png'], files['good_mask.png']]
    assert _tool('infer').main(argv) == 1
    err = capsys.readouterr().err
    skipped = [line for line in err.splitlines() if line.startswith('skipped: ')]
    assert len(skipped) == 2 and 'text.jpg' in skipped[0] and 'truncated.jpg' in skipped[1]
    assert '2 of 4 queries could not be read: text.jpg, truncated.jpg' in err
    assert sorted(os.listdir(tmp_path / 'out' / 'pred')) == ['good.png', 'photo.png']
    # --stop-on-error: one error line, status 2, nothing after the broken file
    out2 = tmp_path / 'out2'
    assert _tool('infer').main(argv[:5] + [str(out2)] + argv[6:] + ['--stop-on-error']) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith('error: query text: image') and 'text.jpg' in err[-1]
    assert not (out2 / 'pred' / 'photo.png').exists()


def test_cli_support_dir_skips_broken_supports(trained_shapes_model, files, tmp_path, capsys):
    config, checkpoint = trained_shapes_model
    for cls, pairs in (('a', [('good', 'good'), ('broken', 'truncated')]),
                       ('b', [('good', 'good'), ('zero', 'zero')])):
        folder = tmp_path / 'supports' / cls
        folder.mkdir(parents=True)
        for stem, source in pairs:
            shutil.copy(files['good_mask.png'], folder / f'{stem}_mask.png')
            src = files['good.png'] if source == 'good' else files[
                'truncated.jpg' if source == 'truncated' else 'zero.png']
            shutil.copy(src, folder / f'{stem}{osp.splitext(src)[1]}')
    argv = [config, checkpoint, '--query', files['photo.jpg'], '--out-dir',
            str(tmp_path / 'out'), '--support-dir', str(tmp_path / 'supports')]
    assert _tool('infer').main(argv) == 1
    err = capsys.readouterr().err
    assert err.count('skipped: ') == 2 and 'broken.jpg' in err and 'zero.png' in err
    assert '2 support(s) could not be read and were left out' in err
    assert (tmp_path / 'out' / 'pred' / 'photo.png').exists()
    # a class with no readable support left: one error naming the class
    os.remove(tmp_path / 'supports' / 'b' / 'good.png')
    os.remove(tmp_path / 'supports' / 'b' / 'good_mask.png')
    assert _tool('infer').main(argv) == 2
    assert 'error: class b has no readable support left' in capsys.readouterr().err


@pytest.mark.parametrize('case', ['empty query folder', 'truncated checkpoint',
                                  'foreign checkpoint', 'misspelt config key',
                                  'missing _base_', 'masks missing in support folder'])
def test_cli_one_error_line(trained_shapes_model, files, tmp_path, capsys, case):
    import torch
    config, checkpoint = trained_shapes_model
    query, support = files['photo.jpg'], [files['good.png'], files['good_mask.png']]
    expected = {'empty query folder': 'holds no image',
                'truncated checkpoint': 'its end is missing',
                'foreign checkpoint': 'does not fit the model',
                'misspelt config key': 'chanels',
                'missing _base_': 'nothere.py',
                'masks missing in support folder': 'no mask for'}[case]
    argv_support = ['--support', *support]
    if case == 'empty query folder':
        (tmp_path / 'q').mkdir()
        query = str(tmp_path / 'q')
    elif case == 'truncated checkpoint':
        data = open(checkpoint, 'rb').read()
        checkpoint = str(tmp_path / 'cut.pth')
        open(checkpoint, 'wb').write(data[:len(data) // 2])
    elif case == 'foreign checkpoint':
        checkpoint = str(tmp_path / 'foreign.pth')
        torch.save({'state_dict': {'fc.weight': torch.zeros(2, 2)}}, checkpoint)
    elif case == 'misspelt config key':
        path = tmp_path / 'misspelt.py'
        path.write_text(f"_base_ = ['{config}']\nmodel = dict(decode_head=dict(chanels=8))\n")
        config = str(path)
    elif case == 'missing _base_':
        path = tmp_path / 'nobase.py'
        path.write_text("_base_ = ['./nothere.py']\n")
        config = str(path)
    else:
        (tmp_path / 'sup').mkdir()
        shutil.copy(files['good.png'], tmp_path / 'sup' / 'x.png')
        argv_support = ['--support-dir', str(tmp_path / 'sup')]
    out = tmp_path / 'out'
    argv = [config, checkpoint, '--query', query, '--out-dir', str(out), *argv_support]
    assert _tool('infer').main(argv) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith('error: ') and expected in err[0], err
    assert not out.exists() or not any(out.rglob('*.png'))


def test_test_tool_refuses_bad_checkpoints(trained_shapes_model, tmp_path, capsys):
    import torch
    config, checkpoint = trained_shapes_model
    data = open(checkpoint, 'rb').read()
    cut = tmp_path / 'cut.pth'
    cut.write_bytes(data[:len(data) // 2])
    foreign = tmp_path / 'foreign.pth'
    torch.save({'state_dict': {'fc.weight': torch.zeros(2, 2)}}, foreign)
    for path, expected in ((cut, 'its end is missing'),
                           (foreign, 'does not fit the model')):
        code = _tool('test').main([config, str(path), '--work-dir', str(tmp_path / 'w')])
        err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
        assert code == 2 and err[-1].startswith('error: ') and expected in err[-1], err


# --------------------------------------------------------------------- web page session
@pytest.mark.parametrize('name,expected', [
    ('huge.png', 'is 20000x20000: images up to 4096 pixels a side are accepted'),
    ('text.jpg', 'text.jpg is not an image'),
    ('zero.png', 'zero.png is not an image'),
    ('truncated.jpg', 'truncated.jpg'),
])
def test_page_session_refuses_bad_queries(inferencer, files, tmp_path, name, expected):
    from mmfss.webui.segment_session import (ClassInput, PageInputError, SegmentSession,
                                             SupportInput)
    session = SegmentSession(inferencer, str(tmp_path / 'results'))
    support = SupportInput(image=files['good.png'], mask_file=files['good_mask.png'])
    with pytest.raises(PageInputError, match=expected) as info:
        session.segment([ClassInput('a', [support])], [files[name]])
    assert osp.dirname(files[name]) not in str(info.value)  # base names only
    with pytest.raises(PageInputError, match=expected.split(':')[0]):  # as a support
        session.segment([ClassInput('a', [SupportInput(image=files[name],
                                                       mask_file=files['good_mask.png'])])],
                        [files['good.png']])


def test_pil_guard_refuses_before_decoding(files):
    """The server's PIL limit: Gradio's own decoding of an oversize upload is refused at
    Image.open, in milliseconds."""
    from mmfss.datasets.image_reader import set_pil_pixel_limit
    import warnings
    old = Image.MAX_IMAGE_PIXELS
    with warnings.catch_warnings():
        set_pil_pixel_limit(4096 * 4096)
        try:
            start = time.perf_counter()
            with pytest.raises((Image.DecompressionBombError, Image.DecompressionBombWarning)):
                Image.open(files['huge.png'])
            big = io.BytesIO()
            Image.new('L', (5000, 4000)).save(big, 'PNG')  # between 1x and 2x the limit
            with pytest.raises(Image.DecompressionBombWarning):
                Image.open(io.BytesIO(big.getvalue()))
            assert time.perf_counter() - start < 0.5
        finally:
            Image.MAX_IMAGE_PIXELS = old


# --------------------------------------------------------------------- datasets
def _break(path, how):
    data = open(path, 'rb').read()
    with open(path, 'wb') as fh:
        fh.write(data[:len(data) // 2] if how == 'truncate' else b'')


def test_dataset_names_the_file_and_episode(shapes_root, tmp_path):
    """An image that fails while an episode loads: the dataset, episode, class and file."""
    from mmseg.registry import DATASETS

    from mmfss.datasets import UnreadableEpisodeError
    root = str(tmp_path / 'shapes')
    shutil.copytree(shapes_root, root)
    cfg = small_shapes_cfg(root, split='val', num_episodes=8, stats_cache_dir='',
                           pipeline=[dict(type='ApplyToEpisode',
                                          transforms=[dict(type='LoadImageFromFile'),
                                                      dict(type='LoadAnnotations')]),
                                     dict(type='PackEpisodeInputs')])
    ds = DATASETS.build(cfg)
    query, _, class_id = ds.episodes[3]
    _break(ds.data_list[ds._name_to_index[query]]['img_path'], 'truncate')
    for i in range(3):
        ds[i]  # the others load
    with pytest.raises(UnreadableEpisodeError) as info:
        ds[3]
    msg = str(info.value)
    assert f'episode 3 (class {class_id}' in msg and 'query img_path' in msg and query in msg
    assert 'Shapes5iDataset (val, fold 0)' in msg


def test_dataset_skip_counts_and_reports(shapes_root, tmp_path):
    """unreadable='skip': damaged files out of every pool, the episode count unchanged, the
    count in the metric's summary; the default stops at the first, naming it."""
    from mmseg.registry import DATASETS, METRICS
    root = str(tmp_path / 'shapes')
    shutil.copytree(shapes_root, root)
    cfg = small_shapes_cfg(root, split='val', num_episodes=20, stats_cache_dir='')
    names = sorted(DATASETS.build(cfg)._query_names)
    ds0 = DATASETS.build(cfg)
    _break(ds0.data_list[ds0._name_to_index[names[0]]]['img_path'], 'truncate')
    _break(ds0.data_list[ds0._name_to_index[names[1]]]['seg_map_path'], 'empty')
    with pytest.raises(OSError, match=names[1]):  # default: building stops at the label
        DATASETS.build(cfg)
    ds = DATASETS.build(dict(cfg, unreadable='skip'))
    assert len(ds) == 20 and len(ds.skipped_files) == 2
    used = {n for q, s, _ in ds.episodes for n in [q, *s]}
    assert names[0] not in used and names[1] not in used
    metric = METRICS.build(dict(type='FewShotIoUMetric'))
    metric.dataset_meta = ds.metainfo
    import torch
    metric.results = [((int(ds.episodes[0][2]), 5, 10, 5, 10, 1), )]
    out = metric.compute_metrics(metric.results)
    assert out['skipped_files'] == 2.0


def test_class_folder_without_masks_is_an_error(tmp_path):
    from mmseg.registry import DATASETS
    root = tmp_path / 'own'
    (root / 'bolt').mkdir(parents=True)
    Image.new('RGB', (32, 32)).save(root / 'bolt' / 'a.jpg')
    with pytest.raises((ValueError, FileNotFoundError), match='bolt'):
        DATASETS.build(dict(type='ClassFolderDataset', data_root=str(root), split='val',
                            stats_cache_dir='')).full_init()


def test_web_page_loader_refuses_bad_checkpoints(trained_shapes_model, tmp_path):
    """tools/webui.py with a truncated or a foreign checkpoint: one error line, status 2,
    no server started."""
    import subprocess
    import sys

    import torch
    config, checkpoint = trained_shapes_model
    data = open(checkpoint, 'rb').read()
    cut = tmp_path / 'cut.pth'
    cut.write_bytes(data[:len(data) // 2])
    foreign = tmp_path / 'foreign.pth'
    torch.save({'state_dict': {'fc.weight': torch.zeros(2, 2)}}, foreign)
    for path, expected in ((cut, 'its end is missing'), (foreign, 'does not fit the model')):
        proc = subprocess.run([sys.executable, f'{REPO}/tools/webui.py', config, str(path),
                               '--port', '1'], capture_output=True, text=True, timeout=300)
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        assert proc.returncode == 2 and lines[-1].startswith('error: '), proc.stderr[-2000:]
        assert expected in lines[-1] and 'Running on' not in proc.stdout


def test_dataset_unreadable_option_and_training_refetch(shapes_root, tmp_path):
    """A bad ``unreadable`` value names itself; with 'skip', a training episode whose image
    fails after the build is drawn again and counted (never a silent substitute)."""
    from mmseg.registry import DATASETS
    with pytest.raises(ValueError, match="unreadable must be 'error' or 'skip', got 'ignore'"):
        DATASETS.build(small_shapes_cfg(shapes_root, split='train', unreadable='ignore'))
    root = str(tmp_path / 'shapes')
    shutil.copytree(shapes_root, root)
    pipeline = [dict(type='ApplyToEpisode', transforms=[dict(type='LoadImageFromFile'),
                                                        dict(type='LoadAnnotations')]),
                dict(type='PackEpisodeInputs')]
    ds = DATASETS.build(small_shapes_cfg(root, split='train', unreadable='skip',
                                         stats_cache_dir='', pipeline=pipeline))
    name = ds._query_names[0]
    _break(ds.data_list[ds._name_to_index[name]]['img_path'], 'truncate')
    np_state = np.random.get_state()
    np.random.seed(0)
    assert ds.prepare_data(0) is None  # query 0 is the broken image: mmengine refetches
    assert ds.skipped_episodes == 1
    assert ds[0] is not None  # BaseDataset.__getitem__ draws another episode
    np.random.set_state(np_state)
