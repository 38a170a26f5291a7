# Test (and evaluate) a few-shot segmentor (mmseg's tools/test.py with mmfss's additions).
#
# Bad input (a missing config, checkpoint or dataset folder, an unusable value) prints one
# ``error:`` line and exits with status 2; MMFSS_TRACEBACK=1 shows the traceback instead.
# mmseg's --tta is not offered: no few-shot reference evaluates with test-time augmentation
# and no mmfss config defines a TTA pipeline. The heavy imports happen after argument
# parsing, so --help is instant.
import argparse
import os
import os.path as osp
import sys


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='MMFSS test (and eval) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument(
        '--work-dir',
        help='if specified, the evaluation metric results will be dumped into the '
        'directory as json')
    parser.add_argument(
        '--out', type=str,
        help='the directory to save output prediction for offline evaluation')
    parser.add_argument('--show', action='store_true', help='show prediction results')
    parser.add_argument(
        '--show-dir',
        help="write one panel per episode (supports with masks, query, ground truth, "
        'prediction) as SHOW_DIR/vis_data/vis_image/test_<episode>_<query>_<iter>.png')
    parser.add_argument(
        '--show-interval', type=int, default=1, metavar='N',
        help='with --show/--show-dir: draw the episodes of every N-th batch (default 1: all)')
    parser.add_argument(
        '--wait-time', type=float, default=2, help='the interval of show (s)')
    parser.add_argument(
        '--cfg-options', nargs='+', metavar='KEY=VALUE',
        help='override some settings in the used config, the key-value pair in xxx=yyy '
        'format will be merged into config file.')
    parser.add_argument(
        '--data-root',
        help="the dataset folder: sets data_root of every dataloader's dataset")
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
        help='job launcher')
    parser.add_argument(
        '--seeds', type=int, nargs='?', const=-1, default=1,
        help="evaluate on N episode sets and print each metric's mean and standard deviation "
        "(never a best-of). With a protocol that has a seed list (protocol='bam': BAM's 5 "
        'seeds), the first N of its seeds, all of them for a bare --seeds; otherwise the '
        "dataset seeds s, s+1, ..., s+N-1 (s: the config's seed)")
    parser.add_argument(
        '--dump-episodes', metavar='FILE',
        help='write the episodes of the test set (one line each: query, supports, class, '
        "tab-separated) before testing; a dataset's episodes_file=FILE evaluates exactly "
        'those')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if args.show_interval < 1:
        parser.error(f'--show-interval must be >= 1, got {args.show_interval}')
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def trigger_visualization_hook(cfg, args):
    default_hooks = cfg.default_hooks
    if 'visualization' not in default_hooks:
        raise ValueError('VisualizationHook must be included in default_hooks, e.g. '
                           "visualization=dict(type='SegVisualizationHook')")
    visualization_hook = default_hooks['visualization']
    visualization_hook['draw'] = True
    visualization_hook['interval'] = args.show_interval
    if args.show:
        visualization_hook['show'] = True
        visualization_hook['wait_time'] = args.wait_time
    if args.show_dir:
        cfg.visualizer['save_dir'] = args.show_dir
        for backend in cfg.visualizer.get('vis_backends') or []:
            backend.pop('save_dir', None)  # every backend writes under --show-dir
    return cfg


def main(argv=None):
    args = parse_args(argv)
    from mmfss.utils.tool_checks import run_tool
    return run_tool(lambda: test(args))


def test(args):
    from mmengine.dist import is_main_process
    from mmengine.logging import print_log
    from mmengine.model import is_model_wrapper
    from mmengine.runner import Runner

    import mmfss  # noqa: F401  registers mmfss modules (configs also import it)
    from mmfss.apis.seed_evaluation import episode_seeds, evaluate_seeds
    from mmfss.datasets.protocols import write_episodes_file
    from mmfss.utils.checkpoint import check_checkpoint_fits
    from mmfss.utils.known_warnings import filter_known_warnings
    from mmfss.utils import (ToolInputError, check_checkpoint_file, check_dataset_paths,
                             load_tool_config, setup_cpu_dist, teardown_dist, trust_checkpoint)
    if args.seeds < 1 and args.seeds != -1:
        raise ToolInputError(f'--seeds must be >= 1, got {args.seeds}')
    if args.seeds != 1 and args.out is not None:
        raise ToolInputError('--out writes the predictions of one episode set: use it without '
                             '--seeds')
    cfg = load_tool_config(args.config, args.cfg_options, args.data_root)
    check_checkpoint_file(args.checkpoint)
    cfg.launcher = args.launcher

    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])

    cfg.load_from = args.checkpoint
    trust_checkpoint(args.checkpoint)  # named by the user: see mmfss.utils.checkpoint

    if args.show or args.show_dir:
        cfg = trigger_visualization_hook(cfg, args)
    if args.out is not None:
        cfg.test_evaluator['output_dir'] = args.out
        cfg.test_evaluator['keep_results'] = True

    check_dataset_paths(cfg, ['test_dataloader'])

    setup_cpu_dist(cfg, args.launcher)
    runner = Runner.from_cfg(cfg)
    filter_known_warnings(runner.logger)  # the runner's own logger
    # mmengine loads load_from with strict=False: a checkpoint of another model would be
    # tested with random weights; every key and shape is checked first
    model = runner.model.module if is_model_wrapper(runner.model) else runner.model
    check_checkpoint_fits(model, args.checkpoint, args.config)
    dataset = runner.test_dataloader.dataset
    if args.dump_episodes:
        if getattr(dataset, 'episodes', None) is None:
            raise ValueError(f'--dump-episodes: the test set ({type(dataset).__name__}) has no '
                             'fixed episodes')
        if is_main_process():
            write_episodes_file(args.dump_episodes, dataset.episodes)
        print_log(f'{len(dataset.episodes)} episodes written to {args.dump_episodes}',
                  'current')
    # one episode set or several: <work_dir>/seeds_summary.json records the metrics either way
    evaluate_seeds(runner, cfg, episode_seeds(dataset, args.seeds))
    teardown_dist()  # after success only: its barrier would hang if a rank failed


if __name__ == '__main__':
    sys.exit(main())
