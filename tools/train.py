# Train a few-shot segmentor (mmseg's tools/train.py with mmfss's additions).
#
# Bad input (a missing config, checkpoint or dataset folder, an unusable value) prints one
# ``error:`` line and exits with status 2; MMFSS_TRACEBACK=1 shows the traceback instead.
# The heavy imports (torch, mmengine, mmseg) happen after argument parsing, so --help is
# instant.
import argparse
import logging
import os
import os.path as osp
import sys


def parse_args():
    parser = argparse.ArgumentParser(description='Train a few-shot segmentor')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume training: without a value, from the latest checkpoint in the work_dir; '
        'with a path, from that checkpoint')
    parser.add_argument(
        '--amp', action='store_true', default=False,
        help='mixed-precision training: bfloat16 where the device computes it (Ampere or '
        'newer GPUs, CPUs), else float16 with dynamic loss scaling; the log says which')
    parser.add_argument(
        '--amp-dtype', choices=['auto', 'bfloat16', 'float16'], default='auto',
        help='with --amp: force the autocast dtype (default: auto)')
    parser.add_argument(
        '--compile', action='store_true',
        help="torch.compile the model's training step (mmengine's `compile` config; "
        "default options unless the config sets compile=dict(...), e.g. --cfg-options "
        'compile.backend=aot_eager); the first iterations compile, later ones are faster')
    parser.add_argument(
        '--cfg-options', nargs='+', metavar='KEY=VALUE',
        help='override some settings in the used config, the key-value pair in xxx=yyy '
        'format will be merged into config file. If the value to be overwritten is a list, '
        'it should be like key="[a,b]" or key=a,b. It also allows nested list/tuple values, '
        'e.g. key="[(a,b),(c,d)]". Note that the quotation marks are necessary and that no '
        'white space is allowed.')
    parser.add_argument(
        '--data-root',
        help="the dataset folder: sets data_root of every dataloader's dataset")
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main():
    args = parse_args()
    from mmfss.utils.tool_checks import run_tool
    return run_tool(lambda: train(args))


def train(args):
    from mmengine.logging import print_log
    from mmengine.runner import Runner
    from mmseg.registry import RUNNERS

    import mmfss  # noqa: F401  registers mmfss modules (configs also import it)
    from mmfss.utils import (ToolInputError, check_checkpoint_file, check_dataset_paths,
                             check_reference_files, effective_batch_message,
                             load_tool_config, pretrained_checkpoints, setup_cpu_dist,
                             teardown_dist, trust_checkpoint)
    from mmfss.utils.known_warnings import filter_known_warnings
    cfg = load_tool_config(args.config, args.cfg_options, args.data_root)
    cfg.launcher = args.launcher

    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])

    if args.amp:
        optim_wrapper = cfg.optim_wrapper.type
        if optim_wrapper in ('AmpOptimWrapper', 'MixedPrecisionOptimWrapper'):
            print_log('AMP training is already enabled in your config.', logger='current',
                      level=logging.WARNING)
        else:
            if optim_wrapper != 'OptimWrapper':
                raise ToolInputError('--amp is only supported when the optimizer wrapper '
                                     f'type is OptimWrapper, but got {optim_wrapper}')
            cfg.optim_wrapper.type = 'MixedPrecisionOptimWrapper'
            cfg.optim_wrapper.dtype = args.amp_dtype
            cfg.optim_wrapper.loss_scale = 'dynamic'

    if args.compile or cfg.get('compile'):
        from mmfss.engine import configure_compile
        configure_compile()
        if args.compile and not cfg.get('compile'):
            cfg.compile = dict()

    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        check_checkpoint_file(args.resume, '--resume checkpoint')
        cfg.resume = True
        cfg.load_from = args.resume
    # Files the user named may fall back to weights_only=False (see mmfss.utils.checkpoint).
    if cfg.get('load_from'):
        check_checkpoint_file(cfg.load_from, 'load_from checkpoint')
        trust_checkpoint(cfg.load_from)
    check_dataset_paths(cfg, ['train_dataloader', 'val_dataloader'])
    # the model's init_cfg checkpoints are read even when resuming (Runner.train)
    check_reference_files(pretrained_checkpoints(cfg))

    setup_cpu_dist(cfg, args.launcher)
    if 'runner_type' not in cfg:
        runner = Runner.from_cfg(cfg)
    else:
        runner = RUNNERS.build(cfg)
    filter_known_warnings(runner.logger)  # the runner's own logger
    message = effective_batch_message(args.config, runner.world_size, cfg)
    if message:
        print_log(message, logger='current', level=logging.WARNING)
    runner.train()
    teardown_dist()  # after success only: its barrier would hang if a rank failed


if __name__ == '__main__':
    sys.exit(main())
