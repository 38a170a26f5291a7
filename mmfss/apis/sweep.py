"""A paper's table as runs: folds x shots x training seeds, each trained and then tested under
the protocol's episode seeds, resumable (``tools/sweep.py``).

Every run has its own work dir with mmengine's config dump, log and checkpoints, the test
results (``test/seeds_summary.json``) and ``sweep_run.json``, the run's record: what it is
(method, benchmark, fold, shot, training seed, config), its state (``planned``, ``trained``,
``tested`` or ``failed``, with the error) and, once tested, the metrics per episode seed.
``tools/analysis_tools/collect_results.py`` reads those records.
"""
import glob
import json
import os
import os.path as osp
import re
import shlex
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Sequence

__all__ = ['SweepRun', 'plan_sweep', 'find_config', 'run_sweep', 'RUN_RECORD', 'LAUNCHERS']

RUN_RECORD = 'sweep_run.json'
LAUNCHERS = ('none', 'pytorch', 'slurm')
_NAME = re.compile(r'^(?P<method>[^_]+)_(?P<backbone>.+?)_(?P<gpus>\d+)xb(?P<batch>\d+)-'
                   r'(?P<schedule>[^_]+)_(?P<benchmark>[^-_]+)-fold(?P<fold>\d+)-'
                   r'(?P<shot>\d+)shot(?P<variant>_.+)?$')


