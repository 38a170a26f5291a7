"""Every leaf config builds, with pretrained weights overridden, and trains/predicts a step;
every leaf config builds mmengine's Runner (optimizer wrapper, schedulers, loops and their
dataloaders) on generated trees, and one config of each family trains an iteration and
tests through mmseg's flow."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.model import revert_sync_batchnorm
from mmengine.optim import OptimWrapper
from mmengine.runner import Runner
from mmengine.structures import PixelData
from mmseg.registry import MODELS
from mmseg.structures import SegDataSample

from mmfss.datasets import fss1000_split_classes
from .conftest import REPO, small_shapes_cfg
from .data_trees import ade_tree, class_folder_tree, coco_tree, fss_tree, voc_tree
from .test_models.test_segmentors.test_few_shot_segmentor import _batch
from .tiny_clip import TINY_CLIP

CONFIGS = sorted(p for p in glob.glob(f'{REPO}/configs/**/*.py', recursive=True)
                 if '_base_' not in p)


def test_configs_found():
    assert len(CONFIGS) >= 2


def _seg_batch(b=2, h=64, w=64, num_classes=16):
    samples = []
    for _ in range(b):
        s = SegDataSample()
        s.gt_sem_seg = PixelData(data=torch.randint(0, num_classes, (1, h, w)))
        s.set_metainfo(dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w)))
        samples.append(s)
    return dict(inputs=[torch.randint(0, 255, (3, h, w), dtype=torch.uint8) for _ in range(b)],
                data_samples=samples)


def _loader_dataset(cfg):
    dataset = cfg.train_dataloader.dataset
    return dataset.get('episodic', dataset)


def _offline(cfg):
    """No downloads: random weights of the real architectures (a tiny random CLIP of the
    same kind for CLIPPriorNeck), no pretrained or stage-1 checkpoints."""
    if cfg.model.type == 'EncoderDecoder':
        cfg.model.pretrained = None
        cfg.model.backbone.init_cfg = None  # PFENet's ImageNet weights (pretrain/)
        return
    cfg.model.backbone.init_cfg = None
    for neck in cfg.model.get('necks', []):
        if neck.type == 'CLIPPriorNeck':
            neck.update(pretrained=None, model_cfg=TINY_CLIP[neck.model_name])
        if neck.type == 'CLIPSimilarityNeck':  # the tiny CLIP's two blocks
            neck.update(layers=(1, 0))
    if cfg.model.decode_head.get('base_learner_init'):
        cfg.model.decode_head.base_learner_init = None


def _check_unused_parameters(cfg, model):
    """DDP's find_unused_parameters is set exactly where a training step leaves trainable
    parameters without a gradient (elsewhere it costs a graph walk per step)."""
    unused = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert bool(cfg.get('find_unused_parameters', False)) == bool(unused), (
        f'find_unused_parameters={cfg.get("find_unused_parameters")} but unused: {unused}')


def _step_segmentor(cfg):
    """Stage-1 configs: a standard mmseg segmentor on the base-class view."""
    _offline(cfg)
    cfg.model.data_preprocessor.size = (64, 64)
    model = revert_sync_batchnorm(MODELS.build(cfg.model))
    model.init_weights()
    num_classes = cfg.model.decode_head.num_classes
    base_classes = {'PASCAL5iDataset': 15, 'COCO20iDataset': 60,
                    'FSS1000Dataset': 520}[_loader_dataset(cfg).type]
    assert num_classes == base_classes + 1
    if cfg.model.get('auxiliary_head'):  # BAM's recipe has none
        assert cfg.model.auxiliary_head.num_classes == num_classes
    data = model.data_preprocessor(_seg_batch(num_classes=num_classes), True)
    losses = model(**data, mode='loss')
    sum(v for k, v in losses.items() if 'loss' in k).backward()
    _check_unused_parameters(cfg, model)
    model.eval()
    with torch.no_grad():
        out = model(**model.data_preprocessor(_seg_batch(b=1), False), mode='predict')
    assert out[0].pred_sem_seg.data.shape == (1, 64, 64)


def _step_few_shot(cfg):
    _offline(cfg)
    cfg.model.data_preprocessor.size = None  # keep the tiny batch tiny
    model = MODELS.build(cfg.model)
    model.init_weights()
    k = _loader_dataset(cfg).get('shot', 1)
    data = model.data_preprocessor(_batch(b=2, k=k, h=64, w=64, ori=(64, 64)), True)
    losses = model(**data, mode='loss')
    loss = sum(v for name, v in losses.items() if 'loss' in name)
    assert torch.isfinite(loss)
    loss.backward()
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert trainable and any(p.grad is not None and p.grad.abs().sum() > 0 for p in trainable)
    _check_unused_parameters(cfg, model)
    model.eval()
    with torch.no_grad():
        out = model(**model.data_preprocessor(_batch(b=1, k=k, h=64, w=64), False),
                    mode='predict')
    assert out[0].pred_sem_seg.data.shape == (1, 60, 50)
    assert cfg.val_evaluator.type == 'FewShotIoUMetric'
    # every model runs N-way inference with supports encoded once (the inferencer's path)
    data = model.data_preprocessor(_batch(b=2, k=k, h=64, w=64), False)
    sup = data['inputs']['support'][:1].expand(2, -1, -1, -1, -1)
    masks = data['inputs']['support_masks'][:1].expand(2, -1, -1, -1)
    with torch.no_grad():
        encoding = model.encode_support(sup, masks, [1, 2], ['aeroplane', 'bicycle'])
        out = model.predict_with_support(data['inputs']['query'], encoding,
                                         data['data_samples'])
    assert out[0].seg_logits.data.shape == (3, 60, 50)


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: osp.relpath(p, f'{REPO}/configs'))
def test_config_builds_and_steps(path):
    cfg = Config.fromfile(path)
    assert cfg.custom_imports.imports == ['mmfss'] and cfg.default_scope == 'mmseg'
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader', 'val_evaluator'):
        assert key in cfg
    torch.manual_seed(0)
    if cfg.model.type == 'EncoderDecoder':
        _step_segmentor(cfg)
    else:
        _step_few_shot(cfg)


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: osp.relpath(p, f'{REPO}/configs'))
def test_paper_scale_loop_settings(path):
    """Epoch-based loops drop the last batch (PFENet's and BAM's loaders; a one-episode
    batch has no batch-norm statistics); DDP converts to SyncBN (BAM) and the evaluation
    loops do not autotune cuDNN."""
    cfg = Config.fromfile(path)
    if cfg.train_cfg.get('type') == 'EpochBasedTrainLoop':
        assert cfg.train_dataloader.get('drop_last') is True
        assert cfg.train_dataloader.sampler.type == 'DefaultSampler'
    assert cfg.sync_bn == 'torch'
    assert any(h.type == 'CudnnBenchmarkHook' for h in cfg.custom_hooks)


def test_query_labels_only_where_a_reference_reads_them():
    """The visual-text prior that reads the query's labels (PI-CLIP's reading) is an option
    off by default, on only in PI-CLIP's PASCAL-5i and COCO-20i configs, the ones that
    reproduce its numbers; every other config prompts with the episode's class."""
    readers = set()
    for path in CONFIGS:
        cfg = Config.fromfile(path)
        necks = cfg.model.get('necks') or []
        if any(n.get('prompt_classes') == 'query_labels' for n in necks):
            readers.add(osp.relpath(path, f'{REPO}/configs'))
    expected = {osp.relpath(p, f'{REPO}/configs')
                for p in glob.glob(f'{REPO}/configs/piclip/piclip_*_*_pascal5i-*.py')
                + glob.glob(f'{REPO}/configs/piclip/piclip_*_*_coco20i-*.py')}
    assert len(expected) == 16 and readers == expected, sorted(readers ^ expected)


