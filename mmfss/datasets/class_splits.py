"""Novel classes of a user's dataset: a list, or folds over the class list."""
from typing import List, Optional, Sequence, Union

__all__ = ['novel_class_ids', 'ClassSplitMixin', 'FOLD_RULES']

FOLD_RULES = ('contiguous', 'interleaved')


def novel_class_ids(class_names: Sequence[str],
                    fold: int = 0,
                    num_folds: int = 4,
                    novel_classes: Optional[Sequence[Union[int, str]]] = None,
                    fold_rule: str = 'contiguous',
                    owner: str = 'dataset') -> List[int]:
    """The 1-based ids of the novel classes of ``fold``.

    With ``novel_classes``: those classes (names, or 1-based ids in ``class_names`` order),
    whatever ``fold`` is. Otherwise the classes are split into ``num_folds`` folds:
    ``'contiguous'`` (PASCAL-5i's rule: fold i holds classes ``i*C/n+1 .. (i+1)*C/n``; with C
    not divisible by n the first ``C mod n`` folds hold one class more) or ``'interleaved'``
    (COCO-20i's rule in PFENet/HSNet: fold i holds classes ``n*k + i + 1``).

    Args:
        class_names (Sequence[str]): Names of the classes 1..C.
        fold (int): Fold index in ``range(num_folds)``.
        num_folds (int): Number of folds (1..C).
        novel_classes (Sequence[int | str], optional): Explicit novel classes.
        fold_rule (str): ``'contiguous'`` or ``'interleaved'``.
        owner (str): Named in error messages.

    Returns:
        list[int]: Sorted 1-based ids.
    """
    num = len(class_names)
    if novel_classes is not None:
        ids = []
        for c in novel_classes:
            if isinstance(c, str):
                if c not in class_names:
                    raise ValueError(f'{owner}: novel class {c!r} is not one of its classes '
                                     f'{list(class_names)[:20]}')
                ids.append(list(class_names).index(c) + 1)
            elif isinstance(c, int) and 1 <= c <= num:
                ids.append(c)
            else:
                raise ValueError(f'{owner}: novel class {c!r} must be a class name or an id in '
                                 f'1..{num}')
        if not ids or len(set(ids)) == num:
            raise ValueError(f'{owner}: novel_classes must name at least one class and leave '
                             f'at least one base class, got {list(novel_classes)}')
        return sorted(set(ids))
    if fold_rule not in FOLD_RULES:
        raise ValueError(f'{owner}: fold_rule must be one of {FOLD_RULES}, got {fold_rule!r}')
    if not (isinstance(num_folds, int) and 2 <= num_folds <= num):
        raise ValueError(f'{owner}: num_folds must be an int in 2..{num} (the number of '
                         f'classes), got {num_folds!r}')
    if not (isinstance(fold, int) and 0 <= fold < num_folds):
        raise ValueError(f'{owner}: fold must be an int in 0..{num_folds - 1}, got {fold!r}')
    if fold_rule == 'interleaved':
        return [c for c in range(1, num + 1) if (c - 1) % num_folds == fold]
    size, extra = divmod(num, num_folds)
    start = fold * size + min(fold, extra)
    return list(range(start + 1, start + size + (fold < extra) + 1))


class ClassSplitMixin:
    """Novel classes by name or fold, for :class:`~mmfss.datasets.BaseEpisodicDataset`
    subclasses over a user's class list (:class:`~mmfss.datasets.ClassFolderDataset`,
    :class:`~mmfss.datasets.EpisodicSegDataset`), which no reference protocol covers."""

    def _split_classes(self, class_names: Sequence[str], fold: int, num_folds: int,
                       novel_classes: Optional[Sequence[Union[int, str]]], fold_rule: str,
                       protocol: Optional[str]) -> int:
        """Fix the novel classes and ``num_folds``; return the fold to pass to the base.

        With ``novel_classes`` the classes given are the one fold (fold 0 of 1).
        """
        owner = type(self).__name__
        if protocol is not None:
            raise ValueError(f'{owner}: protocol={protocol!r}: the reference protocols are '
                             'for their benchmarks; use protocol=None')
        self._novel = novel_class_ids(class_names, fold, num_folds, novel_classes, fold_rule,
                                      owner=owner)
        if novel_classes is not None:
            self.num_folds = 1
            return 0
        self.num_folds = num_folds
        return fold

    def fold_classes(self, fold: int) -> List[int]:
        return list(self._novel)
