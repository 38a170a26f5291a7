"""Training step, inference and peak memory of mmfss's methods next to their references.

    python tools/analysis_tools/benchmark_speed.py [--pairs baseline:pfenet cmnet:pfenet]
        [--reference-root pfenet=/path/to/PFENet] [--batch 2] [--shot 1] [--crop 473]
        [--repeats 10] [--device cpu|cuda]

Each side of a pair is a method at paper size, built from its PASCAL-5i fold-0 config with
random weights of its real architectures (no file is read): the training step (data
preprocessing, forward, loss, backward and the config's optimizer step, on ``--batch``
episodes of ``--shot`` supports at ``--crop``) and the inference of one episode (``predict``
at ``--crop``, no gradient). The two sides of a pair alternate in one process, after
``--warmup`` untimed rounds, for ``--repeats`` rounds; the table gives each side's median
and minimum and the ratio of the medians (and of the minima) of left over right. Peak
memory is measured in a fresh process per side (one training step and one inference):
CUDA's ``max_memory_allocated`` on a GPU, the process's peak resident set on the CPU (which
includes the interpreter and the libraries, the same for every side).

A side is a method of mmfss (``baseline``, ``cmnet``, ``dotgraph``, ``pfenet``, ``bam``,
``hsnet``, ``hdmnet``, ``piclip``; ``NAME+compile``: its ``train_step`` and ``test_step`` under ``torch.compile``,
as ``tools/train.py --compile``, the warm-up rounds absorbing the compilation; the ports
of PFENet, BAM, HSNet and HDMNet, and PI-CLIP's visual-visual prior, are equal to their
reference code to 1e-5, see docs/reference_parity.md; PI-CLIP's side reads the synthetic
queries' two annotated classes, as its code reads the query's labels) or, with
``--reference-root NAME=DIR``, the reference's own code: ``pfenet@ref``, dvlab-research/
PFENet's ``model/PFENet.py`` from a checkout at DIR, run as its ``train.py`` runs it
(backbone frozen, SGD over its other modules, ``aux_weight`` 1); ``piclip@ref``,
vangjin/PI-CLIP's ``model/PI_CLIP.py`` with its CLIP and Grad-CAM, run as its ``train.py``
and ``test.py`` run it (see :class:`PICLIPReference`: the files it reads are written with
random weights to a temporary folder; it needs einops and lxml). The reference is imported
by this tool only, and only then; mmfss never imports it.
``dotgraph:piclip`` is DOTGraph's Table 4 (1.23x PI-CLIP's training time, 1.06x its
inference) in one harness.

The CPU is named in the output (``/proc/cpuinfo``); numbers of different CPUs or of runs with
other work on the machine do not compare.
"""
import argparse
import json
import os
import os.path as osp
import platform
import statistics
import subprocess
import sys
import time

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
METHODS = dict(
    baseline='baseline/fss-baseline_r50-d8_4xb4-20k_pascal5i-fold0-1shot.py',
    cmnet='cmnet/cmnet_r50-d8_1xb4-200e_pascal5i-fold0-1shot.py',
    dotgraph='dotgraph/dotgraph_r50-d8-vitb16_1xb4-100e_pascal5i-fold0-1shot.py',
    pfenet='pfenet/pfenet_r50-d8_1xb4-200e_pascal5i-fold0-1shot.py',
    bam='bam/bam_r50-d8_4xb2-200e_pascal5i-fold0-1shot.py',
    hsnet='hsnet/hsnet_r50_1xb20-2000e_pascal5i-fold0-1shot.py',
    hdmnet='hdmnet/hdmnet_r50-d8_4xb4-200e_pascal5i-fold0-1shot.py',
    piclip='piclip/piclip_r50-d8-vitb16_1xb8-200e_pascal5i-fold0-1shot.py')
REFERENCES = ('pfenet', 'piclip')
DEFAULT_PAIRS = ['baseline:pfenet', 'cmnet:pfenet', 'dotgraph:piclip']


