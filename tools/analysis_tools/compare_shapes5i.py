"""Train and evaluate several Shapes-5i configs on the same fold and episodes, one table.

    python tools/analysis_tools/compare_shapes5i.py   # baseline, CMNet, CMNet w/o POT, DOTGraph

Each config is trained (CPU) and then scored once on its test episodes, each in its own
process (mmengine keeps global state per run). The configs must evaluate the same episodes
(dataset, fold, shot, seed, number of episodes): this is checked before anything runs. The
table (mIoU, FB-IoU, training time) is printed and written to ``<work-dir>/comparison.json``.
"""
import argparse
import json
import os.path as osp
import subprocess
import sys


REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEFAULT = [
    ('baseline', 'configs/baseline/fss-baseline_r18-d8_1xb8-2k_shapes5i-fold0-1shot.py'),
    ('CMNet', 'configs/cmnet/cmnet_r18-d8_1xb8-2k_shapes5i-fold0-1shot.py'),
    ('CMNet w/o partial OT', 'configs/cmnet/cmnet_r18-d8_1xb8-2k_shapes5i-fold0-1shot_no-pot.py'),
    ('DOTGraph (random CLIP)', 'configs/dotgraph/dotgraph_r18-d8_1xb8-2k_shapes5i-fold0-1shot.py'),
]
EPISODE_KEYS = ('type', 'fold', 'shot', 'seed', 'num_episodes', 'split', 'data_seed')


def episode_setting(config: str) -> dict:
    from mmengine.config import Config
    dataset = Config.fromfile(config).test_dataloader.dataset
    return {k: dataset.get(k) for k in EPISODE_KEYS}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--configs', nargs='+', metavar='NAME=CONFIG',
                        help='configs to compare (default: baseline, CMNet, CMNet w/o POT, DOTGraph)')
    parser.add_argument('--work-dir', default='work_dirs/compare_shapes5i')
    parser.add_argument('--max-iters', type=int, help='override every training length')
    parser.add_argument('--run', help=argparse.SUPPRESS)  # internal: one config per process
    parser.add_argument('--out', help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.max_iters is not None and args.max_iters < 1:
        parser.error(f'--max-iters must be >= 1, got {args.max_iters}')
    return args


def run_one(args) -> int:
    import mmfss  # noqa: F401
    from mmfss.utils import dump_json, train_then_test
    metrics, _, timings = train_then_test(args.run, args.work_dir, args.max_iters)
    dump_json(dict(metrics=metrics, **timings), args.out, indent=2)
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.run:
        return run_one(args)
    entries = DEFAULT
    if args.configs:
        entries = []
        for item in args.configs:
            if '=' not in item:
                sys.exit(f'error: --configs entries are NAME=CONFIG, got {item!r}')
            entries.append(tuple(item.split('=', 1)))
    for _, config in entries:
        if not osp.isfile(osp.join(REPO, config)) and not osp.isfile(config):
            sys.exit(f'error: config {config} does not exist')
    paths = [c if osp.isfile(c) else osp.join(REPO, c) for _, c in entries]
    settings = [episode_setting(p) for p in paths]
    if any(s != settings[0] for s in settings):
        sys.exit('error: the configs evaluate different episodes: ' + '; '.join(
            f'{n}: {s}' for (n, _), s in zip(entries, settings)))
    rows = []
    for (name, _), path in zip(entries, paths):
        tag = osp.splitext(osp.basename(path))[0]
        work_dir = osp.join(args.work_dir, tag)
        out = osp.join(args.work_dir, f'{tag}.json')
        cmd = [sys.executable, osp.abspath(__file__), '--run', path, '--work-dir', work_dir,
               '--out', out]
        if args.max_iters is not None:
            cmd += ['--max-iters', str(args.max_iters)]
        print(f'[compare] training and testing {name}: {path}', flush=True)
        proc = subprocess.run(cmd, cwd=REPO)
        if proc.returncode != 0:
            sys.exit(f'error: {name} ({path}) failed with exit code {proc.returncode}')
        with open(out) as f:
            result = json.load(f)
        rows.append(dict(name=name, config=osp.relpath(path, REPO),
                         mIoU=result['metrics']['mIoU'], FB_IoU=result['metrics']['FB-IoU'],
                         episodes=result['metrics']['episodes'],
                         train_time_s=result['train_time_s']))
    setting = settings[0]
    print(f'\nShapes-5i fold {setting["fold"]}, {setting["shot"]}-shot, '
          f'{int(rows[0]["episodes"])} episodes (seed {setting["seed"]})')
    print(f'{"":28s} {"mIoU":>7s} {"FB-IoU":>7s} {"train s":>8s}')
    for r in rows:
        print(f'{r["name"]:28s} {r["mIoU"]:7.2f} {r["FB_IoU"]:7.2f} {r["train_time_s"]:8.0f}')
    summary = osp.join(args.work_dir, 'comparison.json')
    from mmfss.utils import dump_json
    dump_json(dict(setting=setting, results=rows), summary, indent=2)
    print(f'written to {summary}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
