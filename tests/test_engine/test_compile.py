"""torch.compile: graph breaks per family held to a budget, compiled equals eager, no
recompile per test episode, tools/train.py --compile through the Runner."""
import copy
import subprocess
import sys

import pytest
import torch
from mmseg.registry import MODELS

from mmfss.engine import configure_compile, graph_breaks
from ..conftest import REPO, write_tiny_config
from ..test_models.test_segmentors.test_few_shot_segmentor import _batch
from ..test_paper_scale import FAMILIES, family_config

# graph breaks of one training forward + loss, and of one prediction. DOTGraph: CLIP's
# Grad-CAM and its host-side box refinement run eagerly (CLIPPriorNeck.cams, once for the
# queries, once for the supports, each a break before and after); PI-CLIP: the queries'
# alone, and its visual-visual prior compiles. predict: mmseg's postprocess_result reads the
# padding from the metainfo (a data-dependent crop).
LOSS_BREAKS = dict(baseline=0, cmnet=0, dotgraph=7, pfenet=0, bam=0, hsnet=0, hdmnet=0,
                   piclip=4, foundationfss=0)
PREDICT_BREAKS = dict(baseline=1, cmnet=1, dotgraph=7, pfenet=1, bam=1, hsnet=1, hdmnet=1,
                      piclip=4, foundationfss=1)


def _model(family: str, train: bool):
    torch.manual_seed(0)
    model = MODELS.build(copy.deepcopy(family_config(family).model))
    model.init_weights()
    model.train(train)
    data = model.data_preprocessor(_batch(2, 1, 96, 96, (96, 96)), train)
    return model, data


@pytest.mark.parametrize('family', FAMILIES)
def test_graph_breaks_within_budget(family):
    model, data = _model(family, True)
    loss = graph_breaks(model.loss, data['inputs'], data['data_samples'])
    assert loss['breaks'] <= LOSS_BREAKS[family], loss['reasons']
    model, data = _model(family, False)
    with torch.no_grad():
        predict = graph_breaks(model.predict, data['inputs'], data['data_samples'])
    assert predict['breaks'] <= PREDICT_BREAKS[family], predict['reasons']


def test_graph_breaks_are_counted():
    """The counter sees a break (a host read of a tensor's value)."""
    def fn(x):
        y = x * 2
        if float(y.sum()) > 0:  # data-dependent branch: a break
            return y + 1
        return y - 1

    assert graph_breaks(fn, torch.ones(3))['breaks'] >= 1
    assert graph_breaks(lambda x: x * 2 + 1, torch.ones(3))['breaks'] == 0


@pytest.mark.parametrize('family', FAMILIES)
def test_compiled_equals_eager(family):
    """Losses (same dropout seed) and test logits of the compiled model (AOT autograd's
    graph capture, executed eagerly) equal eager ones to 1e-4."""
    import torch._dynamo as dynamo
    configure_compile()
    dynamo.reset()
    model, data = _model(family, True)
    torch.manual_seed(3)
    eager = model.loss(data['inputs'], data['data_samples'])
    torch.manual_seed(3)
    compiled = torch.compile(model.loss, backend='aot_eager')(data['inputs'],
                                                              data['data_samples'])
    for key, value in eager.items():
        if 'loss' in key:
            assert torch.allclose(compiled[key], value, rtol=1e-4, atol=1e-6), key
    model, data = _model(family, False)
    with torch.no_grad():
        eager = model.predict(data['inputs'], copy.deepcopy(data['data_samples']))
        compiled = torch.compile(model.predict, backend='aot_eager')(
            data['inputs'], copy.deepcopy(data['data_samples']))
    for e, c in zip(eager, compiled):
        scale = e.seg_logits.data.abs().max()
        assert float((c.seg_logits.data - e.seg_logits.data).abs().max() / scale) < 1e-4
    dynamo.reset()


def test_no_recompile_per_test_episode():
    """Test episodes of different original sizes in the protocols' fixed input frame: each
    graph of the compiled prediction recompiles at most once (the resize to each episode's
    size becomes dynamic, torch's automatic dynamic shapes), then never again."""
    import torch._dynamo as dynamo
    from torch._dynamo.testing import CompileCounter
    configure_compile()
    dynamo.reset()
    model, _ = _model('baseline', False)
    counter = CompileCounter()
    predict = torch.compile(model.predict, backend=counter)
    frames = []
    with torch.no_grad():
        for ori in ((96, 96), (120, 80), (70, 110), (150, 150), (64, 90)):
            data = model.data_preprocessor(_batch(1, 1, 96, 96, ori), False)
            out = predict(data['inputs'], data['data_samples'])
            assert out[0].seg_logits.data.shape[-2:] == ori
            frames.append(counter.frame_count)
    assert frames[-1] == frames[1] <= 2 * frames[0], frames
    dynamo.reset()


def test_train_tool_compile(tmp_path, shapes_root):
    """tools/train.py --compile (mmengine's compile config, options from the config: here
    AOT autograd's capture run eagerly; inductor, the default, compiles the same graphs
    for 2 minutes on 2 CPU cores) trains two iterations of a Shapes-5i config."""
    cfg = write_tiny_config(tmp_path / 'tiny.py', shapes_root, iters=2, ckpt_interval=2)
    work = tmp_path / 'work'
    proc = subprocess.run([sys.executable, 'tools/train.py', cfg, '--compile', '--work-dir',
                           str(work), '--cfg-options', 'compile.backend=aot_eager'],
                          cwd=REPO, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    log = proc.stdout + proc.stderr
    assert 'Model has been "compiled"' in log
    assert (work / 'iter_2.pth').is_file()
