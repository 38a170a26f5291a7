"""What a GPU run at the papers' scale needs, proven on CPU.

For each family (the baseline, CMNet, DOTGraph with a tiny random CLIP and BAM's ensemble,
PFENet, BAM's meta learner in its ensemble, HSNet),
built from its Shapes-5i config at small widths:

* a training step and a test step with the model on PyTorch's ``meta`` device, which
  stands in for a GPU: a tensor made on the CPU inside the step meets a meta one and
  raises (:class:`~mmfss.testing.MetaHostReads`);
* training steps under ``torch.autocast('cpu', float16 / bfloat16)`` through
  :class:`~mmfss.engine.MixedPrecisionOptimWrapper` (what ``--amp`` uses): finite losses
  and gradients; bf16 predictions of a briefly trained model equal fp32 ones on >= 97% of
  the pixels;
* the host synchronisations of a training step, counted and held to a budget;
* an epoch loop whose last batch holds one episode.
"""
import copy

import pytest
import torch
from mmengine.config import Config, ConfigDict
from mmengine.optim import OptimWrapper
from mmengine.runner import Runner
from mmseg.registry import MODELS

from mmfss.engine import MixedPrecisionOptimWrapper
from mmfss.testing import HostSyncCounter, MetaHostReads
from mmfss.utils import config_batch, effective_batch_message, setup_cpu_dist
from .conftest import REPO, SMALL_SHAPES
from .test_models.test_segmentors.test_few_shot_segmentor import _batch
from .tiny_clip import TINY_CLIP

FAMILIES = ('baseline', 'cmnet', 'dotgraph', 'pfenet', 'bam', 'hsnet', 'hdmnet', 'piclip',
            'foundationfss')
CONFIGS = dict(
    baseline=f'{REPO}/configs/baseline/fss-baseline_r18-d8_1xb8-2k_shapes5i-fold0-1shot.py',
    pfenet=f'{REPO}/configs/pfenet/pfenet_r18-d8_1xb8-2k_shapes5i-fold0-1shot.py',
    bam=f'{REPO}/configs/bam/bam_r18-d8_1xb8-2k_shapes5i-fold0-1shot.py',
    hsnet=f'{REPO}/configs/hsnet/hsnet_r18_1xb8-2k_shapes5i-fold0-1shot.py',
    hdmnet=f'{REPO}/configs/hdmnet/hdmnet_r18-d8_1xb8-2k_shapes5i-fold0-1shot.py',
    piclip=f'{REPO}/configs/piclip/piclip_r18-d8_1xb8-2k_shapes5i-fold0-1shot.py',
    foundationfss=f'{REPO}/configs/foundationfss/'
    'foundationfss_vit-w64_1xb8-2k_shapes5i-fold0-1shot.py',
    cmnet=f'{REPO}/configs/cmnet/cmnet_r18-d8_1xb8-2k_shapes5i-fold0-1shot.py',
    dotgraph=f'{REPO}/configs/dotgraph/dotgraph_r18-d8_1xb8-2k_shapes5i-fold0-1shot.py')
# host synchronisations allowed in one training step: DOTGraph's CLIP box refinement
# (OpenCV on the host) reads the CAMs of the queries and of the supports once each; PI-CLIP
# computes the queries' alone
SYNC_BUDGET = dict(baseline=0, cmnet=0, dotgraph=2, pfenet=0, bam=0, hsnet=0, hdmnet=0,
                   piclip=1, foundationfss=0)


