"""Draw training curves (losses, mIoU, ...) from mmengine work dirs to a PNG.

    python tools/analysis_tools/plot_logs.py WORK_DIR [WORK_DIR ...] --keys loss mIoU \\
        --out curves.png

Reads every ``<work_dir>/<timestamp>/vis_data/scalars.json`` (mmengine's LocalVisBackend: one
JSON record per logging step, training records with ``iter``/``step``, validation records
with the metrics), or JSON files given directly, and draws one panel per key with one line
per run (several timestamps of one work dir, e.g. a resumed run, are concatenated in order).
A key found in no run is an error naming the keys that exist. The PNG is written atomically.
"""
import argparse
import glob
import json
import os.path as osp
import sys
from typing import Dict, List, Tuple


Series = Dict[str, List[Tuple[float, float]]]


def scalar_files(path: str) -> List[str]:
    """The scalars.json files of a work dir (sorted by timestamp) or the file itself."""
    if osp.isfile(path):
        return [path]
    if not osp.isdir(path):
        raise FileNotFoundError(f'{path} is neither a work dir nor a scalars.json file')
    files = sorted(glob.glob(osp.join(path, '*', 'vis_data', 'scalars.json')))
    if not files:
        raise FileNotFoundError(f'no */vis_data/scalars.json under {path} (is the work dir '
                                'of a run with the LocalVisBackend?)')
    return files


def load_series(files: List[str]) -> Series:
    """{key: [(step, value), ...]} over the records of ``files``, in order."""
    series: Series = {}
    for path in files:
        with open(path) as f:
            for lineno, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as err:
                    raise ValueError(f'{path}:{lineno}: not a JSON record ({err})') from err
                step = record.get('step', record.get('iter'))
                if step is None:
                    continue
                for key, value in record.items():
                    if key not in ('step', 'iter', 'epoch') and isinstance(value, (int, float)):
                        series.setdefault(key, []).append((float(step), float(value)))
    return series


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('runs', nargs='+', help='work dirs or scalars.json files')
    parser.add_argument('--keys', nargs='+', default=['loss', 'mIoU'])
    parser.add_argument('--labels', nargs='+', help='one legend label per run')
    parser.add_argument('--out', default='curves.png')
    args = parser.parse_args(argv)
    if args.labels and len(args.labels) != len(args.runs):
        parser.error(f'--labels needs one label per run ({len(args.runs)})')
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    from mmfss.utils import atomic_write
    try:
        runs = [load_series(scalar_files(r)) for r in args.runs]
    except (OSError, ValueError) as err:
        sys.exit(f'error: {err}')
    available = sorted({k for run in runs for k in run})
    missing = [k for k in args.keys if not any(k in run for run in runs)]
    if missing:
        sys.exit(f'error: keys {missing} are in no run; available: {available}')
    labels = args.labels or [osp.basename(osp.normpath(r)) for r in args.runs]
    fig, axes = plt.subplots(1, len(args.keys), figsize=(5 * len(args.keys), 3.6),
                             squeeze=False)
    for ax, key in zip(axes[0], args.keys):
        for run, label in zip(runs, labels):
            if key in run:
                steps, values = zip(*run[key])
                ax.plot(steps, values, marker='o' if len(steps) < 20 else None, label=label)
        ax.set_title(key)
        ax.set_xlabel('iteration')
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    atomic_write(args.out, lambda tmp: fig.savefig(tmp, dpi=100, format='png'))
    plt.close(fig)
    print(f'wrote {args.out}: {", ".join(args.keys)} for {len(runs)} run(s)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
