"""End to end: tools/webui.py served on 127.0.0.1, driven in headless Chromium.

Needs the ``[web]`` extra (Gradio, Selenium) and Debian's ``chromium`` + ``chromium-driver``
(``make install-tests`` installs all of them).
"""
import io
import os
import re
import os.path as osp

import numpy as np
import pytest
import torch
from PIL import Image

from mmfss.apis import FewShotInferencer
from mmfss.webui import shapes5i_examples
from mmfss.webui.page_driver import PageDriver, served_page

pytestmark = pytest.mark.slow


def _png(src, dst):
    Image.open(src).convert('RGB').save(dst)
    return str(dst)


def _with_foreground(config, checkpoint, query, support, mask, folder):
    """The briefly trained model marks no pixel yet: a copy of its checkpoint whose
    classifier bias makes it mark the query's 30% most likely pixels (any fixed weights do
    for a comparison of the page with the inferencer)."""
    out = FewShotInferencer(config, checkpoint, show_progress=False)(
        query, [(support, mask)], return_probs=True)
    p = np.clip(out['probs'][0][0].astype(np.float64), 1e-7, 1 - 1e-7)
    shift = -float(np.quantile(np.log(p / (1 - p)), 0.7))
    state = torch.load(checkpoint, map_location='cpu', weights_only=False)
    bias = state['state_dict']['decode_head.conv_seg.bias']
    bias[1] += shift / 2
    bias[0] -= shift / 2
    path = str(folder / 'shifted.pth')
    torch.save(state, path)
    return path


def test_page_in_chromium(trained_shapes_model, tmp_path):
    config, checkpoint = trained_shapes_model
    examples = shapes5i_examples(str(tmp_path / 'examples'))
    (_, supports), = examples[0].classes
    image, mask, _ = supports[0]
    support = _png(image, tmp_path / 'support.png')
    query = _png(examples[0].queries[0], tmp_path / 'my_query.png')
    checkpoint = _with_foreground(config, checkpoint, query, support, mask, tmp_path)
    expected = FewShotInferencer(config, checkpoint, show_progress=False)(
        query, [(support, mask)])['masks'][0]
    assert 0.1 < expected.mean() < 0.5  # a mask worth comparing

    shot = os.environ.get('MMFSS_WEBUI_SCREENSHOT') or str(tmp_path / 'webui.png')
    with served_page(config, checkpoint, log_file=str(tmp_path / 'server.log')) as url, \
            PageDriver(url) as page:
        # first open: the Shapes-5i example is filled in and segments
        first = page.segment()
        assert first['status'].startswith('#1 done in '), first['status']
        assert len(page.css('#overlays img')) >= 1

        # the user's own support image, mask file and query
        page.clear_editor('support1-1')
        page.upload('support1-1', [support])
        page.upload('mask1-1', [mask])
        page.clear_files('queries')
        page.upload('queries', [query])
        page.fill('name1', 'my object')
        own = page.segment()
        assert own['status'].startswith('#2 done in '), own['status']
        assert '(my object)' in own['status']
        files = page.downloads()
        assert set(files) == {'my_query_labels.png', 'my_query_my_object.png'}, set(files)
        shown = np.asarray(Image.open(io.BytesIO(files['my_query_labels.png'])))
        assert shown.shape == expected.shape
        differ = int((shown != expected).sum())
        print(f'\npixels differing from FewShotInferencer: {differ} of {expected.size}')
        assert differ == 0
        page.screenshot(shot)

        # a bad input is a message in the page, and the server keeps serving
        page.clear_files('mask1-1')
        bad = page.segment()
        assert bad['status'].startswith('#3 error: support 1 of class 1 (my object): no '
                                        'mask'), bad['status']
        page.upload('mask1-1', [mask])
        again = page.segment()
        assert again['status'].startswith('#4 done in ') and 'supports reused' in \
            again['status'], again['status']
        print(f"click to result: example {first['seconds']:.2f} s, own images "
              f"{own['seconds']:.2f} s, after an error {again['seconds']:.2f} s; "
              f'screenshot {shot}')
    assert osp.getsize(shot) > 10000
    with open(tmp_path / 'server.log') as f:
        log = f.read()
    assert 'Traceback' not in log, log[-3000:]
    # uploads and results lived in one temporary folder, removed when the server stopped
    folder = re.search(r'uploads and results in (\S+) ', log).group(1)
    assert not osp.exists(folder), folder
    assert 'gradio.live' not in log  # no public share link was opened