def test_cmnet_config_conventions():
    """Stage 2 loads the stage-1 backbone of its own fold and freezes it; shots and folds
    reach every loader; ablations change only their module."""
    root = f'{REPO}/configs/cmnet'
    for ds, name in (('pascal5i', 'cmnet_r50-d8_1xb4-200e_pascal5i'),
                     ('coco20i', 'cmnet_r50-d8_4xb8-50e_coco20i')):
        for fold in range(4):
            for shot in (1, 5):
                cfg = Config.fromfile(f'{root}/{name}-fold{fold}-{shot}shot.py')
                init = cfg.model.backbone.init_cfg
                assert init.prefix == 'backbone.' and cfg.model.freeze_backbone
                assert init.checkpoint == cfg.stage1_checkpoint
                assert f'{ds}-base-fold{fold}/' in init.checkpoint
                stage1 = osp.basename(osp.dirname(init.checkpoint))
                assert osp.isfile(f"{REPO}/configs/base_learner/{stage1}.py")
                for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
                    assert cfg[key].dataset.fold == fold and cfg[key].dataset.shot == shot
                s1 = Config.fromfile(f"{REPO}/configs/base_learner/{stage1}.py")
                for key in ('train_dataloader', 'val_dataloader'):
                    assert s1[key].dataset.episodic.fold == fold
    _check_variants(root, 'cmnet_r50-d8_1xb4-200e_pascal5i-fold0-1shot')
    full = Config.fromfile(f'{root}/cmnet_r50-d8_1xb4-200e_pascal5i-fold0-1shot.py')
    partial = Config.fromfile(f'{root}/cmnet_r50-d8_1xb4-200e_pascal5i-fold0-1shot_full-ot.py')
    a, b = full.model.to_dict(), partial.model.to_dict()
    assert a['necks'][2].pop('transport') == 'partial' and b['necks'][2].pop('transport') == 'full'
    assert a == b


