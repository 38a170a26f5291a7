"""One checkpoint under every evaluation protocol: the test set of a config rewritten per
protocol (``tools/analysis_tools/eval_protocols.py``).

A few-shot number depends on the protocol that made it (:mod:`mmfss.datasets.protocols`):
its sampler, episode count, seeds, input size and geometry, and the frame it is scored in.
:func:`protocol_test_dataloader` turns a config's test dataloader into the one of a protocol,
changing nothing else (dataset, fold, shot, data root, metric):

* ``'pfenet'``, ``'bam'``, ``'hsnet'``: the dataset's ``protocol=`` (sampler, episodes,
  seeds, size) and, in the test pipeline, :class:`~mmfss.datasets.transforms.ProtocolTestResize`
  for the query and each support in place of the config's own resizing (``Resize``), after
  the label is loaded; a pipeline that already resizes with it is left as it is.
* ``'mmfss'``: the dataset's own sampler (``protocol=None``: ``num_episodes`` episodes, 1000
  by default, from the config's ``seed``) with the config's test geometry; a pipeline whose
  :class:`ProtocolTestResize` takes the protocol from the dataset keeps the config's
  protocol's geometry (named in the transform).
"""
import copy
from typing import List, Optional

__all__ = ['PROTOCOL_CHOICES', 'protocol_test_dataloader', 'protocol_summary']

PROTOCOL_CHOICES = ('pfenet', 'bam', 'hsnet', 'mmfss')
_RESIZES = ('Resize', 'ProtocolTestResize')


def _with_protocol_resize(transforms: List[dict], role: str) -> List[dict]:
    """``transforms`` with its resizing replaced by ProtocolTestResize at the end."""
    kept = [copy.deepcopy(t) for t in transforms
            if not (isinstance(t, dict) and t.get('type') in _RESIZES)]
    if not any(isinstance(t, dict) and t.get('type') == 'LoadAnnotations' for t in kept) \
            and role == 'support':
        raise ValueError('the test pipeline loads no support mask (LoadAnnotations): '
                         'ProtocolTestResize needs it')
    return kept + [dict(type='ProtocolTestResize', role=role)]


def _protocol_pipeline(pipeline: List[dict]) -> List[dict]:
    out = []
    for step in pipeline:
        if isinstance(step, dict) and step.get('type') == 'ApplyToEpisode':
            step = copy.deepcopy(step)
            query = step['transforms']
            support = step.get('support_transforms') or query
            uses_protocol = any(isinstance(t, dict) and t.get('type') == 'ProtocolTestResize'
                                and t.get('protocol') is None for t in query)
            if not uses_protocol:
                step['transforms'] = _with_protocol_resize(query, 'query')
                step['support_transforms'] = _with_protocol_resize(support, 'support')
        out.append(step)
    return out


def _own_geometry_pipeline(pipeline: List[dict], protocol: Optional[str],
                           size: Optional[int]) -> List[dict]:
    """The pipeline with every dataset-driven ProtocolTestResize pinned to ``protocol``
    and ``size``."""
    out = copy.deepcopy(pipeline)
    for step in out:
        if isinstance(step, dict) and step.get('type') == 'ApplyToEpisode':
            for key in ('transforms', 'support_transforms'):
                for t in step.get(key) or []:
                    if isinstance(t, dict) and t.get('type') == 'ProtocolTestResize' \
                            and t.get('protocol') is None:
                        if protocol is None:
                            raise ValueError('the test pipeline resizes with the dataset\'s '
                                             'protocol but the dataset has none')
                        t['protocol'] = protocol
                        t.setdefault('size', size)
    return out


def protocol_test_dataloader(loader_cfg: dict, protocol: str,
                             num_episodes: Optional[int] = None) -> dict:
    """The test dataloader config ``loader_cfg`` under ``protocol``.

    Args:
        loader_cfg (dict): A config's ``test_dataloader`` (an episodic dataset).
        protocol (str): One of :data:`PROTOCOL_CHOICES`.
        num_episodes (int, optional): Episodes per seed instead of the protocol's (a
            shortened run, reported as such); None: the protocol's.

    Returns:
        dict: A new dataloader config (``loader_cfg`` is not modified).
    """
    if protocol not in PROTOCOL_CHOICES:
        raise ValueError(f'protocol must be one of {PROTOCOL_CHOICES}, got {protocol!r}')
    loader = copy.deepcopy(dict(loader_cfg))
    dataset = dict(loader['dataset'])
    if 'pipeline' not in dataset:
        raise ValueError('the test dataset has no pipeline: a wrapped dataset is not '
                         'supported')
    import mmfss  # noqa: F401  registers the datasets
    from mmseg.registry import DATASETS
    dataset_cls = DATASETS.get(dataset['type'])
    if dataset_cls is None or not hasattr(dataset_cls, 'protocol_geometry'):
        raise ValueError(f"test dataset {dataset['type']!r} is not an episodic dataset")
    own, own_size = dataset_cls.protocol_geometry(dataset.get('protocol', 'default'),
                                                  dataset.get('test_size'))
    for key in ('seed', 'episodes_file', 'test_size', 'episode_workers'):
        dataset.pop(key, None)  # the protocol's, or the dataset's defaults
    if protocol == 'mmfss':
        dataset['protocol'] = None
        dataset['pipeline'] = _own_geometry_pipeline(dataset['pipeline'], own, own_size)
        dataset['seed'] = loader_cfg['dataset'].get('seed') or 0
        dataset['num_episodes'] = num_episodes or 1000
    else:
        dataset['protocol'] = protocol
        dataset['pipeline'] = _protocol_pipeline(dataset['pipeline'])
        dataset['num_episodes'] = num_episodes or 'default'
    loader['dataset'] = dataset
    return loader


def protocol_summary(dataset, protocol: str, seeds: List[int]) -> dict:
    """What a protocol fixed in a built test set: for the table's columns.

    Args:
        dataset: The built episodic test dataset.
        protocol (str): The protocol's name (:data:`PROTOCOL_CHOICES`).
        seeds (list[int]): The episode seeds evaluated.

    Returns:
        dict: ``protocol, episodes (per seed), seeds, input`` (size and geometry).
    """
    from mmfss.datasets.protocols import get_protocol
    if dataset.protocol is None:
        geometry = 'config'
    else:
        spec = get_protocol(dataset.protocol)
        geometry = f'{dataset.test_size} {spec.geometry}'
    return dict(protocol=protocol, episodes=len(dataset.episodes), seeds=list(seeds),
                input=geometry)
