"""The page's callbacks on the values Gradio passes them (no web library, no browser)."""
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from mmfss.apis import FewShotInferencer
from mmfss.webui import (MAX_SHOTS, MAX_WAYS, PageCallbacks, SegmentSession, editor_support,
                         shapes5i_examples)
from mmfss.webui.segment_session import probability_picture

from ..conftest import REPO


@pytest.fixture(scope='module')
def inferencer(trained_shapes_model):
    config, checkpoint = trained_shapes_model
    return FewShotInferencer(config, checkpoint, show_progress=False)


@pytest.fixture(scope='module')
def examples(tmp_path_factory):
    return shapes5i_examples(str(tmp_path_factory.mktemp('examples')))


@pytest.fixture
def callbacks(inferencer, examples, tmp_path):
    return PageCallbacks(SegmentSession(inferencer, str(tmp_path / 'results'), max_queries=5,
                                        keep_results=2), examples)


def _rgba(path):
    return np.asarray(Image.open(path).convert('RGBA'))


def _editor(image_path, layer=None):
    """The image editor's value as Gradio passes it with type='numpy', image_mode='RGBA'."""
    image = _rgba(image_path)
    if layer is None:
        layer = np.zeros_like(image)
    elif layer.ndim == 2:  # a boolean drawing
        drawn = np.zeros_like(image)
        drawn[layer] = (255, 64, 64, 255)
        layer = drawn
    return dict(background=image, layers=[layer], composite=image)


def _values(classes, queries, mask_value='', mask_threshold=None, rule='', fg=None,
            opacity=0.5):
    """The flat values of the page's Segment inputs: classes = [(name, [(editor, file)])]."""
    names = [''] * MAX_WAYS
    slots = [None] * (2 * MAX_WAYS * MAX_SHOTS)
    for way, (name, supports) in enumerate(classes):
        names[way] = name
        for shot, (editor, mask_file) in enumerate(supports):
            slots[2 * (way * MAX_SHOTS + shot)] = editor
            slots[2 * (way * MAX_SHOTS + shot) + 1] = mask_file
    return names + slots + [queries, mask_value, mask_threshold, rule, fg, opacity]


def _example_values(callbacks, index, **kwargs):
    """The Segment values of example ``index`` as the page fills them in (files loaded)."""
    filled = callbacks.example_values(callbacks.examples[index].title)
    names = filled[:MAX_WAYS]
    slots = filled[MAX_WAYS:-1]
    for i in range(0, len(slots), 2):
        if slots[i] is not None:
            slots[i] = dict(background=_rgba(slots[i]['background']),
                            layers=[_rgba(slots[i]['layers'][0])], composite=None)
    return names + slots + [filled[-1], '', None, '', None, 0.5]


def test_examples_are_novel_class_episodes(examples):
    one, two = examples
    assert len(one.classes) == 1 and len(one.classes[0][1]) == 1 and len(one.queries) == 1
    assert len(two.classes) == 2 and all(len(s) == 2 for _, s in two.classes)
    assert len(two.queries) == 4
    for name, supports in one.classes + two.classes:
        for image, mask, layer in supports:
            assert osp.isfile(image)
            m = np.asarray(Image.open(mask))
            assert set(np.unique(m)) == {0, 255}
            assert np.array_equal(_rgba(layer)[..., 3] > 0, m == 255)  # brush layer = mask
    supports = {s[0] for _, sup in two.classes for s in sup}
    assert not supports & set(two.queries)


def test_example_matches_the_inferencer(callbacks, inferencer, examples):
    """The pre-filled example (mask drawn as a brush layer) gives the inferencer's result
    on the same image and mask files, and every picture and download is written."""
    message, overlays, probs, panels, downloads = callbacks.segment(
        *_example_values(callbacks, 0))
    assert message.startswith('#1 done in '), message
    assert 'supports encoded in' in message
    assert 'support 1 of disk-stripes (drawn mask): value 255 = object' in message
    (name, supports), = examples[0].classes
    image, mask, _ = supports[0]
    expected = inferencer(examples[0].queries, [(image, mask)], return_probs=True)
    assert len(overlays) == len(probs) == len(panels) == 1 and len(downloads) == 2
    labels = np.asarray(Image.open(downloads[0]))
    assert downloads[0].endswith('_labels.png')
    assert np.array_equal(labels, expected['masks'][0])
    assert np.array_equal(np.asarray(Image.open(downloads[1])), labels * 255)
    heat = np.asarray(Image.open(probs[0][0]))
    assert np.array_equal(heat, probability_picture(expected['probs'][0][0]))
    assert probs[0][1].endswith(f'P({name})')
    for path, _ in overlays + panels:
        assert np.asarray(Image.open(path)).ndim == 3