def cpu_name() -> str:
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def parse_side(side: str, roots: dict) -> str:
    name, _, ref = side.partition('@')
    if name.endswith('+compile') and not ref:
        name = name[:-len('+compile')]
    if ref:
        if ref != 'ref' or name not in REFERENCES:
            raise ValueError(f'{side!r}: a reference side is one of '
                             f'{", ".join(r + "@ref" for r in REFERENCES)}')
        if name not in roots:
            raise ValueError(f'{side!r} needs --reference-root {name}=DIR (a checkout of the '
                             "reference's code)")
    elif name not in METHODS:
        raise ValueError(f'{side!r} is not one of {", ".join(METHODS)} (or NAME+compile, '
                         'NAME@ref)')
    return side


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--pairs', nargs='+', default=DEFAULT_PAIRS, metavar='LEFT:RIGHT',
                        help='methods compared, left over right (default: '
                        f'{" ".join(DEFAULT_PAIRS)}); a side NAME@ref is the reference code')
    parser.add_argument('--reference-root', nargs='+', default=[], metavar='NAME=DIR',
                        help='checkouts of the references (pfenet=DIR)')
    parser.add_argument('--batch', type=int, default=2, help='training episodes per step')
    parser.add_argument('--shot', type=int, default=1)
    parser.add_argument('--crop', type=int, default=473)
    parser.add_argument('--repeats', type=int, default=10)
    parser.add_argument('--warmup', type=int, default=2)
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--threads', type=int, help='torch CPU threads')
    parser.add_argument('--model-options', nargs='+', default=[], metavar='KEY=VALUE',
                        help="merged into every mmfss side's model config (a lever off or "
                        'on, e.g. defer_support_stage=False), parsed as --cfg-options')
    parser.add_argument('--no-memory', action='store_true', help='skip the memory processes')
    parser.add_argument('--out', help='also write the results as JSON')
    parser.add_argument('--memory-of', help=argparse.SUPPRESS)  # internal: one side
    args = parser.parse_args(argv)
    for name in ('batch', 'shot', 'repeats'):
        if getattr(args, name) < 1:
            parser.error(f'--{name} must be >= 1, got {getattr(args, name)}')
    if args.crop < 64 or args.warmup < 0:
        parser.error('--crop must be >= 64 and --warmup >= 0')
    roots = {}
    for item in args.reference_root:
        name, sep, path = item.partition('=')
        if not sep or name not in REFERENCES:
            parser.error(f'--reference-root {item!r}: expected NAME=DIR with NAME one of '
                         f'{", ".join(REFERENCES)}')
        if not osp.isdir(path):
            parser.error(f'--reference-root {item!r}: {path} is not a folder')
        roots[name] = osp.abspath(path)
    args.roots = roots
    pairs = []
    try:
        for pair in args.pairs:
            left, sep, right = pair.partition(':')
            if not sep:
                raise ValueError(f'--pairs {pair!r}: expected LEFT:RIGHT')
            pairs.append((parse_side(left, roots), parse_side(right, roots)))
        if args.memory_of:
            parse_side(args.memory_of, roots)
    except ValueError as err:
        parser.error(str(err))
    args.pair_list = pairs
    return args


# ---------------------------------------------------------------------------- the sides
class MmfssSide:
    """A method of mmfss from its paper config, random weights, synthetic episodes."""

    def __init__(self, name: str, args, compiled: bool = False) -> None:
        import copy

        import torch
        from mmengine.model import revert_sync_batchnorm
        from mmengine.optim import build_optim_wrapper
        from mmseg.registry import MODELS

        from gpu_check import load_offline, synthetic_batch
        from mmengine.config import DictAction
        cfg, _, _, _ = load_offline(osp.join(REPO, 'configs', METHODS[name]))
        if args.model_options:
            bad = [o for o in args.model_options if '=' not in o]
            if bad:
                raise ValueError(f'--model-options {bad[0]!r}: expected KEY=VALUE')
            namespace = argparse.Namespace()
            DictAction(option_strings=['--model-options'], dest='options')(
                None, namespace, args.model_options)
            cfg.merge_from_dict({f'model.{k}': v for k, v in namespace.options.items()})
        cfg.model.data_preprocessor['size'] = (args.crop, args.crop)
        torch.manual_seed(0)
        self.model = revert_sync_batchnorm(MODELS.build(copy.deepcopy(cfg.model)))
        self.model.init_weights()
        self.model.to(args.device)
        self.wrapper = build_optim_wrapper(self.model, copy.deepcopy(cfg.optim_wrapper))
        size = (args.crop, args.crop)
        self.train_data = synthetic_batch(args.batch, args.shot, size, 'aeroplane', True)
        self.test_data = synthetic_batch(1, args.shot, size, 'aeroplane', False)
        if compiled:  # as tools/train.py --compile (mmengine compiles train_step)
            from mmfss.engine import configure_compile
            configure_compile()
            self.model.train_step = torch.compile(self.model.train_step)
            self.model.test_step = torch.compile(self.model.test_step)

    def train_step(self) -> None:
        import copy
        self.model.train()
        self.model.train_step(copy.deepcopy(self.train_data), self.wrapper)

    def infer(self) -> None:
        import copy

        import torch
        self.model.eval()
        with torch.no_grad():
            self.model.test_step(copy.deepcopy(self.test_data))