def family_config(family: str) -> Config:
    """The family's Shapes-5i config at small widths (ResNet-18 of width 8, 16-d heads);
    DOTGraph with a tiny CLIP and BAM's ensemble with a small PSPNet base learner."""
    cfg = Config.fromfile(CONFIGS[family])
    model = cfg.model
    if family == 'foundationfss':  # its ViT at width 32; the 4D learner has fixed widths
        model.backbone.arch = dict(embed_dims=32, num_layers=4, num_heads=2)
        return cfg
    model.backbone.update(stem_channels=8, base_channels=8)  # levels 8, 16, 32, 64
    if family == 'hsnet':  # the 4D learner has fixed widths; the backbone is the knob
        return cfg
    head = dict(in_channels=[16, 32], channels=16) if family == 'baseline' else \
        dict(in_channels=[32, 16], channels=16) if family in ('pfenet', 'bam') else \
        dict(in_channels=[32, 16], channels=16, embed_dims=16) if family in (
            'hdmnet', 'piclip') else \
        dict(in_channels=[16], channels=16)
    model.decode_head.update(head)
    if family == 'cmnet':
        model.necks[1].update(in_channels=[16, 32], channels=16)
    if family == 'dotgraph':
        model.necks[1].model_cfg = ConfigDict(TINY_CLIP['ViT-B-16'])
        model.necks[2].update(in_channels=[16, 32], channels=16, attn_channels=8)
    if family == 'piclip':
        model.necks[0].model_cfg = ConfigDict(TINY_CLIP['ViT-B-16'])
    extra = {}
    if family == 'hdmnet':  # HDMNet's bottleneck level and prior, its ensemble options
        prior = dict(model.necks[0])
        model.necks = [dict(type='PSPLevelNeck', in_index=3, out_channels=16),
                       dict(prior, in_index=4, prior_key='prior_psp'), prior]
        model.decode_head.prior_keys = ('prior_psp', 'prior')
        extra = dict(base_learner_level=4, kshot_restore_order=False, reweight_priors=False)
    if family == 'piclip':  # PI-CLIP's ensemble: HDMNet's gather, base learner on layer4
        extra = dict(kshot_restore_order=False, reweight_priors=False)
    if family in ('dotgraph', 'bam', 'hdmnet', 'piclip'):  # BAM's ensemble, small base learner
        model.decode_head = ConfigDict(
            type='EnsembleFewShotHead', meta_head=model.decode_head, **extra,
            base_learner=dict(type='PSPHead', in_channels=64, in_index=3, channels=16,
                              pool_scales=(1, 2, 3, 6), dropout_ratio=0.1, num_classes=16,
                              align_corners=True,
                              loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0)),
            gram_index=1, align_corners=True,
            loss_decode=dict(type='CrossEntropyLoss', loss_weight=1.0, avg_non_ignore=True))
    return cfg


def build_family(family: str, seed: int = 0):
    torch.manual_seed(seed)
    model = MODELS.build(copy.deepcopy(family_config(family).model))
    model.init_weights()
    return model


def _sgd(model) -> OptimWrapper:
    return OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9))


def _trainable(model):
    return [p for p in model.parameters() if p.requires_grad]


# ---------------------------------------------------------------------------------- devices
# the meta device stands in for a GPU on every machine; where CUDA is present (make
# gpu-check) the same steps run on it too
DEVICES = ['meta'] + (['cuda'] if torch.cuda.is_available() else [])


@pytest.mark.parametrize('device', DEVICES)
@pytest.mark.parametrize('family', FAMILIES)
def test_training_and_test_step_off_the_cpu(family, device):
    """The whole step, data preprocessor to optimizer, with the model off the CPU: every
    tensor the step creates follows the model's device."""
    model = build_family(family).to(device)
    data = _batch(b=2, k=1, h=64, w=64, ori=(64, 64))  # CPU tensors, as loaders give
    with MetaHostReads() as reads:
        log_vars = model.train_step(data, _sgd(model))
    assert log_vars['loss'].device.type == device
    assert all(p.device.type == device for p in model.parameters())
    if device == 'meta':
        assert sum(reads.reads.values()) == SYNC_BUDGET[family], reads.reads
    else:
        assert torch.isfinite(log_vars['loss'])
    model.eval()
    with MetaHostReads():
        out = model.test_step(_batch(b=1, k=1, h=64, w=64, ori=(64, 64)))
    assert out[0].pred_sem_seg.data.shape == (1, 64, 64)


def test_the_meta_device_catches_a_tensor_made_on_the_cpu():
    """The mechanism itself: a module that makes a tensor without ``device=`` fails."""

    class Careless(torch.nn.Module):

        def forward(self, x):
            return x + torch.ones(x.shape[-1])  # on the CPU whatever x's device

    with pytest.raises(RuntimeError, match='meta'), MetaHostReads():
        Careless()(torch.zeros(2, 3, device='meta'))


