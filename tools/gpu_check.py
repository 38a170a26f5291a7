# The paper-scale check: does every method run on this machine's accelerator at its real
# size? (`make gpu-check`)
#
# On a CUDA machine:
#   1. the tests that prove the GPU path (tests/test_paper_scale.py and the inferencer's
#      device test; with CUDA present they also run their cuda cases);
#   2. for the fold-0 config of each method x benchmark x shot, at its real crop, batch and
#      shot, with random weights of the real architectures (no checkpoint or CLIP file is
#      read): one training iteration in fp32 and one with --amp's mixed precision, then
#      test episodes; a table of step time, test episodes per second and peak
#      torch.cuda.max_memory_allocated;
#   3. tools/train.py --amp on the Shapes-5i baseline (mmengine's Runner, generated data)
#      and, with 2 or more GPUs, the same through tools/dist_train.sh on 2 GPUs (DDP,
#      SyncBN);
#   4. tools/analysis_tools/benchmark_speed.py --device cuda: the baseline and CMNet next to
#      mmfss's PFENet port, DOTGraph next to BAM, the baseline compiled next to eager
#      (training step and inference, alternating rounds; CUDA only, --skip-speed).
# Without CUDA the same stages run their CPU path on the Shapes-5i configs (CI runs it, so
# it cannot rot). Exit status 1 when anything failed; the table says what.
import argparse
import os
import os.path as osp
import subprocess
import sys
import time

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
PAPER_CONFIGS = [
    'baseline/fss-baseline_r50-d8_4xb4-20k_pascal5i-fold0-1shot.py',
    'cmnet/cmnet_r50-d8_1xb4-200e_pascal5i-fold0-1shot.py',
    'cmnet/cmnet_r50-d8_1xb4-200e_pascal5i-fold0-5shot.py',
    'cmnet/cmnet_r50-d8_4xb8-50e_coco20i-fold0-1shot.py',
    'cmnet/cmnet_r50-d8_4xb8-50e_coco20i-fold0-5shot.py',
    'cmnet/cmnet_r50-d8_1xb4-100e_fss1000-1shot.py',
    'cmnet/cmnet_r50-d8_1xb4-100e_fss1000-5shot.py',
    'dotgraph/dotgraph_r50-d8-vitb16_1xb4-100e_pascal5i-fold0-1shot.py',
    'dotgraph/dotgraph_r50-d8-vitb16_1xb4-100e_pascal5i-fold0-5shot.py',
    'dotgraph/dotgraph_r50-d8-vitb16_4xb2-50e_coco20i-fold0-1shot.py',
    'dotgraph/dotgraph_r50-d8-vitb16_4xb2-50e_coco20i-fold0-5shot.py',
    'pfenet/pfenet_r50-d8_1xb4-200e_pascal5i-fold0-1shot.py',
    'pfenet/pfenet_r50-d8_1xb4-200e_pascal5i-fold0-5shot.py',
    'pfenet/pfenet_vgg16_4xb8-50e_coco20i-fold0-1shot.py',
    'pfenet/pfenet_vgg16_4xb8-50e_coco20i-fold0-5shot.py',
    'pfenet/pfenet_r101-d8_4xb8-50e_coco20i-fold0-1shot.py',
    'bam/bam_r50-d8_4xb2-200e_pascal5i-fold0-1shot.py',
    'bam/bam_r50-d8_4xb2-200e_pascal5i-fold0-5shot.py',
    'bam/bam_r50-d8_4xb2-50e_coco20i-fold0-1shot.py',
    'bam/bam_r50-d8_4xb2-50e_coco20i-fold0-5shot.py',
    'bam/bam_vgg16_4xb2-200e_pascal5i-fold0-1shot.py',
    'hsnet/hsnet_r50_1xb20-2000e_pascal5i-fold0-1shot.py',
    'hsnet/hsnet_r101_1xb20-2000e_pascal5i-fold0-1shot.py',
    'hsnet/hsnet_vgg16_1xb20-2000e_pascal5i-fold0-1shot.py',
    'hsnet/hsnet_r50_1xb40-2000e_coco20i-fold0-1shot.py',
    'hsnet/hsnet_r50_1xb20-2000e_fss1000-1shot.py',
    'hsnet/hsnet_swin-b_1xb20-2000e_pascal5i-fold0-1shot.py',
    'hdmnet/hdmnet_r50-d8_4xb4-200e_pascal5i-fold0-1shot.py',
    'hdmnet/hdmnet_r50-d8_4xb4-200e_pascal5i-fold0-5shot.py',
    'hdmnet/hdmnet_r50-d8_4xb6-50e_coco20i-fold0-1shot.py',
    'piclip/piclip_r50-d8-vitb16_1xb8-200e_pascal5i-fold0-1shot.py',
    'piclip/piclip_r50-d8-vitb16_1xb8-200e_pascal5i-fold0-5shot.py',
    'foundationfss/foundationfss_dinov2-b14_1xb20-2000e_pascal5i-fold0-1shot.py',
    'base_learner/pspnet_r50-d8_4xb3-100e_pascal5i-base-fold0.py',
    'base_learner/pspnet_r50-d8_4xb4-20k_pascal5i-base-fold0.py',
    'base_learner/pspnet_r50-d8_4xb4-20k_fss1000-base.py',
]
SHAPES_CONFIGS = [
    'baseline/fss-baseline_r18-d8_1xb8-2k_shapes5i-fold0-1shot.py',
    'cmnet/cmnet_r18-d8_1xb8-2k_shapes5i-fold0-1shot.py',
    'dotgraph/dotgraph_r18-d8_1xb8-2k_shapes5i-fold0-1shot.py',
    'pfenet/pfenet_r18-d8_1xb8-2k_shapes5i-fold0-1shot.py',
    'bam/bam_r18-d8_1xb8-2k_shapes5i-fold0-1shot.py',
    'hsnet/hsnet_r18_1xb8-2k_shapes5i-fold0-1shot.py',
    'hdmnet/hdmnet_r18-d8_1xb8-2k_shapes5i-fold0-1shot.py',
    'piclip/piclip_r18-d8_1xb8-2k_shapes5i-fold0-1shot.py',
    'foundationfss/foundationfss_vit-w64_1xb8-2k_shapes5i-fold0-1shot.py',
]
CHECK_TESTS = ['tests/test_paper_scale.py',
               'tests/test_apis/test_few_shot_inferencer.py::test_runs_with_the_model_off_the_cpu',
               'tests/test_webui/test_callbacks.py::test_segment_session_with_the_model_off_the_cpu']


