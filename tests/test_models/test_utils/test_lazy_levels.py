"""LazyLevels: a level computed on its first read, once; map_levels/add_levels keep it."""
import pytest
import torch

from mmfss.models.utils import LazyLevels, add_levels, map_levels


def _levels():
    calls = []

    def compute():
        calls.append(1)
        return torch.full((2, 3), 7.0)

    return LazyLevels([torch.zeros(2, 3), torch.ones(2, 3), compute]), calls


def test_computed_on_first_read_only():
    levels, calls = _levels()
    assert len(levels) == 3 and not levels.computed(2) and levels.computed(0)
    assert torch.equal(levels[1], torch.ones(2, 3)) and calls == []
    assert float(levels[-1][0, 0]) == 7.0 and calls == [1]
    assert float(levels[2][0, 0]) == 7.0 and calls == [1]  # kept
    with pytest.raises(IndexError):
        levels[3]


def test_iteration_list_and_slices_read_everything():
    levels, calls = _levels()
    assert [float(t[0, 0]) for t in levels[:2]] == [0.0, 1.0] and calls == []
    assert [float(t[0, 0]) for t in list(levels)] == [0.0, 1.0, 7.0] and calls == [1]


def test_map_and_add_keep_the_deferral():
    levels, calls = _levels()
    mapped = map_levels(levels, lambda t: t[:1])
    longer = add_levels(mapped, [torch.full((1, 3), 5.0)])
    assert len(longer) == 4 and calls == []
    assert float(longer[3][0, 0]) == 5.0 and float(longer[0][0, 0]) == 0.0 and calls == []
    assert longer[2].shape == (1, 3) and calls == [1]
    assert float(levels[2][0, 0]) == 7.0 and calls == [1]  # the source computed once
    plain = [torch.zeros(1), torch.ones(1)]
    assert isinstance(map_levels(plain, lambda t: t + 1), list)
    assert len(add_levels(plain, [torch.ones(1)])) == 3
