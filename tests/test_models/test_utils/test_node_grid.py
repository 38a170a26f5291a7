import torch
import torch.nn.functional as F

from mmfss.models.utils import NodeGrid


def test_partial_border_cells_average_their_own_nodes():
    grid = NodeGrid((1, 3), 2)
    assert grid.cells == (1, 2)
    x = torch.tensor([[[1.0, 3.0, 10.0]]])  # [N=1, C=1, 1x3 nodes]
    torch.testing.assert_close(grid.pool(x), torch.tensor([[[2.0, 10.0]]]))
    assert grid.unpool(grid.pool(x)).shape == x.shape


def test_cells_and_resize_back():
    """5x7 nodes at stride 2: 3x4 cells, each the mean of its own nodes; cell values come
    back to every node as a half-pixel bilinear resize."""
    torch.manual_seed(0)
    x = torch.randn(2, 3, 5 * 7)
    grid = NodeGrid((5, 7), 2)
    assert grid.cells == (3, 4)
    pooled = grid.pool(x).unflatten(-1, (3, 4))
    nodes = x.unflatten(-1, (5, 7))
    for i in range(3):
        for j in range(4):
            cell = nodes[..., 2 * i:2 * i + 2, 2 * j:2 * j + 2]
            torch.testing.assert_close(pooled[..., i, j], cell.mean((-2, -1)))
    back = grid.unpool(pooled.flatten(-2))
    expected = F.interpolate(pooled, size=(5, 7), mode='bilinear', align_corners=False)
    torch.testing.assert_close(back, expected.flatten(-2))


def test_stride_one_is_the_identity():
    x = torch.randn(1, 2, 6)
    grid = NodeGrid((2, 3), 1)
    assert grid.cells == (2, 3)
    assert grid.pool(x) is x and grid.unpool(x) is x
