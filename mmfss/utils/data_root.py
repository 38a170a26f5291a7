from typing import Any, Iterator, Tuple

__all__ = ['set_data_root', 'leaf_datasets']

LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def leaf_datasets(dataset: Any, where: str = 'dataset') -> Iterator[Tuple[dict, str]]:
    """The dataset configs that read files, with where they sit in the config.

    Wrappers are followed: ``BaseClassDataset.episodic``, ``EpisodicSegDataset.dataset``,
    ``RepeatDataset.dataset`` / ``ClassBalancedDataset.dataset``, ``ConcatDataset.datasets``.
    """
    if not isinstance(dataset, dict):
        return
    for key in ('episodic', 'dataset'):
        if isinstance(dataset.get(key), dict):
            yield from leaf_datasets(dataset[key], f'{where}.{key}')
            return
    if isinstance(dataset.get('datasets'), (list, tuple)):
        for i, d in enumerate(dataset['datasets']):
            yield from leaf_datasets(d, f'{where}.datasets[{i}]')
        return
    yield dataset, where


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
    count = 0
    for key in LOADERS:
        if isinstance(cfg.get(key), dict):
            for dataset, _ in leaf_datasets(cfg[key].get('dataset')):
                dataset['data_root'] = root
                count += 1
    return count