class PFENetReference:
    """dvlab-research/PFENet's own model (``model/PFENet.py``) from a checkout, run as its
    ``train.py`` and ``test.py`` run it."""

    def __init__(self, root: str, args) -> None:
        import torch
        import torch.nn as nn
        if not str(args.device).startswith('cuda'):
            # PFENet's forward defaults and its prior call .cuda(): on the CPU they are the
            # identity (this tool's process only)
            torch.Tensor.cuda = lambda self, *a, **k: self
        sys.path.insert(0, root)
        try:
            from model.PFENet import PFENet
        except ImportError as err:
            raise ValueError(f'--reference-root pfenet={root}: model/PFENet.py cannot be '
                             f'imported ({err})') from err
        torch.manual_seed(0)
        self.model = PFENet(layers=50, classes=2, zoom_factor=8,
                            criterion=nn.CrossEntropyLoss(ignore_index=255),
                            BatchNorm=nn.BatchNorm2d, pretrained=False, shot=args.shot,
                            ppm_scales=[60, 30, 15, 8], vgg=False).to(args.device)
        for layer in (self.model.layer0, self.model.layer1, self.model.layer2,
                      self.model.layer3, self.model.layer4):
            for p in layer.parameters():
                p.requires_grad = False
        groups = [getattr(self.model, n).parameters() for n in (
            'down_query', 'down_supp', 'init_merge', 'alpha_conv', 'beta_conv', 'inner_cls',
            'res1', 'res2', 'cls')]
        self.optimizer = torch.optim.SGD([{'params': g} for g in groups], lr=0.0025,
                                         momentum=0.9, weight_decay=1e-4)
        g = torch.Generator().manual_seed(0)
        b, k, s, dev = args.batch, args.shot, args.crop, args.device
        self.x = torch.randn(b, 3, s, s, generator=g).to(dev)
        self.s_x = torch.randn(b, k, 3, s, s, generator=g).to(dev)
        self.s_y = (torch.rand(b, k, s, s, generator=g) > 0.5).float().to(dev)
        self.y = (torch.rand(b, s, s, generator=g) > 0.5).long().to(dev)

    def train_step(self) -> None:
        self.model.train()
        _, main_loss, aux_loss = self.model(x=self.x, s_x=self.s_x, s_y=self.s_y, y=self.y)
        loss = main_loss + 1.0 * aux_loss
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()

    def infer(self) -> None:
        import torch
        import torch.nn.functional as F
        self.model.eval()
        with torch.no_grad():
            out = self.model(x=self.x[:1], s_x=self.s_x[:1], s_y=self.s_y[:1])
            F.interpolate(out, size=self.x.shape[-2:], mode='bilinear', align_corners=True)