# ---------------------------------------------------------------------------------- precision
# float16 steps whose scaled gradients overflow at the loss scaler's initial scale (65536):
# HDMNet's distillation loss (PI-CLIP's too) gives parameter gradients above 1 at
# initialisation (1.1 on the stem of the Shapes-5i model, which trains its backbone), so the
# dynamic scaler skips one step and halves the scale, as it is built to; every other family
# fits at once.
FP16_OVERFLOW_STEPS = dict(hdmnet=1, piclip=1)


@pytest.mark.parametrize('dtype', ['float16', 'bfloat16'])
@pytest.mark.parametrize('family', FAMILIES)
def test_mixed_precision_training_steps_are_finite(family, dtype):
    model = build_family(family)
    wrapper = MixedPrecisionOptimWrapper(
        dtype=dtype, device_type='cpu',
        optimizer=torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9))
    assert wrapper.cast_dtype == getattr(torch, dtype)
    assert wrapper.loss_scaler.is_enabled() == (dtype == 'float16')
    overflows = FP16_OVERFLOW_STEPS.get(family, 0) if dtype == 'float16' else 0
    for attempt in range(overflows + 1):
        # one step by hand, to see the (scaled) gradients before the optimizer consumes them
        with wrapper.optim_context(model):
            data = model.data_preprocessor(_batch(b=2, k=1, h=64, w=64, ori=(64, 64)), True)
            loss, _ = model.parse_losses(model(**data, mode='loss'))
        assert torch.isfinite(loss)
        wrapper.backward(loss)
        grads = [p.grad for p in _trainable(model) if p.grad is not None]
        assert grads
        if all(torch.isfinite(g).all() for g in grads):
            break
        assert attempt < overflows, f'non-finite gradients after {attempt} skipped steps'
        # the scaler skips the step (weights unchanged) and lowers its scale
        before = [p.detach().clone() for p in _trainable(model)]
        scale = wrapper.loss_scaler.get_scale()
        wrapper.step()
        wrapper.zero_grad()
        assert wrapper.loss_scaler.get_scale() < scale
        assert all(torch.equal(a, p) for a, p in zip(before, _trainable(model)))
    wrapper.step()
    wrapper.zero_grad()
    log_vars = model.train_step(_batch(b=2, k=1, h=64, w=64, ori=(64, 64)), wrapper)
    assert torch.isfinite(log_vars['loss']), log_vars
    assert all(torch.isfinite(p).all() for p in model.parameters())
    if dtype == 'float16':  # no inf/nan after the allowed overflows: no further halving
        assert wrapper.loss_scaler.get_scale() == 2.0**16 / 2**overflows
    assert 'mixed precision: ' + dtype in wrapper.describe()


def short_run(cfg: Config, shapes_root: str, work_dir: str, iters: int, episodes: int,
              batch_size: int = 4) -> Config:
    """``cfg`` trained for ``iters`` iterations on the small Shapes-5i copy and tested on
    ``episodes`` episodes, without validation, checkpoints or panels."""
    ds = dict(data_root=shapes_root, num_train=SMALL_SHAPES['num_train'],
              num_val=SMALL_SHAPES['num_val'], data_seed=SMALL_SHAPES['data_seed'])
    cfg.train_dataloader.update(batch_size=batch_size, num_workers=0, persistent_workers=False)
    cfg.train_dataloader.dataset.update(ds)
    cfg.val_dataloader.update(batch_size=4, num_workers=0, persistent_workers=False)
    cfg.val_dataloader.dataset.update(ds, num_episodes=episodes)
    cfg.test_dataloader = cfg.val_dataloader
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=iters, val_interval=1000)
    cfg.param_scheduler = []
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1000)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1000)
    cfg.default_hooks.visualization = dict(type='FewShotVisualizationHook', draw=False)
    cfg.work_dir = work_dir
    return cfg