def parse_args():
    parser = argparse.ArgumentParser(
        description='Run every method at its real size on this machine\'s GPU (CPU: the '
        'Shapes-5i configs) and print step time, test speed and peak memory')
    parser.add_argument('--device', default='auto', help="'auto' (cuda when present), "
                        "'cuda' or 'cpu'")
    parser.add_argument('--configs', nargs='+', metavar='CONFIG',
                        help='configs to check (default: the fold-0 paper configs on CUDA, '
                        'the Shapes-5i ones on CPU)')
    parser.add_argument('--test-episodes', type=int, default=5,
                        help='test episodes timed per config (default 5)')
    parser.add_argument('--skip-tests', action='store_true', help='skip stage 1 (pytest)')
    parser.add_argument('--skip-runner', action='store_true',
                        help='skip stage 3 (tools/train.py and tools/dist_train.sh)')
    parser.add_argument('--skip-speed', action='store_true',
                        help='skip stage 4 (benchmark_speed.py, CUDA only)')
    parser.add_argument('--work-dir', default='work_dirs/gpu_check',
                        help='where the table (gpu_check.json, gpu_check.md) is written')
    return parser.parse_args()


# ------------------------------------------------------------------------------ episodes
def synthetic_batch(batch: int, shot: int, size, class_name: str, train: bool):
    """Episodes at ``size`` whose masks are ellipses (as loaders give them: uint8 images,
    labels 0/1; the query label 255 at a border strip)."""
    import numpy as np
    import torch
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    h, w = size
    yy, xx = np.mgrid[:h, :w]
    rng = np.random.default_rng(0)

    def blob():
        cy, cx = rng.uniform(0.3, 0.7) * h, rng.uniform(0.3, 0.7) * w
        ry, rx = rng.uniform(0.15, 0.3) * h, rng.uniform(0.15, 0.3) * w
        return torch.from_numpy((((yy - cy) / ry)**2 + ((xx - cx) / rx)**2 <= 1)
                                .astype(np.uint8))

    samples, queries, supports = [], [], []
    for _ in range(batch):
        s = SegDataSample()
        label = blob().long()
        label[:, -4:] = 255
        if train:
            s.gt_sem_seg = PixelData(data=label[None])
        s.support_masks = PixelData(data=torch.stack([blob() for _ in range(shot)]))
        s.set_metainfo(dict(img_shape=(h, w), ori_shape=(h, w), class_id=1,
                            class_name=class_name, query_class_names=['person', class_name],
                            base_label=0 if not train else 1))
        samples.append(s)
        queries.append(torch.randint(0, 255, (3, h, w), dtype=torch.uint8))
        supports.append(torch.randint(0, 255, (shot, 3, h, w), dtype=torch.uint8))
    return dict(inputs=dict(query=queries, support=supports), data_samples=samples)


