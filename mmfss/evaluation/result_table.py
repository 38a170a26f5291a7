"""A paper's table from sweep runs: rows method x benchmark x shot, columns folds 0-3 and
their mean, each cell the mean over training seeds with the spread between training seeds
and between test (episode) seeds kept apart, the paper's number and the difference beside.

A cell's numbers, for the runs r = 1..n of one (method, benchmark, shot, fold), each tested
under m episode seeds with values v_rt:

* value: the mean over runs of each run's mean over its episode seeds;
* train-seed std: the sample standard deviation (ddof=1) of the runs' means over episode
  seeds (n >= 2; what retraining changes);
* test-seed std: the mean over runs of the sample standard deviation of v_rt over the
  episode seeds (m >= 2; what another episode draw changes).

The mean column averages the four folds of each training seed (only seeds with every fold)
and then over seeds, with the same two spreads. A fold or seed without a tested run shows as
missing and is never averaged over: a mean over incomplete folds is not given.

A variant config (a name ending in ``_<variant>`` after ``-<K>shot``, e.g.
``cmnet_..._shapes5i-fold0-1shot_mfm-stride2.py``) has its own row, ``cmnet_mfm-stride2``,
without the paper's number (the paper's is the method's, not the variant's). Two tested runs
of one row, fold and training seed (the same config swept twice with other ``--cfg-options``
into one work root) are an error naming both, never one silently kept.
"""
import csv
import json
import math
import os.path as osp
from collections import defaultdict
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

__all__ = ['load_paper_results', 'collect_runs', 'result_table', 'render_markdown',
           'write_csv', 'plot_table', 'seeds_needed', 'METRICS']

METRICS = ('mIoU', 'FB-IoU')
FOLDS = (0, 1, 2, 3)


def load_paper_results(path: Optional[str] = None) -> dict:
    """The papers' numbers (``mmfss/evaluation/paper_results.json``)."""
    path = path or osp.join(osp.dirname(__file__), 'paper_results.json')
    with open(path) as f:
        return json.load(f)


def collect_runs(work_dirs: Iterable[str]) -> List[dict]:
    """The ``sweep_run.json`` records under ``work_dirs`` (searched recursively)."""
    import glob

    from mmfss.apis.sweep import RUN_RECORD
    records = []
    for root in work_dirs:
        if not osp.isdir(root):
            raise FileNotFoundError(f'work dir {root} does not exist')
        for path in sorted(glob.glob(osp.join(root, '**', RUN_RECORD), recursive=True)):
            with open(path) as f:
                records.append(json.load(f))
    return records


def _row_name(record: dict) -> Tuple[str, bool]:
    """The row of a run: its method and its config's variant suffix, and whether it has one."""
    from mmfss.apis.sweep import parse_config_name
    variant = (parse_config_name(record.get('config', '')) or {}).get('variant') or ''
    return record['method'] + variant, bool(variant)


def _mean(values: Sequence[float]) -> Optional[float]:
    return sum(values) / len(values) if values else None


def _std(values: Sequence[float]) -> Optional[float]:
    if len(values) < 2:
        return None
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean)**2 for v in values) / (len(values) - 1))


def _paper(paper: dict, method: Optional[str], benchmark: str, shot: int, metric: str,
           fold: Optional[int]) -> Optional[float]:
    if method is None:
        return None
    entry = paper.get(method, {}).get(benchmark, {}).get(str(shot), {})
    if fold is None:
        return entry.get(f'{metric}_mean')
    per_fold = entry.get(metric)
    return per_fold[fold] if per_fold else None