@pytest.fixture(scope='module')
def trained_family(shapes_root, tmp_path_factory):
    """Each family trained for 60 iterations on the small Shapes-5i copy through the Runner
    (predictions of a trained model have margins; a random one's are ties)."""
    models = {}
    for family in FAMILIES:
        cfg = short_run(family_config(family), shapes_root,
                        str(tmp_path_factory.mktemp(f'amp-{family}')), iters=60, episodes=16)
        runner = Runner.from_cfg(cfg)
        runner.train()
        models[family] = (runner.model.eval(), runner.test_dataloader)
    return models


@pytest.mark.parametrize('family', FAMILIES)
def test_bf16_predictions_match_fp32(trained_family, family):
    model, loader = trained_family[family]
    agree = total = 0
    with torch.no_grad():
        for data in loader:
            fp32 = model.test_step(copy.deepcopy(data))
            with torch.autocast('cpu', dtype=torch.bfloat16):
                bf16 = model.test_step(copy.deepcopy(data))
            for a, b in zip(fp32, bf16):
                assert torch.isfinite(b.seg_logits.data).all()
                agree += int((a.pred_sem_seg.data == b.pred_sem_seg.data).sum())
                total += a.pred_sem_seg.data.numel()
    assert total > 0 and agree / total >= 0.97, agree / total


# ---------------------------------------------------------------------------------- syncs
@pytest.mark.parametrize('family', FAMILIES)
def test_host_syncs_per_training_step(family):
    model = build_family(family)
    optim = _sgd(model)
    model.train_step(_batch(b=2, k=1, h=64, w=64, ori=(64, 64)), optim)  # warm caches
    with HostSyncCounter() as syncs:
        model.train_step(_batch(b=2, k=1, h=64, w=64, ori=(64, 64)), optim)
    assert syncs.total <= SYNC_BUDGET[family], syncs.counts
    if family == 'dotgraph':  # the CAMs cross to OpenCV once for queries, once for supports
        assert set(syncs.counts) == {'numpy'}


@pytest.mark.parametrize('family, options', [
    ('cmnet', {1: dict(message_stride=2)}),
    ('cmnet', {1: dict(message_stride=2), 2: dict(matching_stride=2)}),
    ('dotgraph', {1: dict(input_size=80)})])
def test_speed_options_off_the_cpu_without_host_syncs(family, options):
    """The speed options of docs/speed.md (CMNet's message and matching strides, DOTGraph's
    CLIP input size) keep the family's meta-device step and its host-sync budget."""
    cfg = copy.deepcopy(family_config(family).model)
    for index, option in options.items():
        cfg.necks[index].update(option)
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    model.init_weights()
    for index, option in options.items():
        for name, value in option.items():
            assert getattr(model.necks[index], name) == value
    optim = _sgd(model)
    model.train_step(_batch(b=2, k=1, h=64, w=64, ori=(64, 64)), optim)  # warm caches
    with HostSyncCounter() as syncs:
        log_vars = model.train_step(_batch(b=2, k=1, h=64, w=64, ori=(64, 64)), optim)
    assert torch.isfinite(log_vars['loss']) and syncs.total <= SYNC_BUDGET[family], syncs.counts
    model.to('meta')
    with MetaHostReads() as reads:
        log_vars = model.train_step(_batch(b=2, k=1, h=64, w=64, ori=(64, 64)), _sgd(model))
    assert log_vars['loss'].device.type == 'meta'
    assert sum(reads.reads.values()) == SYNC_BUDGET[family], reads.reads


def test_the_sync_counter_counts():
    x = torch.arange(6.0)
    with HostSyncCounter() as syncs:
        x.sum().item()
        x[x > 2].sum()
        bool((x > 0).all())
        torch.allclose(x, x)
        x.numpy()
        x.tolist()
    assert syncs.counts['item'] >= 2 and syncs.counts['nonzero'] >= 1
    assert syncs.counts['numpy'] == 1 and syncs.counts['tolist'] == 1