def _seg_batch(batch: int, size, num_classes: int):
    import torch
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    h, w = size
    samples = []
    for _ in range(batch):
        s = SegDataSample()
        s.gt_sem_seg = PixelData(data=torch.randint(0, num_classes, (1, h, w)))
        s.set_metainfo(dict(img_shape=(h, w), ori_shape=(h, w), pad_shape=(h, w)))
        samples.append(s)
    return dict(inputs=[torch.randint(0, 255, (3, h, w), dtype=torch.uint8)
                        for _ in range(batch)], data_samples=samples)


# ------------------------------------------------------------------------------ stage 2
def offline(cfg) -> None:
    """Random weights of the real architectures: no backbone, base learner or CLIP file."""
    cfg.model.backbone.init_cfg = None
    if cfg.model.get('pretrained'):
        cfg.model.pretrained = None
    for neck in cfg.model.get('necks', []) or []:
        if neck.type == 'CLIPPriorNeck':
            neck.pretrained = None
    if cfg.model.decode_head.get('base_learner_init'):
        cfg.model.decode_head.base_learner_init = None


def load_offline(path: str):
    """The config with random weights (:func:`offline`) and its training geometry:
    ``(cfg, batch, shot, (h, w))``."""
    from mmengine.config import Config
    cfg = Config.fromfile(path)
    offline(cfg)
    loader = cfg.train_dataloader
    dataset = loader.dataset.get('episodic', loader.dataset)
    size = tuple(cfg.model.data_preprocessor.get('size') or (96, 96))
    return cfg, loader.batch_size, dataset.get('shot', 1), size


def check_config(path: str, device: str, test_episodes: int) -> dict:
    """One training iteration in fp32 and in mixed precision, then test episodes."""
    import copy

    import torch
    from mmengine.model import revert_sync_batchnorm
    from mmengine.optim import build_optim_wrapper
    from mmseg.registry import MODELS
    cfg, batch, shot, size = load_offline(path)
    segmentor = cfg.model.type == 'EncoderDecoder'
    row = dict(config=osp.relpath(path, osp.join(REPO, 'configs')), batch=batch, shot=shot,
               crop=f'{size[0]}x{size[1]}')
    cuda = device.startswith('cuda')

    def peak() -> float:
        return torch.cuda.max_memory_allocated() / 2**30 if cuda else float('nan')

    def sync():
        if cuda:
            torch.cuda.synchronize()

    torch.manual_seed(0)
    model = revert_sync_batchnorm(MODELS.build(copy.deepcopy(cfg.model)))
    model.init_weights()
    model.to(device)
    num_classes = cfg.model.decode_head.get('num_classes', 2)

    def train_batch():
        return (_seg_batch(batch, size, num_classes) if segmentor else
                synthetic_batch(batch, shot, size, 'aeroplane', train=True))

    for amp in (False, True):
        wrapper_cfg = copy.deepcopy(cfg.optim_wrapper)
        if amp:
            wrapper_cfg.update(type='MixedPrecisionOptimWrapper', dtype='auto')
        wrapper = build_optim_wrapper(model, wrapper_cfg)
        model.train()
        model.train_step(train_batch(), wrapper)  # warm-up (cuDNN, caches)
        sync()
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        log_vars = model.train_step(train_batch(), wrapper)
        sync()
        elapsed = time.perf_counter() - start
        loss = float(log_vars['loss'].detach())
        if not loss == loss or loss in (float('inf'), float('-inf')):
            raise FloatingPointError(f'{"amp" if amp else "fp32"} loss is {loss}')
        key = 'amp' if amp else 'fp32'
        row[f'{key}_step_s'] = elapsed
        row[f'{key}_peak_gib'] = peak()
        if amp:
            row['amp_dtype'] = str(wrapper.cast_dtype).replace('torch.', '')
    model.eval()
    test = (_seg_batch(1, size, num_classes) if segmentor else
            synthetic_batch(1, shot, size, 'aeroplane', train=False))
    with torch.no_grad():
        model.test_step(copy.deepcopy(test))
        sync()
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        for _ in range(test_episodes):
            out = model.test_step(copy.deepcopy(test))
        sync()
    row['test_eps_per_s'] = test_episodes / (time.perf_counter() - start)
    row['test_peak_gib'] = peak()
    assert out[0].pred_sem_seg.data.shape[-2:] == size
    return row


