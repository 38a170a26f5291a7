"""Feature levels of which some are computed only when a module reads them."""
from typing import Callable, Iterator, List, Sequence, Union

from torch import Tensor

__all__ = ['LazyLevels', 'map_levels', 'add_levels']

Entry = Union[Tensor, Callable[[], Tensor]]


class LazyLevels:
    """A read-only sequence of feature levels, each a tensor or computed on its first read.

    :class:`~mmfss.models.FewShotSegmentor` encodes the supports up to the level before the
    backbone's last and defers the last stage: PFENet-style models read the last level of
    the supports only after masking (``stage(previous level * mask)``), so the unmasked one
    is never computed unless a neck or head indexes or iterates it. Indexing (also negative
    and slices), iteration, ``len`` and ``list()`` behave as on a list of tensors; a level
    is computed once and kept. :func:`map_levels` and :func:`add_levels` keep the deferral
    through per-level views and appended levels.

    Args:
        entries (list[Tensor | callable]): Each level, or ``fn() -> Tensor`` computing it.
    """

    def __init__(self, entries: Sequence[Entry]) -> None:
        self._entries: List[Entry] = list(entries)

    def computed(self, index: int) -> bool:
        """Whether level ``index`` holds a tensor (was given or has been read)."""
        return isinstance(self._entries[index], Tensor)

    def __len__(self) -> int:
        return len(self._entries)

    def __getitem__(self, index: Union[int, slice]):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        entry = self._entries[index]  # IndexError as a list's
        if not isinstance(entry, Tensor):
            entry = entry()
            self._entries[index] = entry
        return entry

    def __iter__(self) -> Iterator[Tensor]:
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        pending = [i for i in range(len(self)) if not self.computed(i)]
        return f'LazyLevels({len(self)} levels, not computed: {pending})'


def map_levels(levels: Sequence[Tensor], fn: Callable[[Tensor], Tensor]):
    """``[fn(level) for level in levels]``, deferred for the levels not computed yet.

    Args:
        levels (list[Tensor] | LazyLevels): Feature levels.
        fn (callable): Applied to each level (a view or a cheap op: it runs at once on the
            computed levels).

    Returns:
        list[Tensor] | LazyLevels: The same kind as ``levels``.
    """
    if not isinstance(levels, LazyLevels):
        return [fn(f) for f in levels]
    return LazyLevels([fn(levels[i]) if levels.computed(i) else
                       (lambda i=i: fn(levels[i])) for i in range(len(levels))])


def add_levels(levels: Sequence[Tensor], extra: Sequence[Tensor]):
    """``list(levels) + list(extra)`` without computing a deferred level.

    Returns:
        list[Tensor] | LazyLevels: The same kind as ``levels``.
    """
    if not isinstance(levels, LazyLevels):
        return list(levels) + list(extra)
    return LazyLevels([levels[i] if levels.computed(i) else (lambda i=i: levels[i])
                       for i in range(len(levels))] + list(extra))
