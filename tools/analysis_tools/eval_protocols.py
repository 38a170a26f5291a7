"""Evaluate one checkpoint under PFENet's, BAM's, HSNet's and mmfss's protocol, one table.

    python tools/analysis_tools/eval_protocols.py CONFIG CHECKPOINT \\
        [--protocols pfenet bam hsnet mmfss] [--num-episodes N] [--work-dir DIR]

"Under which protocol was that number made?" Each protocol fixes its own sampler, episode
count, seeds, input size and geometry (mmfss/datasets/protocols.py, README "Evaluation
protocols"); the config's test set is rewritten per protocol
(:func:`mmfss.apis.protocol_test_dataloader`: dataset, fold, shot, data and metric
unchanged), the model is loaded once per protocol and tested on every seed the protocol
lists (BAM: its five; the others: one), and one table is printed: mIoU and FB-IoU (mean and,
over several seeds, their standard deviation), episodes per seed, seeds, input. The table is
also written to ``<work-dir>/protocols.json`` and each protocol's log and seed summary under
``<work-dir>/<protocol>/``.

``--num-episodes N`` shortens every protocol to N episodes per seed (a quick look; the
table says so): the protocols' own counts are PFENet 5001 (at most 20 passes over the
list), BAM 1000 x 5 seeds, HSNet 1000, mmfss 1000.
"""
import argparse
import os.path as osp
import sys
import time


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config', help='config of the model (its test set is rewritten)')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--protocols', nargs='+', default=['pfenet', 'bam', 'hsnet', 'mmfss'],
                        metavar='NAME', help='any of pfenet, bam, hsnet, mmfss (default: all)')
    parser.add_argument('--num-episodes', type=int, metavar='N',
                        help="episodes per seed instead of each protocol's own")
    parser.add_argument('--work-dir', help='default: work_dirs/eval_protocols/<config name>')
    parser.add_argument('--data-root', help="sets data_root of the test dataset")
    parser.add_argument('--cfg-options', nargs='+', metavar='KEY=VALUE',
                        help='override config settings, as tools/test.py')
    args = parser.parse_args(argv)
    choices = ('pfenet', 'bam', 'hsnet', 'mmfss')
    bad = [p for p in args.protocols if p not in choices]
    if bad:
        parser.error(f'--protocols: {bad[0]!r} is not one of {", ".join(choices)}')
    if args.num_episodes is not None and args.num_episodes < 1:
        parser.error(f'--num-episodes must be >= 1, got {args.num_episodes}')
    return args


def format_table(rows: list, shortened: bool) -> str:
    """The printed table (markdown)."""
    def cell(summary: dict, key: str) -> str:
        s = summary.get(key)
        if s is None:
            return '-'
        return (f"{s['mean']:.2f}" if len(s['values']) == 1 else
                f"{s['mean']:.2f} +- {s['std']:.2f}")
    lines = ['| protocol | mIoU | FB-IoU | episodes per seed | seeds | input |',
             '| --- | --- | --- | --- | --- | --- |']
    for r in rows:
        seeds = ', '.join(str(s) for s in r['seeds'])
        lines.append(f"| {r['protocol']} | {cell(r['metrics'], 'mIoU')} | "
                     f"{cell(r['metrics'], 'FB-IoU')} | {r['episodes']} | {seeds} | "
                     f"{r['input']} |")
    if shortened:
        lines.append('(--num-episodes: every protocol shortened; not its published count)')
    return '\n'.join(lines)


def evaluate(args) -> int:
    from mmengine.config import Config
    from mmengine.model import is_model_wrapper
    from mmengine.runner import Runner

    import mmfss  # noqa: F401
    from mmfss.apis import (episode_seeds, evaluate_seeds, protocol_summary,
                            protocol_test_dataloader)
    from mmfss.utils import (check_checkpoint_file, check_dataset_paths, dump_json,
                             load_tool_config, trust_checkpoint)
    from mmfss.utils.checkpoint import check_checkpoint_fits
    from mmfss.utils.known_warnings import filter_known_warnings
    base = load_tool_config(args.config, args.cfg_options, args.data_root)
    check_checkpoint_file(args.checkpoint)
    trust_checkpoint(args.checkpoint)
    work_dir = args.work_dir or osp.join(
        'work_dirs', 'eval_protocols', osp.splitext(osp.basename(args.config))[0])
    stamp = time.strftime('%Y%m%d_%H%M%S')
    rows = []
    for protocol in args.protocols:
        cfg = Config(base.to_dict())
        cfg.test_dataloader = protocol_test_dataloader(base.test_dataloader.to_dict(),
                                                       protocol, args.num_episodes)
        cfg.work_dir = osp.join(work_dir, protocol)
        cfg.load_from = args.checkpoint
        # a logger and a visualizer of its own (mmengine keeps both by name per process)
        cfg.experiment_name = f'eval_protocols_{protocol}_{stamp}'
        if cfg.get('visualizer'):
            cfg.visualizer.name = f'visualizer_{protocol}_{stamp}'
        check_dataset_paths(cfg, ['test_dataloader'])
        runner = Runner.from_cfg(cfg)
        filter_known_warnings(runner.logger)
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        check_checkpoint_fits(model, args.checkpoint, args.config)
        dataset = runner.test_dataloader.dataset
        seeds = episode_seeds(dataset, -1 if protocol == 'bam' else 1)
        metrics = evaluate_seeds(runner, cfg, seeds)
        rows.append(dict(protocol_summary(dataset, protocol, seeds), metrics=metrics))
    table = format_table(rows, args.num_episodes is not None)
    print(f'{args.config}\n{args.checkpoint}\n{table}')
    dump_json(dict(config=args.config, checkpoint=args.checkpoint,
                   num_episodes=args.num_episodes, rows=rows),
              osp.join(work_dir, 'protocols.json'), indent=1)
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    from mmfss.utils.tool_checks import run_tool
    return run_tool(lambda: evaluate(args))


if __name__ == '__main__':
    sys.exit(main())