def _check_variants(root, name):
    """Every variant of a root config is a short file that inherits it."""
    for path in glob.glob(f'{root}/{name}_*.py'):
        with open(path) as f:
            text = f.read()
        assert f"_base_ = ['./{name}.py']" in text and len(text.splitlines()) <= 50, path


def test_dotgraph_config_conventions():
    """Backbone and base learner come from BAM's base-class PSPNet of the same fold
    (converted); the CLIP model names real weights (QuickGELU, OpenAI's); BAM's frames
    (align_corners=True); folds and shots reach every loader."""
    root = f'{REPO}/configs/dotgraph'
    for ds, name, n_base in (('pascal5i', 'dotgraph_r50-d8-vitb16_1xb4-100e_pascal5i', 16),
                             ('coco20i', 'dotgraph_r50-d8-vitb16_4xb2-50e_coco20i', 61)):
        for fold in range(4):
            for shot in (1, 5):
                cfg = Config.fromfile(f'{root}/{name}-fold{fold}-{shot}shot.py')
                ckpt = cfg.base_learner_checkpoint
                data = 'pascal' if ds == 'pascal5i' else 'coco'
                assert ckpt == f'pretrain/bam_pspnet_resnet50_{data}_split{fold}.pth'
                assert cfg.model.backbone.init_cfg.checkpoint == ckpt
                head = cfg.model.decode_head
                assert head.base_learner_init.checkpoint == ckpt
                assert head.base_learner_init.prefix == 'decode_head.'
                assert head.base_learner.num_classes == n_base
                assert head.align_corners and head.meta_head.align_corners
                assert head.base_learner.align_corners
                assert cfg.model.backbone.stem_channels == 128
                assert not cfg.model.backbone.contract_dilation
                # a base learner trained here with BAM's recipe fits the same slots
                recipe = 'pspnet_r50-d8_4xb3-100e_pascal5i' if data == 'pascal' else \
                    'pspnet_r50-d8_4xb3-20e_coco20i'
                own = Config.fromfile(f'{REPO}/configs/base_learner/{recipe}-base-fold{fold}.py')
                assert own.model.decode_head.num_classes == n_base
                assert own.model.decode_head.align_corners
                assert own.model.backbone.stem_channels == 128
                clip = [n for n in cfg.model.necks if n.type == 'CLIPPriorNeck'][0]
                assert clip.model_name == 'ViT-B-16' and clip.pretrained == 'openai'
                assert clip.quick_gelu is True
                for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
                    assert cfg[key].dataset.fold == fold and cfg[key].dataset.shot == shot
    _check_variants(root, 'dotgraph_r50-d8-vitb16_1xb4-100e_pascal5i-fold0-1shot')
    small = Config.fromfile(f'{root}/dotgraph_r50-d8-vitb16_1xb4-100e_pascal5i-fold0-1shot_225.py')
    assert small.model.data_preprocessor.size == (225, 225)


