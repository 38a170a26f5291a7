"""The tools print no warning a user cannot act on (mmfss.utils.known_warnings).

Each tool runs as a user runs it (a subprocess, default warning filters) on a trained
Shapes-5i model of the demo's config family; its stderr (and, for the runner's log, its
stdout) must hold no warning line. A filtered warning is named with its reason in
``mmfss/utils/known_warnings.py``; anything else that warns fails here.
"""
import os
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest
from PIL import Image

from ..conftest import REPO, write_tiny_config

WARNING_LINE = re.compile(r'warn', re.IGNORECASE)


def _run(args, **kwargs):
    env = dict(os.environ)  # Python's default filters, as in a user's shell
    env.pop('PYTHONWARNINGS', None)
    proc = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True,
                          env=env, timeout=600, **kwargs)
    return proc


def _warnings(text):
    return [line for line in text.splitlines() if WARNING_LINE.search(line)]


@pytest.fixture(scope='module')
def support(shapes_root, tmp_path_factory):
    folder = tmp_path_factory.mktemp('quiet')
    image = os.path.join(shapes_root, 'JPEGImages', 'val_00000.jpg')
    label = np.asarray(Image.open(os.path.join(shapes_root, 'SegmentationClassAug',
                                               'val_00000.png')))
    values, counts = np.unique(label[(label > 0) & (label < 255)], return_counts=True)
    Image.fromarray((label == values[counts.argmax()]).astype(np.uint8) * 255).save(
        folder / 'mask.png')
    return image, str(folder / 'mask.png')


def test_infer_is_quiet(trained_shapes_model, support, tmp_path):
    config, checkpoint = trained_shapes_model
    proc = _run(['tools/infer.py', config, checkpoint, '--support', *support, '--query',
                 support[0], '--out-dir', str(tmp_path)])
    assert proc.returncode == 0, proc.stderr
    assert _warnings(proc.stderr) == [] and _warnings(proc.stdout) == [], proc.stderr


def test_test_is_quiet(trained_shapes_model, tmp_path):
    config, checkpoint = trained_shapes_model
    proc = _run(['tools/test.py', config, checkpoint, '--work-dir', str(tmp_path)])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _warnings(proc.stderr) == [] and _warnings(proc.stdout) == [], \
        _warnings(proc.stderr) + _warnings(proc.stdout)


def test_train_is_quiet(shapes_root, tmp_path):
    config = write_tiny_config(tmp_path / 'tiny.py', shapes_root, iters=2, ckpt_interval=2)
    proc = _run(['tools/train.py', config, '--work-dir', str(tmp_path / 'work')])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _warnings(proc.stderr) == [] and _warnings(proc.stdout) == [], \
        _warnings(proc.stderr) + _warnings(proc.stdout)


def test_webui_is_quiet(trained_shapes_model, tmp_path):
    pytest.importorskip('gradio')
    from mmfss.webui.page_driver import served_page
    config, checkpoint = trained_shapes_model
    log = tmp_path / 'webui.log'
    with served_page(config, checkpoint, log_file=str(log)):
        pass
    assert _warnings(log.read_text()) == [], log.read_text()[-3000:]


def test_filters_are_narrow():
    """Only the listed messages are filtered: the same category from the same module, or a
    listed message from another module, still shows."""
    from mmfss.utils.known_warnings import KNOWN_WARNINGS, filter_known_warnings
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        filter_known_warnings()
        known = next(w for w in KNOWN_WARNINGS if w.via == 'warnings')
        message = known.message.replace('\\', '')
        for module, text in ((known.source.replace('\\', ''), message),
                             (known.source.replace('\\', ''), 'something else'),
                             ('mmfss.elsewhere', message)):
            exec(compile('import warnings\nwarnings.warn(TEXT)', module, 'exec'),
                 {'__name__': module, 'TEXT': text})
    shown = [str(w.message) for w in caught]
    assert shown == ['something else', message], shown
