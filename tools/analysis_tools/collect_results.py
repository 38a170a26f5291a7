# Collect sweep runs (tools/sweep.py) into the papers' table: rows method x benchmark x shot,
# columns folds 0-3 and their mean, mean over training seeds with the spreads between
# training seeds and between test seeds apart, the paper's number and the difference.
#
#   python tools/analysis_tools/collect_results.py WORK_ROOT [WORK_ROOT ...] \
#       [--out-dir DIR] [--train-seeds 0 1 2]
#
# Writes DIR/results.md, results.csv, results.json and results.png (default DIR: the first
# WORK_ROOT) and prints the Markdown. A fold or seed without a tested run shows as missing.
import argparse
import json
import os
import os.path as osp
import sys

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Collect sweep runs into the papers\' table')
    parser.add_argument('work_dirs', nargs='+', help='sweep work roots (searched recursively)')
    parser.add_argument('--out-dir', help='where results.{md,csv,json,png} go')
    parser.add_argument('--train-seeds', type=int, nargs='+',
                        help='the training seeds every cell should have (others: missing)')
    parser.add_argument('--paper', help='papers\' numbers (default: '
                        'mmfss/evaluation/paper_results.json)')
    return parser.parse_args(argv)


def collect(args):
    from mmfss.evaluation.result_table import (collect_runs, load_paper_results,
                                               plot_table, render_markdown, result_table,
                                               seeds_needed, write_csv)
    from mmfss.utils import ToolInputError, dump_json
    try:
        records = collect_runs(args.work_dirs)
    except FileNotFoundError as err:
        raise ToolInputError(str(err)) from err
    if not records:
        raise ToolInputError(f'no sweep_run.json under {", ".join(args.work_dirs)}: run '
                             'tools/sweep.py first')
    try:
        rows = result_table(records, load_paper_results(args.paper), args.train_seeds)
    except ValueError as err:
        raise ToolInputError(str(err)) from err
    text = render_markdown(rows)
    failed = [r for r in records if r.get('state') == 'failed']
    if failed:
        text += '\nfailed runs: ' + ', '.join(osp.basename(r['work_dir']) for r in failed) + '\n'
    guidance = []
    for r in rows:
        cell = r['cells']['mean']
        if r['metric'] == 'mIoU' and cell['train_std']:
            guidance.append(f"{r['method']} {r['benchmark']} {r['shot']}-shot: runs differ by "
                            f"{cell['train_std']:.2f} mIoU (std over training seeds of the "
                            f"4-fold mean); telling apart a 1.0 mIoU difference takes "
                            f"{seeds_needed(cell['train_std'], 1.0)} training seeds per "
                            'method (5% two-sided, 80% power)')
    if guidance:
        text += '\n' + '\n'.join(guidance) + '\n'
    print(text)
    out_dir = args.out_dir or args.work_dirs[0]
    os.makedirs(out_dir, exist_ok=True)
    with open(osp.join(out_dir, 'results.md'), 'w') as f:
        f.write(text)
    write_csv(rows, osp.join(out_dir, 'results.csv'))
    dump_json(dict(rows=rows, runs=len(records), failed=[r['work_dir'] for r in failed]),
              osp.join(out_dir, 'results.json'), indent=1)
    plot_table(rows, osp.join(out_dir, 'results.png'))
    print(f'written: {out_dir}/results.{{md,csv,json,png}}')
    return 0


def main(argv=None):
    args = parse_args(argv)
    sys.path.insert(0, REPO)
    from mmfss.utils.tool_checks import run_tool
    return run_tool(lambda: collect(args))


if __name__ == '__main__':
    sys.exit(main())