# ------------------------------------------------------------------------------ stage 3
def runner_checks(device: str, work_dir: str) -> list:
    """tools/train.py --amp (1 process) and tools/dist_train.sh (2 processes: GPUs when 2
    are present, gloo on CPU) on a small generated Shapes-5i copy."""
    import torch

    from mmfss.datasets import generate_shapes5i
    root = osp.join(work_dir, 'shapes5i-160-80')
    generate_shapes5i(root, seed=0, num_train=160, num_val=80)
    config = osp.join(REPO, 'configs', SHAPES_CONFIGS[0])
    opts = ['--cfg-options']
    for loader in ('train_dataloader', 'val_dataloader'):
        opts += [f'{loader}.dataset.data_root={root}', f'{loader}.dataset.num_train=160',
                 f'{loader}.dataset.num_val=80', f'{loader}.dataset.data_seed=0']
    opts += ['val_dataloader.dataset.num_episodes=8',
            'train_dataloader.num_workers=0', 'train_dataloader.persistent_workers=False',
            'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False',
            'train_cfg.max_iters=4', 'train_cfg.val_interval=4',
            'default_hooks.checkpoint.interval=4', 'default_hooks.logger.interval=1']
    gpus = torch.cuda.device_count() if device.startswith('cuda') else 0
    runs = [('tools/train.py --amp', [sys.executable, 'tools/train.py', config, '--amp']),
            ('dist_train.sh, 2 ' + ('GPUs' if gpus >= 2 else 'CPU processes (gloo)'),
             ['bash', 'tools/dist_train.sh', config, '2', '--amp'] if gpus >= 2 else
             ['bash', 'tools/dist_train.sh', config, '2'])]
    # a CPU check hides the GPUs, so that the CPU path runs even where one is present
    env = dict(os.environ, PYTHON=sys.executable, PORT=str(29500 + os.getpid() % 1000),
               **(dict(CUDA_VISIBLE_DEVICES='') if device == 'cpu' else {}))
    rows = []
    for i, (name, cmd) in enumerate(runs):
        if device.startswith('cuda') and gpus < 2 and i == 1:
            rows.append(dict(config=name, error='skipped: fewer than 2 GPUs'))
            continue
        out_dir = osp.join(work_dir, f'runner_{i}')
        start = time.perf_counter()
        proc = subprocess.run(cmd + ['--work-dir', out_dir] + opts, cwd=REPO, env=env,
                              capture_output=True, text=True)
        row = dict(config=name, wall_s=time.perf_counter() - start)
        text = proc.stdout + proc.stderr
        if proc.returncode != 0:
            row['error'] = f'exit {proc.returncode}: ' + text.strip().splitlines()[-1][:300]
        else:
            row['log'] = _log_summary(text)
        rows.append(row)
    return rows


def _log_summary(text: str) -> list:
    """What a run's log says of precision, batch, batch norm and the test."""
    import re
    found = {}
    for line in text.splitlines():
        for key in ('mixed precision:', 'effective batch:', 'CPU run (gloo):'):
            if key in line and key not in found:
                found[key] = line[line.index(key):].split('; ')[0].split(', the batch')[0]
        match = re.search(r'Iter\(val\).*?mIoU: ([\d.]+)\s+FB-IoU: ([\d.]+)', line)
        if match:
            found['val'] = f'val mIoU {match.group(1)}, FB-IoU {match.group(2)}'
    return list(found.values())


# ------------------------------------------------------------------------------ report
def table(rows: list, device_name: str) -> str:
    def num(v, fmt):
        return '-' if v is None or v != v else format(v, fmt)

    lines = [f'device: {device_name}', '',
             '| config | batch x shot | crop | fp32 step s | fp32 peak GiB | amp | amp step s '
             '| amp peak GiB | test ep/s | test peak GiB | status |',
             '| --- | ---: | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | --- |']
    runner = [r for r in rows if 'batch' not in r]
    for r in rows:
        if 'batch' not in r:
            continue
        lines.append(
            f"| {r['config']} | {r['batch']} x {r['shot']} | {r['crop']} | "
            f"{num(r.get('fp32_step_s'), '.3f')} | {num(r.get('fp32_peak_gib'), '.2f')} | "
            f"{r.get('amp_dtype', '-')} | {num(r.get('amp_step_s'), '.3f')} | "
            f"{num(r.get('amp_peak_gib'), '.2f')} | {num(r.get('test_eps_per_s'), '.2f')} | "
            f"{num(r.get('test_peak_gib'), '.2f')} | {r.get('error', 'ok')} |")
    if runner:
        lines += ['', '| mmengine Runner | wall s | status |', '| --- | ---: | --- |']
        lines += [f"| {r['config']} | {num(r.get('wall_s'), '.0f')} | "
                  f"{r.get('error', 'ok: ' + '; '.join(r.get('log', [])))} |" for r in runner]
    return '\n'.join(lines)