# ----------------------------------------------------------------- mmengine's Runner
class _Trees:
    """Generated trees in the benchmarks' formats, made on first use, one per dataset type:
    ``overrides(type)`` is what a config's dataset needs to read it. Every class has 6
    images (5-shot episodes need 5 supports besides the query)."""

    def __init__(self, base, shapes_root):
        self.base, self.shapes_root, self.made = base, shapes_root, {}

    def overrides(self, dataset_type):
        if dataset_type not in self.made:
            self.made[dataset_type] = getattr(self, '_' + dataset_type)()
        return self.made[dataset_type]

    def _PASCAL5iDataset(self):
        root = self.base / 'voc'
        voc_tree(root, n=120)
        return dict(data_root=str(root), ann_file='list.txt')

    def _COCO20iDataset(self):
        root = self.base / 'coco'
        for split in ('train', 'val'):
            coco_tree(root, split=split, n=480)
        return dict(data_root=str(root))

    def _FSS1000Dataset(self):
        root = self.base / 'fss'
        fss_tree(root, [c for names in fss1000_split_classes().values() for c in names],
                 n_images=10, size=(24, 24))  # HSNet's FSS protocol uses images 1..10
        return dict(data_root=str(root))

    def _ClassFolderDataset(self):
        root = self.base / 'class_folders'
        class_folder_tree(root, [f'class_{i:02d}' for i in range(8)], n_images=6)
        return dict(data_root=str(root))

    def _EpisodicSegDataset(self):
        root = self.base / 'ade'
        ade_tree(root, n=150)  # every class in three images
        return dict(dataset=dict(type='ADE20KDataset', data_root=str(root),
                                 data_prefix=dict(img_path='images/training',
                                                  seg_map_path='annotations/training')))

    def _Shapes5iDataset(self):
        cfg = small_shapes_cfg(self.shapes_root)
        cfg.pop('type')
        return cfg


@pytest.fixture(scope='module')
def trees(tmp_path_factory, shapes_root):
    return _Trees(tmp_path_factory.mktemp('config-trees'), shapes_root)


def _on_trees(cfg, trees, workers=0):
    """Point every dataloader of ``cfg`` at the generated tree of its dataset type."""
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg[key]
        loader.update(num_workers=workers, persistent_workers=False)
        dataset = loader.dataset.get('episodic', loader.dataset)
        dataset.update(trees.overrides(dataset.type))
        dataset.pop('stats_cache_dir', None)
        if dataset.get('protocol') == 'hsnet' and dataset.type != 'FSS1000Dataset':
            # HSNet's PASCAL / COCO split files name real images the tiny trees lack; the
            # protocol's own tests (tests/test_datasets/test_protocols.py) read it
            dataset.protocol = None
            dataset.pop('hsnet_split_file', None)
        if dataset.get('filter_novel_images'):  # BAM's filter empties classes of the tiny
            dataset.small_classes = 'exclude'     # generated trees; real lists keep them


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: osp.relpath(p, f'{REPO}/configs'))
def test_config_builds_runner(path, trees, tmp_path):
    """What ``tools/train.py`` (mmseg's and ours) builds before the first iteration:
    ``Runner.from_cfg``, then the train loop (its dataloader and dataset), the optimizer
    wrapper, the parameter schedulers (epoch-based ones converted with the real epoch
    length) and the val and test loops with their evaluators."""
    from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    cfg = Config.fromfile(path)
    _offline(cfg)
    _on_trees(cfg, trees)
    cfg.work_dir = str(tmp_path)
    runner = Runner.from_cfg(cfg)
    train_loop = runner.train_loop
    assert len(train_loop.dataloader.dataset) > 0 and train_loop.max_iters > 0
    runner.optim_wrapper = runner.build_optim_wrapper(runner.optim_wrapper)
    assert isinstance(runner.optim_wrapper, OptimWrapper)
    assert runner.optim_wrapper.get_lr()['lr'][0] == cfg.optim_wrapper.optimizer.lr
    schedulers = runner.build_param_scheduler(runner.param_schedulers)
    assert schedulers and all(s.end <= train_loop.max_iters or s.by_epoch for s in schedulers)
    for loop in (runner.val_loop, runner.test_loop):
        assert len(loop.dataloader.dataset) > 0 and loop.evaluator.metrics