# ---------------------------------------------------------------------------------- loops
def _epoch_cfg(shapes_root, work_dir, drop_last, batch_size):
    cfg = family_config('baseline')
    ds = dict(data_root=shapes_root, num_train=SMALL_SHAPES['num_train'],
              num_val=SMALL_SHAPES['num_val'], data_seed=SMALL_SHAPES['data_seed'])
    cfg.train_dataloader = dict(
        batch_size=batch_size, num_workers=0, persistent_workers=False,
        sampler=dict(type='DefaultSampler', shuffle=True), drop_last=drop_last,
        dataset=dict(cfg.train_dataloader.dataset, **ds))
    cfg.train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=1, val_interval=1000)
    cfg.param_scheduler = []
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', interval=1000)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1000)
    cfg.val_dataloader = cfg.val_evaluator = cfg.val_cfg = None
    cfg.test_dataloader = cfg.test_evaluator = cfg.test_cfg = None
    cfg.work_dir = work_dir
    return cfg


@pytest.mark.parametrize('drop_last', [True, False])
def test_epoch_loop_with_a_one_episode_remainder(shapes_root, tmp_path, drop_last):
    """An epoch of 141 episodes in batches of 20 leaves one over: the paper configs'
    loaders drop the last batch (PFENet, BAM); without that, the PPM head's stated
    single-episode behaviour (running statistics) carries the one-episode batch."""
    cfg = _epoch_cfg(shapes_root, str(tmp_path), drop_last, batch_size=20)
    runner = Runner.from_cfg(cfg)
    assert len(runner.train_dataloader.dataset) % 20 == 1
    runner.train()
    assert runner.iter == len(runner.train_dataloader.dataset) // 20 + (not drop_last)


def test_one_episode_batch_can_be_an_error(shapes_root, tmp_path):
    cfg = _epoch_cfg(shapes_root, str(tmp_path), False, batch_size=20)
    cfg.model.decode_head.single_episode_norm = 'error'
    with pytest.raises(ValueError, match='drop_last=True'):
        Runner.from_cfg(cfg).train()


# ---------------------------------------------------------------------------------- launch
def test_effective_batch_message():
    cfg = Config(dict(train_dataloader=dict(batch_size=2),
                      optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.005))))
    name = 'configs/dotgraph/dotgraph_r50-d8-vitb16_4xb2-50e_coco20i-fold0-1shot.py'
    assert config_batch(name) == (4, 2)
    assert config_batch('configs/cmnet/cmnet_r18-d8_shapes5i.py') is None
    assert effective_batch_message(name, 4, cfg) is None
    message = effective_batch_message(name, 1, cfg)
    assert '1 x 2 = 2 episodes per step' in message and '4x2 = 8' in message
    assert 'stays 0.005' in message and 'would give 0.00125' in message
    assert 'auto_scale_lr.base_batch_size=8' in message
    cfg.auto_scale_lr = dict(enable=True, base_batch_size=8)
    assert 'scaled by mmengine' in effective_batch_message(name, 1, cfg)


def test_cpu_launch_drops_sync_bn(monkeypatch):
    """SyncBN trains on GPUs only: a CPU (gloo) launch keeps per-process batch norm."""
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    monkeypatch.setattr(torch.distributed, 'is_initialized', lambda: True)
    for key, value in dict(RANK='0', WORLD_SIZE='1', MASTER_ADDR='127.0.0.1',
                           MASTER_PORT='29999').items():
        monkeypatch.setenv(key, value)
    cfg = Config.fromfile(CONFIGS['baseline'])
    assert cfg.sync_bn == 'torch'
    assert setup_cpu_dist(cfg, 'pytorch')
    assert cfg.sync_bn is None and cfg.model_wrapper_cfg.device_ids is None
    assert cfg.model_wrapper_cfg.find_unused_parameters is True  # the r18 trains layer4


@pytest.mark.parametrize('name', [
    'baseline/fss-baseline_r50-d8_4xb4-20k_pascal5i-fold0-1shot',
    'cmnet/cmnet_r50-d8_1xb4-200e_pascal5i-fold0-1shot',
    'dotgraph/dotgraph_r50-d8-vitb16_1xb4-100e_pascal5i-fold0-1shot'])