def result_table(records: Sequence[dict], paper: Optional[dict] = None,
                 train_seeds: Optional[Sequence[int]] = None) -> List[dict]:
    """One entry per (method, benchmark, shot, metric) with its cells.

    Args:
        records: Run records (:func:`collect_runs`); only ``tested`` runs count.
        paper: The papers' numbers (:func:`load_paper_results`).
        train_seeds: The training seeds the table expects (default: every seed seen);
            an expected seed without a tested run is listed as missing in its cell.

    Returns:
        list[dict]: ``method`` (the row's name: the method and its config's variant),
        ``benchmark, shot, metric`` and ``cells``: fold 0-3 and ``'mean'``, each ``value,
        train_std, test_std, n_train, n_test, paper, diff, missing`` (the absent seeds or
        folds) and ``runs`` (each run's values).

    Raises:
        ValueError: Two tested runs of one row, fold and training seed.
    """
    paper = paper or {}
    groups: Dict[tuple, Dict[int, Dict[int, List[float]]]] = defaultdict(
        lambda: defaultdict(dict))
    failed: Dict[tuple, Dict[int, List[int]]] = defaultdict(lambda: defaultdict(list))
    seeds_seen = set()
    methods: Dict[str, Optional[str]] = {}  # row -> the method whose paper numbers it shows
    where: Dict[tuple, str] = {}
    for rec in records:
        row, is_variant = _row_name(rec)
        methods[row] = None if is_variant else rec['method']
        key = (row, rec['benchmark'], int(rec['shot']))
        seed, fold = int(rec['train_seed']), int(rec['fold'])
        seeds_seen.add(seed)
        if rec.get('state') != 'tested':
            failed[key][fold].append(seed)
            continue
        run = key + (fold, seed)
        if run in where:
            raise ValueError(
                f"two runs of {row} {rec['benchmark']} {rec['shot']}-shot fold {fold} "
                f"training seed {seed}: {where[run]} and {rec.get('work_dir')}; collect "
                'runs of different settings from separate work roots')
        where[run] = rec.get('work_dir', '?')
        for metric in METRICS:
            values = rec['test']['metrics'].get(metric, {}).get('values')
            if values:
                groups[key + (metric, )][fold][seed] = [float(v) for v in values]
    expected = sorted(train_seeds) if train_seeds is not None else sorted(seeds_seen)
    rows = []
    keys = sorted({k[:3] for k in groups} | set(failed))
    for method, benchmark, shot in keys:
        for metric in METRICS:
            per_fold = groups.get((method, benchmark, shot, metric), {})
            if not per_fold and metric != 'mIoU':
                continue
            cells = {}
            for fold in FOLDS:
                runs = per_fold.get(fold, {})
                run_means = {s: _mean(v) for s, v in runs.items()}
                cells[fold] = dict(
                    value=_mean(list(run_means.values())),
                    train_std=_std(list(run_means.values())),
                    test_std=_mean([s for s in (_std(v) for v in runs.values()) if s is not None]),
                    n_train=len(runs), n_test=sorted({len(v) for v in runs.values()}),
                    paper=_paper(paper, methods[method], benchmark, shot, metric, fold),
                    missing=[f'seed {s}' for s in expected if s not in runs],
                    runs={str(s): v for s, v in sorted(runs.items())})
            complete = [s for s in expected if all(s in per_fold.get(f, {}) for f in FOLDS)]
            seed_means = [_mean([_mean(per_fold[f][s]) for f in FOLDS]) for s in complete]
            absent_folds = [f for f in FOLDS if not per_fold.get(f)]
            cells['mean'] = dict(
                value=_mean(seed_means) if not absent_folds else None,
                train_std=_std(seed_means) if not absent_folds else None,
                test_std=_mean([c['test_std'] for c in (cells[f] for f in FOLDS)
                                if c['test_std'] is not None]) if not absent_folds else None,
                n_train=len(complete), n_test=[],
                paper=_paper(paper, methods[method], benchmark, shot, metric, None),
                missing=[f'fold {f}' for f in absent_folds]
                + [f'seed {s}' for s in expected if s not in complete and not absent_folds],
                runs={})
            for cell in cells.values():
                cell['diff'] = (None if cell['value'] is None or cell['paper'] is None else
                                cell['value'] - cell['paper'])
            rows.append(dict(method=method, benchmark=benchmark, shot=shot, metric=metric,
                             cells=cells))
    return rows


def _fmt(v: Optional[float], spec: str = '.2f') -> str:
    return '-' if v is None else format(v, spec)