FAMILIES = {
    'baseline (PASCAL-5i)': 'baseline/fss-baseline_r50-d8_4xb4-20k_pascal5i-fold0-1shot.py',
    'base learner (COCO-20i)': 'base_learner/pspnet_r50-d8_4xb4-20k_coco20i-base-fold0.py',
    'CMNet (FSS-1000)': 'cmnet/cmnet_r50-d8_1xb4-100e_fss1000-1shot.py',
    'DOTGraph (PASCAL-5i)': 'dotgraph/dotgraph_r50-d8-vitb16_1xb4-100e_pascal5i-fold0-1shot.py',
    'PFENet (COCO-20i, VGG-16)': 'pfenet/pfenet_vgg16_4xb8-50e_coco20i-fold0-1shot.py',
    'own data (ADE20K through EpisodicSegDataset)':
    'own_data/fss-baseline_r50-d8_4xb4-20k_ade20k-fold0-1shot.py',
    'own data (class folders)': 'own_data/fss-baseline_r18-d8_1xb8-1k_class-folders-fold0-1shot.py',
}


@pytest.mark.slow
@pytest.mark.parametrize('family', list(FAMILIES))
def test_config_trains_and_tests_with_mmseg_flow(family, trees, tmp_path):
    """mmseg's tools/train.py and tools/test.py flow (register_all_modules,
    Config.fromfile, Runner.from_cfg, runner.train(), runner.test()) on a generated tree:
    one training iteration (the config's batch, crop and optimizer; an epoch-based loop is
    cut to one iteration), then the test loop over two episodes (two images for a
    base learner)."""
    from mmseg.utils import register_all_modules
    register_all_modules(init_default_scope=True)
    cfg = Config.fromfile(f'{REPO}/configs/{FAMILIES[family]}')
    _offline(cfg)
    _on_trees(cfg, trees)
    cfg.work_dir = str(tmp_path)
    # val_begin past the end: training alone (the test loop below evaluates)
    cfg.train_cfg = dict(type='IterBasedTrainLoop', max_iters=1, val_interval=1, val_begin=2)
    cfg.default_hooks.checkpoint = dict(type='CheckpointHook', by_epoch=False, interval=10)
    cfg.default_hooks.logger = dict(type='LoggerHook', interval=1)
    test = cfg.test_dataloader.dataset
    test.update(indices=2) if test.type == 'BaseClassDataset' else test.update(num_episodes=2)
    runner = Runner.from_cfg(cfg)
    before = [p.detach().clone() for p in runner.model.parameters() if p.requires_grad]
    runner.train()
    assert runner.iter == 1
    after = [p for p in runner.model.parameters() if p.requires_grad]
    assert any(not torch.equal(a, b) for a, b in zip(after, before)), 'no parameter moved'
    metrics = runner.test()
    assert len(runner.test_dataloader.dataset) == 2
    assert 'mIoU' in metrics and 0 <= metrics['mIoU'] <= 100