def test_amp_variants_change_only_the_precision(name):
    base = Config.fromfile(f'{REPO}/configs/{name}.py').to_dict()
    amp = Config.fromfile(f'{REPO}/configs/{name}_amp.py').to_dict()
    wrapper = amp.pop('optim_wrapper')
    assert wrapper.pop('type') == 'MixedPrecisionOptimWrapper' and wrapper.pop('dtype') == 'auto'
    assert wrapper == {k: v for k, v in base.pop('optim_wrapper').items() if k != 'type'}
    assert amp == base


SHAPES_CONFIGS = sorted(p for p in __import__('glob').glob(f'{REPO}/configs/**/*shapes5i*.py',
                                                           recursive=True) if '_base_' not in p)


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16], ids=['fp16', 'bf16'])
@pytest.mark.parametrize('path', SHAPES_CONFIGS, ids=lambda p: p.split('/configs/')[-1])
def test_every_shapes_config_under_autocast(path, dtype):
    """Every shipped Shapes-5i config at its own size (not only the small widths above):
    a training step under autocast has finite losses and finite (unscaled) gradients."""
    torch.manual_seed(0)
    model = MODELS.build(Config.fromfile(path).model)
    model.init_weights()
    with torch.autocast('cpu', dtype=dtype):
        data = model.data_preprocessor(_batch(b=2, k=1, h=96, w=96, ori=(96, 96)), True)
        losses = model(**data, mode='loss')
    terms = {k: v for k, v in losses.items() if 'loss' in k}
    assert terms and all(torch.isfinite(v).all() for v in terms.values()), terms
    sum(terms.values()).backward()
    grads = [p.grad for p in _trainable(model) if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)


NEW_FAMILY_PAPER_CONFIGS = [
    'pfenet/pfenet_r50-d8_1xb4-200e_pascal5i-fold0-5shot.py',
    'pfenet/pfenet_vgg16_4xb8-50e_coco20i-fold0-1shot.py',
    'pfenet/pfenet_r101-d8_4xb8-50e_coco20i-fold0-1shot.py',
    'bam/bam_r50-d8_4xb2-200e_pascal5i-fold0-5shot.py',
    'cmnet/cmnet_r50-d8_1xb4-200e_pascal5i-fold0-1shot_mfm-pot-stride2.py',
    'bam/bam_vgg16_4xb2-200e_pascal5i-fold0-5shot.py',
    'hsnet/hsnet_r50_1xb20-2000e_pascal5i-fold0-1shot.py',
    'hsnet/hsnet_vgg16_1xb20-2000e_pascal5i-fold0-1shot.py',
    'hdmnet/hdmnet_r50-d8_4xb4-200e_pascal5i-fold0-5shot.py',
    'hdmnet/hdmnet_r50-d8_4xb6-50e_coco20i-fold0-1shot.py',
    'piclip/piclip_r50-d8-vitb16_1xb8-200e_pascal5i-fold0-5shot.py',
    'foundationfss/foundationfss_dinov2-b14_1xb20-2000e_pascal5i-fold0-1shot.py',
]


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16], ids=['fp16', 'bf16'])
@pytest.mark.parametrize('name', NEW_FAMILY_PAPER_CONFIGS)
def test_paper_configs_under_autocast(name, dtype):
    """PFENet's, BAM's, HSNet's and HDMNet's paper configs and CMNet's variant with both
    speed options (their real widths, random weights, small inputs): a training step under autocast with finite losses and (unscaled) gradients."""
    from .test_configs import _offline
    cfg = Config.fromfile(f'{REPO}/configs/{name}')
    _offline(cfg)
    cfg.model.data_preprocessor.size = None
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    k = cfg.train_dataloader.dataset.get('shot', 1)
    with torch.autocast('cpu', dtype=dtype):
        data = model.data_preprocessor(_batch(b=2, k=k, h=97, w=97, ori=(97, 97)), True)
        losses = model(**data, mode='loss')
    terms = {n: v for n, v in losses.items() if 'loss' in n}
    assert terms and all(torch.isfinite(v).all() for v in terms.values()), terms
    sum(terms.values()).backward()
    grads = [p.grad for p in _trainable(model) if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