def test_supports_are_encoded_once(callbacks, examples, monkeypatch):
    calls = []
    encode = callbacks.session.inferencer.encode_supports
    monkeypatch.setattr(callbacks.session.inferencer, 'encode_supports',
                        lambda *a, **k: calls.append(1) or encode(*a, **k))
    values = _example_values(callbacks, 1)
    first = callbacks.segment(*values)
    values[-6] = values[-6][:2]  # other queries, same supports
    second = callbacks.segment(*values)
    assert calls == [1]
    assert 'supports reused' in second[0] and 'supports encoded in' in first[0]
    assert len(first[1]) == 4 and len(first[2]) == 8 and len(first[4]) == 4 * 3
    assert len(second[1]) == 2
    # the same query gives the same masks
    for a, b in zip(first[4][:6], second[4][:6]):
        assert np.array_equal(np.asarray(Image.open(a)), np.asarray(Image.open(b)))
    values[MAX_WAYS] = dict(values[MAX_WAYS], layers=[np.zeros_like(
        values[MAX_WAYS]['layers'][0])])
    values[MAX_WAYS]['layers'][0][10:30, 10:30] = 255  # another drawing: encoded again
    third = callbacks.segment(*values)
    assert 'supports encoded in' in third[0] and calls == [1, 1]
    # two result folders are kept
    assert len(os.listdir(callbacks.session.work_dir)) == 2


def test_mask_file_in_any_format(callbacks, inferencer, examples, tmp_path):
    """An uploaded mask file is read by the mask reader: a VOC-style mask (object 1, border
    255) and an RGBA cut-out give the 0/255 file's result."""
    (_, supports), = examples[0].classes
    image, mask, _ = supports[0]
    m = np.asarray(Image.open(mask)) == 255
    voc = tmp_path / 'voc.png'
    Image.fromarray(np.where(m, 1, 0).astype(np.uint8)).save(voc)
    cutout = tmp_path / 'cutout.png'
    rgba = _rgba(image).copy()
    rgba[..., 3] = m * 255
    Image.fromarray(rgba).save(cutout)
    expected = inferencer(examples[0].queries, [(image, mask)])['masks'][0]
    for mask_file, rule in ((voc, 'value 1 = object'), (cutout, 'alpha')):
        message, *_, downloads = callbacks.segment(
            *_values([('thing', [(_editor(image), str(mask_file))])], examples[0].queries))
        assert ' done in ' in message and rule in message, message
        assert np.array_equal(np.asarray(Image.open(downloads[0])), expected)


