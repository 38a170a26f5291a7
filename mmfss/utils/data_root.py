from typing import Any

__all__ = ['set_data_root']

LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def _set(dataset: Any, root: str) -> int:
    """Set ``data_root`` on a dataset config and on the datasets it wraps; count them."""
    if not isinstance(dataset, dict):
        return 0
    if 'episodic' in dataset:  # BaseClassDataset: the root belongs to the episodic source
        return _set(dataset['episodic'], root)
    if 'dataset' in dataset:  # RepeatDataset, ClassBalancedDataset, ...
        return _set(dataset['dataset'], root)
    if 'datasets' in dataset:  # ConcatDataset
        return sum(_set(d, root) for d in dataset['datasets'])
    dataset['data_root'] = root
    return 1


def set_data_root(cfg, root: str) -> int:
    """Point every dataloader's dataset of a config at ``root`` (``--data-root`` of the tools).

    Wrapped datasets (``BaseClassDataset.episodic``, ``RepeatDataset.dataset``,
    ``ConcatDataset.datasets``) are followed to the datasets that read the files.

    Args:
        cfg (mmengine.Config | dict): The config, modified in place.
        root (str): The dataset folder.

    Returns:
        int: How many dataset configs were changed.
    """
    return sum(_set(cfg[key].get('dataset'), root) for key in LOADERS
               if isinstance(cfg.get(key), dict))