def _cell(cell: dict) -> str:
    if cell['value'] is None:
        return 'missing' + (f' ({", ".join(cell["missing"])})' if cell['missing'] else '')
    text = _fmt(cell['value'])
    text += f' ± {_fmt(cell["train_std"])} / ± {_fmt(cell["test_std"])}'
    if cell['paper'] is not None:
        text += f' ({_fmt(cell["paper"], ".1f")}, {cell["diff"]:+.1f})'
    if cell['missing']:
        text += f' [missing {", ".join(cell["missing"])}]'
    return text


def render_markdown(rows: Sequence[dict]) -> str:
    """The table in the papers' layout, one Markdown table per metric."""
    out = []
    for metric in METRICS:
        subset = [r for r in rows if r['metric'] == metric]
        if not subset:
            continue
        out += [f'**{metric}** (%): mean over training seeds ± std between training seeds / '
                '± std between test seeds (paper, difference)', '',
                '| method | benchmark | shot | fold 0 | fold 1 | fold 2 | fold 3 | mean |',
                '| --- | --- | ---: | --- | --- | --- | --- | --- |']
        for r in subset:
            cells = ' | '.join(_cell(r['cells'][k]) for k in (*FOLDS, 'mean'))
            out.append(f"| {r['method']} | {r['benchmark']} | {r['shot']} | {cells} |")
        out.append('')
    return '\n'.join(out)


def write_csv(rows: Sequence[dict], path: str) -> None:
    """One line per (row, fold or mean)."""
    with open(path, 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['method', 'benchmark', 'shot', 'metric', 'fold', 'value',
                         'train_seed_std', 'test_seed_std', 'n_train_seeds', 'paper', 'diff',
                         'missing'])
        for r in rows:
            for key, c in r['cells'].items():
                writer.writerow([r['method'], r['benchmark'], r['shot'], r['metric'], key,
                                 _fmt(c['value'], '.4f'), _fmt(c['train_std'], '.4f'),
                                 _fmt(c['test_std'], '.4f'), c['n_train'],
                                 _fmt(c['paper'], '.1f'), _fmt(c['diff'], '.4f'),
                                 ';'.join(c['missing'])])


def plot_table(rows: Sequence[dict], path: str, metric: str = 'mIoU') -> None:
    """Per fold, each training seed's mean (dots) with its test-seed spread (bars), and the
    paper's value (a horizontal mark)."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    subset = [r for r in rows if r['metric'] == metric]
    fig, axes = plt.subplots(1, max(1, len(subset)), figsize=(4.5 * max(1, len(subset)), 3.6),
                             squeeze=False)
    for ax, row in zip(axes[0], subset):
        for fold in FOLDS:
            cell = row['cells'][fold]
            for k, values in enumerate(cell['runs'].values()):
                x = fold + 0.12 * (k - (len(cell['runs']) - 1) / 2)
                ax.errorbar(x, _mean(values), yerr=_std(values) or 0, fmt='o', ms=4,
                            color='tab:blue', capsize=2)
            if cell['paper'] is not None:
                ax.hlines(cell['paper'], fold - 0.3, fold + 0.3, colors='tab:red')
            if not cell['runs']:
                ax.text(fold, 0.5, 'missing', ha='center', transform=ax.get_xaxis_transform(),
                        color='grey')
        ax.set_xticks(list(FOLDS), [f'fold {f}' for f in FOLDS])
        ax.set_title(f"{row['method']} {row['benchmark']} {row['shot']}-shot")
        ax.set_ylabel(f'{metric} (%)')
    fig.suptitle('runs (dots: training seeds, bars: test-seed std); red: paper', fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def seeds_needed(run_std: float, difference: float = 1.0, z_alpha: float = 1.96,
                 z_power: float = 0.84) -> int:
    """Training seeds per method to tell apart two methods whose true means differ by
    ``difference`` (two-sided test at 5%, 80% power by default).

    ``run_std`` is the standard deviation between runs of one method that differ by their
    training seed, each scored as the mean over its episode seeds (a cell's train-seed std:
    it already carries the episode draw's share). The mean of n runs has variance
    ``run_std^2 / n``, the difference of two methods' means twice that; n is the smallest
    with ``(z_alpha + z_power) * sqrt(2 run_std^2 / n) <= difference``.
    """
    return max(1, math.ceil(2 * (run_std * (z_alpha + z_power) / difference)**2))