def main() -> int:
    args = parse_args()
    import json

    import torch
    device = args.device
    if device == 'auto':
        device = 'cuda' if torch.cuda.is_available() else 'cpu'
    if device.startswith('cuda') and not torch.cuda.is_available():
        print(f'error: --device {device}: CUDA is not available on this machine',
              file=sys.stderr)
        return 2
    import logging

    import mmfss  # noqa: F401
    from mmengine.logging import MMLogger
    from mmengine.registry import init_default_scope
    init_default_scope('mmseg')
    MMLogger.get_current_instance().setLevel(logging.WARNING)  # no init_weights report
    os.makedirs(args.work_dir, exist_ok=True)
    device_name = (torch.cuda.get_device_name() if device.startswith('cuda') else
                   _cpu_name()) + f', torch {torch.__version__}'
    failures = 0
    if not args.skip_tests:
        print('== stage 1: tests', flush=True)
        proc = subprocess.run([sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider']
                              + CHECK_TESTS, cwd=REPO)
        failures += proc.returncode != 0
    configs = args.configs or [osp.join(REPO, 'configs', c) for c in (
        PAPER_CONFIGS if device.startswith('cuda') else SHAPES_CONFIGS)]
    rows = []
    print(f'== stage 2: {len(configs)} configs on {device}', flush=True)
    for path in configs:
        try:
            row = check_config(path, device, args.test_episodes)
        except Exception as err:  # report and go on with the others
            row = dict(config=osp.relpath(path, osp.join(REPO, 'configs')), batch='-',
                       shot='-', crop='-', error=f'{type(err).__name__}: {err}'[:300])
            failures += 1
        rows.append(row)
        print(f"   {row['config']}: {row.get('error', 'ok')}", flush=True)
        if device.startswith('cuda'):
            torch.cuda.empty_cache()
    if not args.skip_runner:
        print('== stage 3: mmengine Runner (tools/train.py, tools/dist_train.sh)', flush=True)
        try:
            runner_rows = runner_checks(device, args.work_dir)
        except Exception as err:
            runner_rows = [dict(config='Runner checks', error=f'{type(err).__name__}: {err}')]
        for row in runner_rows:
            rows.append(row)
            status = row.get('error', 'ok')
            failures += 'error' in row and not status.startswith('skipped')
            print(f"   {row['config']}: {status} {row.get('log', '')}", flush=True)
    report = table(rows, device_name)
    if device.startswith('cuda') and not args.skip_speed:
        print('== stage 4: benchmark_speed.py --device cuda', flush=True)
        proc = subprocess.run(
            [sys.executable, 'tools/analysis_tools/benchmark_speed.py', '--device', device,
             '--pairs', 'baseline:pfenet', 'cmnet:pfenet', 'dotgraph:bam',
             'baseline+compile:baseline', '--repeats', '5', '--warmup', '2'],
            cwd=REPO, capture_output=True, text=True)
        failures += proc.returncode != 0
        speed = proc.stdout[proc.stdout.find('device:'):] if proc.returncode == 0 else \
            f'benchmark_speed.py failed: {proc.stderr.strip().splitlines()[-1:]}'
        report += '\n\nSpeed (tools/analysis_tools/benchmark_speed.py):\n' + speed
    print(report)
    with open(osp.join(args.work_dir, 'gpu_check.md'), 'w') as f:
        f.write(report + '\n')
    with open(osp.join(args.work_dir, 'gpu_check.json'), 'w') as f:
        json.dump(dict(device=device_name, rows=rows), f, indent=1, default=str)
    print(f'gpu-check: {"FAILED (" + str(failures) + ")" if failures else "all passed"}')
    return 1 if failures else 0


def _cpu_name() -> str:
    try:
        for line in open('/proc/cpuinfo'):
            if line.startswith('model name'):
                return f'CPU: {line.split(":", 1)[1].strip()}, {os.cpu_count()} cores'
    except OSError:
        pass
    return 'CPU'


if __name__ == '__main__':
    sys.exit(main())