class PICLIPReference:
    """vangjin/PI-CLIP's own model (``model/PI_CLIP.py``: its CLIP, ``get_img_cam`` with
    the vendored ``pytorch_grad_cam``, HDMNet's transformer) from a checkout, run as its
    ``train.py`` and ``test.py`` run it (backbone, PSPNet head and base learner frozen, BN
    fixed, AdamW over its other modules with 10x on the merges and reductions, loss main +
    distillation + base; the test forward without ``no_grad``: its Grad-CAM differentiates).

    Its constructor reads two files and its forward one annotation per query: random
    weights of the real architectures are written to a temporary folder (a PSPNet state
    dict as ``pre_weight``, a CLIP ViT-B/16 state dict as ``clip_path``; open_clip's layout
    is OpenAI's) with a VOC annotation per synthetic query naming its two classes (those
    mmfss's PI-CLIP side reads) at the crop's size. PI-CLIP's code imports mmcv 1.x names
    (``mmcv.runner``, ``mmcv.cnn.utils.weight_init``, ``mmseg.ops``): given from mmengine and
    mmseg in this process where absent; its ``util`` package and the vendored grad-cam import
    libraries this path never calls (seaborn, scikit-image, scikit-learn, networkx, ttach):
    stand-ins where absent. It needs einops and lxml (``pip install einops lxml``).
    """

    CLASSES = ('person', 'aeroplane')  # the synthetic queries' annotated classes
    OPTIONAL = ('seaborn', 'seaborn.distributions', 'skimage', 'skimage.filters',
                'skimage.morphology', 'sklearn', 'sklearn.neighbors', 'networkx', 'ttach')

    def __init__(self, root: str, args) -> None:
        import importlib.util
        import tempfile
        import types

        import torch
        import torch.nn as nn
        for needed in ('einops', 'lxml'):
            if importlib.util.find_spec(needed) is None:
                raise ValueError(f"--reference-root piclip={root}: PI-CLIP's code needs "
                                 f'{needed} (pip install einops lxml)')
        if not str(args.device).startswith('cuda'):  # its .cuda() calls: the identity here
            torch.Tensor.cuda = lambda self, *a, **k: self
            nn.Module.cuda = lambda self, *a, **k: self
        self._mmcv1_names()

        class Absent(types.ModuleType):
            __path__: list = []

            def __getattr__(self, name):
                return lambda *a, **k: None

        for name in self.OPTIONAL:
            try:
                present = importlib.util.find_spec(name) is not None
            except ModuleNotFoundError:
                present = False
            if not present:
                sys.modules[name] = Absent(name)
        self.tmp = tempfile.TemporaryDirectory(prefix='mmfss-piclip-ref-')
        work = osp.join(self.tmp.name, 'run')
        os.makedirs(osp.join(self.tmp.name, 'initmodel'))
        os.makedirs(osp.join(work, 'VOCdevkit', 'Annotations'))
        # PSPNet's ResNet reads ../initmodel/resnet50_v2.pth (relative to the working folder)
        torch.save({}, osp.join(self.tmp.name, 'initmodel', 'resnet50_v2.pth'))
        sys.path.insert(0, root)
        cwd = os.getcwd()
        os.chdir(work)
        try:
            from model.PI_CLIP import OneModel
            from model.PSPNet import OneModel as PSPNet
        except ImportError as err:
            raise ValueError(f'--reference-root piclip={root}: model/PI_CLIP.py cannot be '
                             f'imported ({err})') from err
        try:
            b, k, s, dev = args.batch, args.shot, args.crop, args.device
            config = types.SimpleNamespace(
                layers=50, zoom_factor=8, shot=k, vgg=False, data_set='pascal',
                ignore_label=255, classes=2, low_fea='layer2', kshot_trans_dim=2,
                pre_weight=osp.join(work, 'psp.pth'), clip_path=osp.join(work, 'clip.pth'),
                annotation_root=osp.join(work, 'VOCdevkit', 'Annotations'),
                weight_decay=0.01, aux_weight1=1.0, aux_weight2=1.0)
            torch.manual_seed(0)
            torch.save({'state_dict': PSPNet(config).state_dict()}, config.pre_weight)
            import open_clip
            clip = open_clip.create_model('ViT-B-16', pretrained=None, force_quick_gelu=True)
            torch.save({n: t for n, t in clip.state_dict().items() if n != 'attn_mask'},
                       config.clip_path)
            self.model = OneModel(config, cls_type='Base').to(dev)
        finally:
            os.chdir(cwd)
        self.model.freeze_modules(self.model)
        self.optimizer = self.model.get_optim(self.model, config, LR=1e-4)
        self.config = config
        self.names = [f'2008_{i:06d}.jpg' for i in range(b)]
        for name in self.names:
            objects = ''.join(f'<object><name>{c}</name></object>' for c in self.CLASSES)
            with open(osp.join(config.annotation_root, name[:-4] + '.xml'), 'w') as f:
                f.write(f'<annotation><size><width>{s}</width><height>{s}</height>'
                        f'<depth>3</depth></size>{objects}</annotation>')
        voc = ['aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair',
               'cow', 'diningtable', 'dog', 'horse', 'motorbike', 'person', 'pottedplant',
               'sheep', 'sofa', 'train', 'tvmonitor']
        self.class_idx = [voc.index('aeroplane')] * b
        g = torch.Generator().manual_seed(0)
        image = (torch.rand(b, 3, s, s, generator=g) * 255).round()
        mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1) * 255
        std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1) * 255
        self.x_cv2 = image.to(dev)
        self.x = ((image - mean) / std).to(dev)
        self.s_x = torch.randn(b, k, 3, s, s, generator=g).to(dev)
        self.s_y = (torch.rand(b, k, s, s, generator=g) > 0.5).long().to(dev)
        self.y = (torch.rand(b, s, s, generator=g) > 0.5).long().to(dev)
        self.cat_idx = [torch.ones(b, dtype=torch.long)]

    @staticmethod
    def _mmcv1_names() -> None:
        """mmcv 1.x / mmseg 0.x names PI-CLIP (as HDMNet) imports, from their 2.x / 1.x homes."""
        import importlib.util
        import types
        try:
            if importlib.util.find_spec('mmcv.runner') is not None:
                return
        except ModuleNotFoundError:
            pass
        import mmengine.model as mm
        import mmengine.model.weight_init as weight_init
        import mmseg.models.utils as seg_utils
        runner = types.ModuleType('mmcv.runner')
        runner.BaseModule, runner.ModuleList = mm.BaseModule, mm.ModuleList
        runner.Sequential = mm.Sequential
        sys.modules['mmcv.runner'] = runner
        cnn_utils = types.ModuleType('mmcv.cnn.utils')
        cnn_utils.__path__ = []
        sys.modules['mmcv.cnn.utils'] = cnn_utils
        sys.modules['mmcv.cnn.utils.weight_init'] = weight_init
        ops = types.ModuleType('mmseg.ops')
        ops.resize = seg_utils.resize
        sys.modules['mmseg.ops'] = ops

    def _forward(self, n: int):
        return self.model(s_x=self.s_x[:n], que_name=self.names[:n], s_y=self.s_y[:n],
                          x=self.x[:n], x_cv2=self.x_cv2[:n], y_m=self.y[:n], y_b=self.y[:n],
                          cat_idx=[c[:n] for c in self.cat_idx], class_name=self.class_idx[:n])

    def train_step(self) -> None:
        self.model.train()
        self.model.apply(lambda m: m.eval() if isinstance(m, _batch_norm_types()) else None)
        _, main_loss, aux_loss1, aux_loss2 = self._forward(self.x.shape[0])
        loss = (main_loss + self.config.aux_weight1 * aux_loss1
                + self.config.aux_weight2 * aux_loss2)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()

    def infer(self) -> None:
        import torch.nn.functional as F
        self.model.eval()
        out = self._forward(1)[0]
        F.interpolate(out.detach(), size=self.x.shape[-2:], mode='bilinear', align_corners=True)


