# Train and test every run of a paper's table: folds x shots x training seeds, each in its own
# work dir, then tested under the protocol's episode seeds (mmseg's tools, one after another).
#
#   python tools/sweep.py --method cmnet --benchmark pascal5i --shots 1 5 --train-seeds 0 1 2
#   python tools/sweep.py CONFIG [CONFIG ...] --train-seeds 0 1      # given configs
#   ... --launcher pytorch --gpus 4       # each run on 4 GPUs (tools/dist_train.sh)
#   ... --launcher slurm --partition P --gpus 8                  # one slurm job per run
#
# Runs already tested are skipped; an interrupted run resumes from its last checkpoint; a
# failed run is recorded (sweep_run.json) and the others go on (exit status 1 at the end).
# --dry-run prints the plan. Collect the table with tools/analysis_tools/collect_results.py.
import argparse
import os
import os.path as osp
import sys

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='Train and test folds x shots x training seeds of a method, resumably')
    parser.add_argument('configs', nargs='*', help='config files to sweep over training seeds '
                        '(or use --method and --benchmark)')
    parser.add_argument('--method', help="e.g. cmnet, dotgraph, fss-baseline")
    parser.add_argument('--benchmark', help='e.g. pascal5i, coco20i, fss1000, shapes5i')
    parser.add_argument('--backbone', help='e.g. r50-d8 (when configs exist for several)')
    parser.add_argument('--configs-dir', default=osp.join(REPO, 'configs'),
                        help='where --method finds its configs (default: configs/)')
    parser.add_argument('--folds', type=int, nargs='+', default=[0, 1, 2, 3])
    parser.add_argument('--shots', type=int, nargs='+', default=[1])
    parser.add_argument('--train-seeds', type=int, nargs='+', default=[0])
    parser.add_argument('--test-seeds', type=int, default=-1,
                        help="tools/test.py --seeds: -1 (default) the protocol's seed list, "
                        'N the first N (dataset seed, +1, ... without a protocol list)')
    parser.add_argument('--checkpoint', choices=['last', 'best'], default='last',
                        help='checkpoint tested: the last (default) or the best on validation')
    parser.add_argument('--work-root', default='work_dirs/sweep',
                        help='parent of the runs\' work dirs')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm'], default='none')
    parser.add_argument('--gpus', type=int, default=1, help='GPUs per run (pytorch, slurm)')
    parser.add_argument('--partition', help='slurm partition')
    parser.add_argument('--data-root', help='passed to tools/train.py and tools/test.py')
    parser.add_argument('--max-iters', type=int,
                        help='shorter iteration-based training (schedule end and checkpoint '
                        'interval follow)')
    parser.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE',
                        help='added to every run')
    parser.add_argument('--dry-run', action='store_true', help='print the plan and stop')
    return parser.parse_args(argv)


def sweep(args):
    from mmfss.apis.sweep import plan_sweep, run_sweep
    from mmfss.utils import ToolInputError
    if args.configs and (args.method or args.benchmark):
        raise ToolInputError('give config files or --method and --benchmark, not both')
    if not args.configs and not (args.method and args.benchmark):
        raise ToolInputError('give config files, or --method and --benchmark')
    if args.launcher == 'slurm' and not args.partition:
        raise ToolInputError('--launcher slurm needs --partition')
    options = list(args.cfg_options)
    if args.max_iters:
        options += [f'train_cfg.max_iters={args.max_iters}',
                    f'param_scheduler.0.end={args.max_iters}',
                    f'default_hooks.checkpoint.interval={args.max_iters}',
                    f'train_cfg.val_interval={args.max_iters}']
    try:
        runs = plan_sweep(args.configs, args.method, args.benchmark, args.folds, args.shots,
                          args.train_seeds, args.work_root, args.backbone,
                          args.configs_dir, options)
    except (FileNotFoundError, ValueError) as err:
        raise ToolInputError(str(err)) from err
    for i, run in enumerate(runs, 1):
        state = run.record().get('state')
        print(f'[{i}/{len(runs)}] {run.name}: {state}  ({run.config}'
              + (f' --cfg-options {" ".join(run.overrides)}' if run.overrides else '') + ')')
    if args.dry_run:
        return 0
    outcome = run_sweep(runs, args.launcher, args.gpus, args.partition, args.test_seeds,
                        args.checkpoint, args.data_root, REPO,
                        log=lambda line: print(line, flush=True))
    print(f'sweep: {len(outcome["tested"])} tested, {len(outcome["done"])} already done, '
          f'{len(outcome["failed"])} failed' + (f': {", ".join(outcome["failed"])}'
                                               if outcome['failed'] else ''))
    print(f'collect: python tools/analysis_tools/collect_results.py {args.work_root}')
    return 1 if outcome['failed'] else 0


def main(argv=None):
    args = parse_args(argv)
    sys.path.insert(0, REPO)
    from mmfss.utils.tool_checks import run_tool
    return run_tool(lambda: sweep(args))


if __name__ == '__main__':
    sys.exit(main())