@dataclass
class SweepRun:
    """One run of a sweep.

    Attributes:
        config (str): The config file trained and tested.
        method (str), benchmark (str): From the config name (``cmnet``, ``pascal5i``).
        fold (int), shot (int), train_seed (int): The run's fold, shot and training seed.
        work_dir (str): Its work dir.
        overrides (list[str]): ``--cfg-options`` the run adds (fold/shot when the config
            file is another fold's or shot's, the seed, the sweep's own options).
    """

    config: str
    method: str
    benchmark: str
    fold: int
    shot: int
    train_seed: int
    work_dir: str
    overrides: List[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return osp.basename(self.work_dir)

    @property
    def record_path(self) -> str:
        return osp.join(self.work_dir, RUN_RECORD)

    def record(self) -> dict:
        """The run's record (``sweep_run.json``), or a planned one."""
        if osp.isfile(self.record_path):
            with open(self.record_path) as f:
                return json.load(f)
        return dict(asdict(self), state='planned')

    def write(self, **fields) -> dict:
        from mmfss.utils import dump_json
        record = dict(self.record(), **asdict(self), **fields)
        dump_json(record, self.record_path, indent=1)
        return record


def parse_config_name(path: str) -> Optional[Dict[str, str]]:
    """Method, backbone, batch, schedule, benchmark, fold, shot and variant of an mmfss
    config name (``cmnet_r50-d8_1xb4-200e_pascal5i-fold0-1shot.py``), or None."""
    match = _NAME.match(osp.splitext(osp.basename(path))[0])
    return match.groupdict() if match else None


def find_config(configs_dir: str, method: str, benchmark: str, fold: int, shot: int,
                backbone: Optional[str] = None) -> Dict[str, object]:
    """The config of (method, benchmark, fold, shot): the fold's and shot's own file when it
    exists, else the nearest one (fold 0, the same or the 1-shot file) with the fold and shot
    set by options.

    Returns:
        dict: ``config`` (path) and ``overrides`` (``--cfg-options`` strings).

    Raises:
        FileNotFoundError: no config of the method and benchmark; ValueError: several
        backbones match and ``backbone`` does not choose.
    """
    folder = osp.join(configs_dir, 'baseline' if method == 'fss-baseline' else method)
    found = []
    for path in sorted(glob.glob(osp.join(folder, f'{method}_*.py'))):
        info = parse_config_name(path)
        if info and info['benchmark'] == benchmark and not info['variant'] and (
                backbone is None or info['backbone'] == backbone):
            found.append((path, info))
    if not found:
        raise FileNotFoundError(f'no config {folder}/{method}_*_{benchmark}-fold*-*shot.py'
                                + (f' with backbone {backbone}' if backbone else ''))
    backbones = sorted({info['backbone'] for _, info in found})
    if len(backbones) > 1:
        raise ValueError(f'configs of {method} on {benchmark} exist for the backbones '
                         f'{backbones}: choose one with --backbone')

    def rank(item):
        _, info = item
        return (int(info['fold']) != fold, int(info['shot']) != shot, int(info['fold']),
                int(info['shot']))

    path, info = min(found, key=rank)
    path = osp.abspath(path)
    overrides = []
    for key, value in (('fold', fold), ('shot', shot)):
        if int(info[key]) != value:
            overrides += [f'{loader}.dataset.{key}={value}'
                          for loader in ('train_dataloader', 'val_dataloader',
                                         'test_dataloader')]
    if int(info['shot']) != shot:
        from mmengine.config import Config
        if Config.fromfile(path).model.decode_head.get('shot') is not None:
            overrides.append(f'model.decode_head.shot={shot}')  # BAM's K-shot reweighting
    return dict(config=path, overrides=overrides)


def plan_sweep(configs: Sequence[str] = (), method: Optional[str] = None,
               benchmark: Optional[str] = None, folds: Sequence[int] = (0, 1, 2, 3),
               shots: Sequence[int] = (1, ), train_seeds: Sequence[int] = (0, ),
               work_root: str = 'work_dirs/sweep', backbone: Optional[str] = None,
               configs_dir: str = 'configs', extra_options: Sequence[str] = ()
               ) -> List[SweepRun]:
    """The runs of a sweep, in order (seed-major within each fold and shot).

    Either ``configs`` (each trained as it is, for each training seed) or ``method`` and
    ``benchmark`` (every fold x shot, see :func:`find_config`).
    """
    if not configs and not (method and benchmark):
        raise ValueError('give config files, or a method and a benchmark')
    runs = []
    items = []
    if configs:
        for path in configs:
            if not osp.isfile(path):
                raise FileNotFoundError(f'config {path} does not exist')
            info = parse_config_name(path) or {}
            items.append((dict(config=osp.abspath(path), overrides=[]),
                          info.get('method', 'config'),
                          info.get('benchmark', ''), int(info.get('fold', 0)),
                          int(info.get('shot', 1))))
    else:
        for shot in shots:
            for fold in folds:
                items.append((find_config(configs_dir, method, benchmark, fold, shot,
                                          backbone), method, benchmark, fold, shot))
    for found, name, bench, fold, shot in items:
        stem = osp.splitext(osp.basename(found['config']))[0]
        stem = re.sub(r'fold\d+-\d+shot', f'fold{fold}-{shot}shot', stem)
        for seed in train_seeds:
            runs.append(SweepRun(
                config=found['config'], method=name, benchmark=bench, fold=fold, shot=shot,
                train_seed=int(seed),
                work_dir=osp.abspath(osp.join(work_root, f'{stem}_seed{seed}')),
                overrides=list(found['overrides']) + [f'randomness.seed={seed}']
                + list(extra_options)))
    names = [r.work_dir for r in runs]
    if len(set(names)) != len(names):
        raise ValueError('two runs of the sweep would share a work dir')
    return runs


def _command(tool: str, launcher: str, gpus: int, partition: Optional[str], job: str,
             args: List[str]) -> List[str]:
    if launcher == 'none':
        return [sys.executable, f'tools/{tool}.py'] + args
    if launcher == 'pytorch':
        script = 'tools/dist_train.sh' if tool == 'train' else 'tools/dist_test.sh'
        if tool == 'train':
            return ['bash', script, args[0], str(gpus)] + args[1:]
        return ['bash', script, args[0], args[1], str(gpus)] + args[2:]
    script = 'tools/slurm_train.sh' if tool == 'train' else 'tools/slurm_test.sh'
    return ['bash', script, partition, job] + args


def _checkpoint(work_dir: str, which: str) -> Optional[str]:
    if which == 'best':
        best = sorted(glob.glob(osp.join(work_dir, 'best_*.pth')), key=osp.getmtime)
        if best:
            return best[-1]
    marker = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(marker):
        with open(marker) as f:
            path = f.read().strip()
        if path and osp.isfile(path):
            return path
    return None


def run_sweep(runs: Sequence[SweepRun], launcher: str = 'none', gpus: int = 1,
              partition: Optional[str] = None, test_seeds: Optional[int] = -1,
              checkpoint: str = 'last', data_root: Optional[str] = None,
              repo: str = '.', log=print) -> Dict[str, List[str]]:
    """Train, then test, every run not done yet; an interrupted run resumes from its last
    checkpoint (mmengine's resume). A failed run is recorded and the others go on.

    Args:
        runs: From :func:`plan_sweep`.
        launcher (str): ``'none'`` (``tools/train.py``), ``'pytorch'`` (``tools/dist_train.sh``
            with ``gpus`` processes) or ``'slurm'`` (``tools/slurm_train.sh``, one job per
            run, ``GPUS=gpus``).
        test_seeds (int): ``tools/test.py --seeds``: -1 all of the protocol's seeds (a bare
            ``--seeds``), N the first N (or s..s+N-1 without a protocol seed list).
        checkpoint (str): ``'last'`` or ``'best'`` (the best validation checkpoint, as the
            references select theirs on the test episodes).
        data_root (str, optional): ``--data-root`` of both tools.
        repo (str): Where ``tools/`` is.

    Returns:
        dict: run names by outcome: ``done`` (skipped), ``tested``, ``failed``.
    """
    if launcher not in LAUNCHERS:
        raise ValueError(f'launcher must be one of {LAUNCHERS}, got {launcher!r}')
    if launcher == 'slurm' and not partition:
        raise ValueError('the slurm launcher needs a partition')
    outcome: Dict[str, List[str]] = dict(done=[], tested=[], failed=[])
    env = dict(os.environ, PYTHON=sys.executable, GPUS=str(gpus))
    for i, run in enumerate(runs, 1):
        record = run.record()
        head = f'[{i}/{len(runs)}] {run.name}'
        if record.get('state') == 'tested':
            log(f'{head}: done, skipped')
            outcome['done'].append(run.name)
            continue
        os.makedirs(run.work_dir, exist_ok=True)
        common = (['--data-root', data_root] if data_root else [])
        options = ['--cfg-options'] + run.overrides if run.overrides else []
        try:
            if record.get('state') != 'trained':
                resume = osp.isfile(osp.join(run.work_dir, 'last_checkpoint'))
                log(f'{head}: {"resuming" if resume else "training"}')
                args = [run.config, '--work-dir', run.work_dir] + (['--resume'] if resume
                                                                    else []) + common + options
                _call(_command('train', launcher, gpus, partition, run.name, args), repo, env,
                      osp.join(run.work_dir, 'sweep_train.log'))
                run.write(state='trained')
            ckpt = _checkpoint(run.work_dir, checkpoint)
            if ckpt is None:
                raise RuntimeError(f'no {checkpoint} checkpoint in {run.work_dir}')
            log(f'{head}: testing {osp.basename(ckpt)}')
            test_dir = osp.join(run.work_dir, 'test')
            seeds = ['--seeds'] if test_seeds == -1 else ['--seeds', str(test_seeds)]
            args = [run.config, ckpt, '--work-dir', test_dir] + seeds + common + options
            _call(_command('test', launcher, gpus, partition, run.name, args), repo, env,
                  osp.join(run.work_dir, 'sweep_test.log'))
            with open(osp.join(test_dir, 'seeds_summary.json')) as f:
                summary = json.load(f)
            run.write(state='tested', checkpoint=ckpt, test=summary, error=None)
            outcome['tested'].append(run.name)
            log(f'{head}: ' + ', '.join(
                f'{k} {v["mean"]:.2f} +- {v["std"]:.2f}'
                for k, v in summary['metrics'].items() if k in ('mIoU', 'FB-IoU')))
        except Exception as err:  # recorded; the other runs go on
            run.write(state='failed', error=str(err)[-2000:])
            outcome['failed'].append(run.name)
            log(f'{head}: FAILED: {str(err).strip().splitlines()[-1] if str(err) else err!r}')
    return outcome


def _call(cmd: List[str], cwd: str, env: dict, log_path: str) -> None:
    """Run a tool, its output appended to ``log_path``; raise with its last lines on
    failure."""
    start = time.time()
    with open(log_path, 'a') as log:
        log.write(f'$ {" ".join(shlex.quote(c) for c in cmd)}\n')
        log.flush()
        proc = subprocess.run(cmd, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        with open(log_path) as f:
            tail = [line.rstrip() for line in f.readlines()[-5:]]
        raise RuntimeError(f'{osp.basename(cmd[1])} exited with '
                           f'{proc.returncode} after {time.time() - start:.0f} s (log: '
                           f'{log_path}): ' + ' | '.join(tail))