def _batch_norm_types() -> tuple:
    """PI-CLIP's ``fix_bn``: every batch norm in eval mode during training."""
    import torch.nn as nn
    return (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)


def build_side(side: str, args):
    name, _, ref = side.partition('@')
    if ref:
        reference = dict(pfenet=PFENetReference, piclip=PICLIPReference)[name]
        return reference(args.roots[name], args)
    if name.endswith('+compile'):
        return MmfssSide(name[:-len('+compile')], args, compiled=True)
    return MmfssSide(name, args)


# ---------------------------------------------------------------------------- measuring
def sync(device: str) -> None:
    import torch
    if str(device).startswith('cuda'):
        torch.cuda.synchronize()


def timed(fn, device: str) -> float:
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - start


def peak_rss_kb() -> int:
    """This process's peak resident set in KiB: ``VmHWM`` of ``/proc/self/status`` (its own
    address space; ``getrusage``'s ``ru_maxrss`` keeps the parent's peak across ``exec``)."""
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('VmHWM:'):
                    return int(line.split()[1])
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def memory_of(args) -> dict:
    """Peak memory of one side: one training step and one inference in this process."""
    import torch
    cuda = str(args.device).startswith('cuda')
    before = peak_rss_kb()
    side = build_side(args.memory_of, args)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    side.train_step()
    side.infer()
    sync(args.device)
    if cuda:
        return dict(peak_mb=torch.cuda.max_memory_allocated() / 2**20, kind='cuda allocated')
    peak = peak_rss_kb()
    return dict(peak_mb=peak / 1024, over_imports_mb=(peak - before) / 1024,
                kind='peak resident set')


