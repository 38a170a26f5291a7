"""Evaluation over several episode sets (``tools/test.py --seeds``,
``tools/analysis_tools/eval_protocols.py``)."""
import os.path as osp
from typing import Dict, List

import numpy as np

__all__ = ['episode_seeds', 'evaluate_seeds']


def episode_seeds(dataset, num_seeds: int) -> List[int]:
    """The seeds of ``--seeds``: the protocol's seed list if it has one, else s, s+1, ...

    Args:
        dataset: The test dataset (its ``protocol`` and ``seed`` are read).
        num_seeds (int): N; -1 (a bare ``--seeds``) for all the protocol's seeds.

    Returns:
        list[int]: The episode seeds, in evaluation order.
    """
    from mmfss.datasets.protocols import get_protocol
    protocol = getattr(dataset, 'protocol', None)
    listed = get_protocol(protocol).seeds if protocol else ()
    if len(listed) > 1:
        if num_seeds > len(listed):
            raise ValueError(f'--seeds {num_seeds}: protocol {protocol!r} has {len(listed)} '
                             f'seeds {list(listed)}')
        return list(listed[:len(listed) if num_seeds == -1 else num_seeds])
    if num_seeds == -1:
        raise ValueError(f'a bare --seeds needs a protocol with a seed list; the test set has '
                         f'protocol={protocol!r}: pass --seeds N')
    return [int(dataset.seed) + k for k in range(num_seeds)]


def evaluate_seeds(runner, cfg, seeds: List[int], summary_file: str = 'seeds_summary.json'
                   ) -> Dict[str, dict]:
    """Run the test loop on the episode sets of ``seeds`` and summarise each metric.

    The model is built and loaded once; before each run but the first the test dataloader
    is rebuilt with the dataset's ``seed`` set to the next seed. Prints and returns, per
    metric, the values, their mean and their standard deviation (population, ddof=0), and
    dumps them to ``<work_dir>/<summary_file>``.

    Args:
        runner (mmengine.runner.Runner): A runner built from ``cfg``.
        cfg (mmengine.Config): Its config (``test_dataloader``, ``work_dir``).
        seeds (list[int]): Episode seeds (:func:`episode_seeds`).
        summary_file (str): File name of the summary under ``work_dir``.

    Returns:
        dict: metric -> ``dict(values, mean, std)``.
    """
    from mmengine.config import Config
    from mmengine.dist import is_main_process
    from mmengine.logging import print_log

    from mmfss.utils import dump_json
    loader_cfg = cfg.test_dataloader
    results: Dict[str, List[float]] = {}
    for k, seed in enumerate(seeds):
        if k > 0 or runner.test_dataloader.dataset.seed != seed:
            loader = Config(loader_cfg.to_dict())
            loader.dataset.seed = seed
            runner.test_loop.dataloader = runner.build_dataloader(loader.to_dict(),
                                                                  seed=runner.seed)
        metrics = runner.test()
        print_log(f'episode seed {seed}: ' + ', '.join(
            f'{k}: {v:.2f}' for k, v in metrics.items() if isinstance(v, float)), 'current')
        for key, value in metrics.items():
            if isinstance(value, (int, float)):
                results.setdefault(key, []).append(float(value))
    summary = {key: dict(values=values, mean=float(np.mean(values)), std=float(np.std(values)))
               for key, values in results.items()}
    lines = [f'{key}: {s["mean"]:.2f} +- {s["std"]:.2f}' for key, s in summary.items()
             if not key.startswith('IoU.')]
    print_log(f'over {len(seeds)} episode seeds {seeds}: ' + '; '.join(lines), 'current')
    if is_main_process():
        path = osp.join(cfg.work_dir, summary_file)
        dump_json(dict(seeds=[int(s) for s in seeds], metrics=summary), path, indent=1)
    return summary