def test_bad_inputs_are_messages(callbacks, examples, tmp_path, monkeypatch):
    (_, supports), = examples[0].classes
    image, mask, _ = supports[0]
    query = examples[0].queries
    small = tmp_path / 'small.png'
    Image.fromarray(np.full((40, 50), 255, np.uint8)).save(small)
    empty = tmp_path / 'empty.png'
    Image.fromarray(np.zeros((96, 96), np.uint8)).save(empty)
    labels = tmp_path / 'labels.png'
    lab = np.zeros((96, 96), np.uint8)
    lab[:20], lab[40:60] = 1, 2
    Image.fromarray(lab).save(labels)
    notimage = tmp_path / 'notes.png'
    notimage.write_text('not an image')
    drawn = np.asarray(Image.open(mask)) == 255
    cases = [
        (_values([('a', [(_editor(image), None)])], query), 'no mask: draw the object'),
        (_values([('a', [(_editor(image), str(small))])], query),
         'is 50x40 (WxH) but its image is 96x96'),
        (_values([('a', [(_editor(image), str(empty))])], query), 'empty.png'),
        (_values([('a', [(_editor(image), str(labels))])], query), 'several object values'),
        (_values([('a', [(_editor(image), str(notimage))])], query), 'notes.png'),
        (_values([('a', [(_editor(image, drawn), str(mask))])], query),
         'a mask is drawn and a mask file is uploaded'),
        (_values([('a', [(None, str(mask))])], query), 'a mask without its image'),
        (_values([('a', [(_editor(image, drawn), None)])], []), 'no query'),
        (_values([('a', [(_editor(image, drawn), None)])], query * 6),
         '6 queries: at most 5'),
        (_values([('a', [(_editor(image, drawn), None)])], [str(notimage)]),
         'notes.png is not an image'),
        (_values([('a', [(_editor(image, drawn), None)]), ('b', [])], query),
         'class 2 (b) has no support image'),
        (_values([('a', [(_editor(image, drawn), None)]),
                  ('a', [(_editor(image, drawn), None)])], query), "two classes are named 'a'"),
        (_values([('a', [(_editor(image, drawn), None)]),
                  ('b', [(_editor(image, drawn), None)] * 2)], query),
         'the same number of supports'),
        (_values([], query), 'no support'),
        (_values([('a', [(_editor(image, drawn), None)])], query, mask_value='x'),
         'mask value'),
        (_values([('a', [(_editor(image, drawn), None)])], query, fg=1.5),
         'foreground threshold must be in (0, 1)'),
        (_values([('a', [(dict(background=_rgba(image), layers=[np.ones((10, 10, 4),
                                                                          np.uint8)]),
                           None)])], query), 'the drawn layer is 10x10 but its image is 96x96'),
    ]
    for values, expected in cases:
        message, *outputs = callbacks.segment(*values)
        assert ' error: ' in message and expected in message, (expected, message)
        assert all(o == [] for o in outputs)
        assert 'Traceback' not in message
    # a text-prior model needs the class names
    monkeypatch.setattr(SegmentSession, 'needs_class_names', property(lambda self: True))
    message, *_ = callbacks.segment(*_values([('', [(_editor(image, drawn), None)])], query))
    assert 'class 1 has no name: this model uses text priors' in message
    monkeypatch.undo()
    # an unexpected failure is a message too, and the next request works
    monkeypatch.setattr(callbacks.session.inferencer, 'encode_supports',
                        lambda *a, **k: (_ for _ in ()).throw(RuntimeError('out of memory')))
    message, *_ = callbacks.segment(*_values([('a', [(_editor(image, drawn), None)])], query))
    assert message.endswith('error: RuntimeError: out of memory')
    monkeypatch.undo()
    message, *_ = callbacks.segment(*_values([('a', [(_editor(image, drawn), None)])], query))
    assert ' done in ' in message


def test_editor_support():
    image = np.zeros((8, 10, 4), np.uint8)
    a, b = np.zeros_like(image), np.zeros_like(image)
    a[1, 2, 3], b[5, 6, 3] = 255, 40  # any opacity counts
    support = editor_support(dict(background=image, layers=[a, b, None], composite=None),
                             None)
    assert support.image.shape == (8, 10, 3)
    assert support.drawn.sum() == 2 and support.drawn[1, 2] and support.drawn[5, 6]
    assert editor_support(None, None).empty
    assert editor_support(dict(background=None, layers=[]), 'm.png').mask_file == 'm.png'


def test_web_library_stays_out_of_the_package():
    """``import mmfss`` and every module but the page import neither Gradio nor Selenium."""
    code = ('import sys, pkgutil, importlib, mmfss\n'
            'for m in pkgutil.walk_packages(mmfss.__path__, "mmfss."):\n'
            '    if m.name not in ("mmfss.webui.page", "mmfss.webui.page_driver"):\n'
            '        importlib.import_module(m.name)\n'
            'bad = [m for m in ("gradio", "selenium") if m in sys.modules]\n'
            'assert not bad, bad\n')
    subprocess.run([sys.executable, '-c', code], check=True, cwd=REPO)


def test_segment_session_with_the_model_off_the_cpu(trained_shapes_model, examples, tmp_path):
    """The page's segmenting code with the model on the meta device (a GPU stand-in): every
    tensor reaches the model's device; pictures are written from what the host reads."""
    from mmfss.testing import MetaHostReads
    from mmfss.webui.segment_session import ClassInput, SupportInput
    config, checkpoint = trained_shapes_model
    offload = FewShotInferencer(config, checkpoint, show_progress=False)
    offload.model.to('meta')
    session = SegmentSession(offload, str(tmp_path / 'results'))
    (name, supports), = examples[0].classes
    image, mask, _ = supports[0]
    with MetaHostReads() as reads:
        result = session.segment(
            [ClassInput(name=name, supports=[SupportInput(image=image, mask_file=mask)])],
            list(examples[0].queries))
    assert reads.reads['cpu'] == 2 * len(examples[0].queries)
    assert len(result.overlays) == len(examples[0].queries)