def measure_memory(side: str, argv: list) -> dict:
    cmd = [sys.executable, osp.abspath(__file__), *argv, '--memory-of', side]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    if proc.returncode != 0:
        raise RuntimeError(f'memory of {side}: {proc.stderr.strip().splitlines()[-1:]}')
    return json.loads(proc.stdout.strip().splitlines()[-1])


def compare(args, argv: list) -> int:
    import torch
    if args.threads:
        torch.set_num_threads(args.threads)
    sides = list(dict.fromkeys(s for pair in args.pair_list for s in pair))
    built = {s: build_side(s, args) for s in sides}
    times = {s: dict(train=[], infer=[]) for s in sides}
    for round_ in range(args.warmup + args.repeats):
        for kind in ('train', 'infer'):
            for s in sides:  # alternating: every side once per round
                fn = built[s].train_step if kind == 'train' else built[s].infer
                t = timed(fn, args.device)
                if round_ >= args.warmup:
                    times[s][kind].append(t)
        print(f'round {round_ + 1}/{args.warmup + args.repeats}'
              f'{" (warm-up)" if round_ < args.warmup else ""}', file=sys.stderr, flush=True)
    del built
    memory = {}
    if not args.no_memory:
        child = [a for a in argv if a != '--no-memory']
        memory = {s: measure_memory(s, child) for s in sides}
    stats = {s: {k: dict(median=statistics.median(v), min=min(v), values=v)
                 for k, v in times[s].items()} for s in sides}
    device = (torch.cuda.get_device_name() if str(args.device).startswith('cuda') else
              f'{cpu_name()}, {torch.get_num_threads()} threads')
    print(f'device: {device}; torch {torch.__version__}; batch {args.batch} x {args.shot}-shot '
          f'at {args.crop}x{args.crop}; {args.repeats} alternating rounds after '
          f'{args.warmup} warm-up' + (f'; mmfss models with {" ".join(args.model_options)}'
                                      if args.model_options else ''))
    print('| side | training step s, median (min) | inference s/episode, median (min) | '
          'peak memory MB |')
    print('| --- | --- | --- | --- |')
    for s in sides:
        st = stats[s]
        mem = memory.get(s, {}).get('peak_mb')
        print(f"| {s} | {st['train']['median']:.3f} ({st['train']['min']:.3f}) | "
              f"{st['infer']['median']:.3f} ({st['infer']['min']:.3f}) | "
              f"{'-' if mem is None else f'{mem:.0f}'} |")
    print('\n| pair | training step, median (min) | inference, median (min) |')
    print('| --- | --- | --- |')
    ratios = []
    for left, right in args.pair_list:
        r = {k: (stats[left][k]['median'] / stats[right][k]['median'],
                 stats[left][k]['min'] / stats[right][k]['min']) for k in ('train', 'infer')}
        ratios.append(dict(pair=f'{left}/{right}', **r))
        print(f"| {left} / {right} | {r['train'][0]:.2f} ({r['train'][1]:.2f}) | "
              f"{r['infer'][0]:.2f} ({r['infer'][1]:.2f}) |")
    if memory:
        print(f"(memory: {next(iter(memory.values()))['kind']} of a fresh process per side)")
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(dict(device=device, batch=args.batch, shot=args.shot, crop=args.crop,
                           repeats=args.repeats, stats=stats, memory=memory, ratios=ratios),
                      f, indent=1)
    return 0


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    sys.path.insert(0, osp.join(REPO, 'tools'))
    sys.path.insert(0, REPO)
    import mmfss  # noqa: F401
    from mmengine.registry import init_default_scope
    from mmfss.utils.tool_checks import check_device, run_tool
    init_default_scope('mmseg')

    def run() -> int:
        args.device = check_device(args.device)
        if args.memory_of:
            print(json.dumps(memory_of(args)))
            return 0
        return compare(args, argv)

    return run_tool(run)


if __name__ == '__main__':
    sys.exit(main())
