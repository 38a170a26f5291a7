import numpy as np
import pytest

from mmfss.visualization import episode_panel, overlay_mask, way_palette


def test_overlay_colours_only_labelled_pixels():
    img = np.full((20, 30, 3), 100, np.uint8)
    label = np.zeros((20, 30), np.int64)
    label[4:16, 3:15] = 1
    label[5:15, 20:25] = 2
    label[0, :] = 255
    palette = way_palette(2)
    out = overlay_mask(img, label, palette, alpha=0.5)
    assert np.array_equal(out[label == 0], img[label == 0])  # background untouched
    inner = out[7:13, 6:12].reshape(-1, 3)  # inside region 1, away from its outline
    expected = np.round(0.5 * 100 + 0.5 * np.asarray(palette[1], float))
    assert np.array_equal(inner, np.tile(expected, (len(inner), 1)).astype(np.uint8))
    assert tuple(out[4, 8]) == palette[1]  # the outline has the way's colour
    assert tuple(out[5, 20]) == palette[2]
    assert tuple(out[0, 15]) == (114, 114, 114)  # ignore: grey blend
    with pytest.raises(ValueError, match='sizes differ'):
        overlay_mask(img, label[:10], palette)


def test_palette():
    assert way_palette(1)[0] == (0, 0, 0) and len(way_palette(12)) == 13
    assert len(set(way_palette(12))) == 13


def test_panel_layout():
    rng = np.random.default_rng(0)
    query = rng.integers(0, 255, (50, 100, 3), dtype=np.uint8)
    pred = np.zeros((50, 100), np.int64)
    pred[10:20, 10:30] = 2
    supports = [(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8),
                 np.pad(np.ones((20, 20), np.int64), 10), way) for way in (1, 1, 2)]
    panel = episode_panel(query, pred, supports, ['cat', 'dog'], gt=pred, height=64,
                          title_height=30, gap=4)
    # 3 square supports + ground truth + prediction (2:1), 64 high, 4-pixel gaps
    assert panel.shape == (94, 3 * 64 + 2 * 128 + 4 * 4, 3)
    title = panel[:30]
    assert (title < 128).any() and (title == 255).mean() > 0.5  # dark text on white
    third = panel[30:, 2 * 68:2 * 68 + 64]  # the way-2 support is drawn in way 2's colour
    assert (np.abs(third.astype(int) - way_palette(2)[2]).sum(-1) == 0).any()
