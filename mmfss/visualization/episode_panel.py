from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np

__all__ = ['way_palette', 'overlay_mask', 'episode_panel']

# background, then one colour per way (red first: the one-way foreground)
_WAY_COLOURS = [(255, 64, 64), (64, 160, 255), (64, 220, 64), (255, 200, 0), (200, 64, 255),
                (0, 220, 220), (255, 128, 192), (160, 96, 32)]
IGNORE_COLOUR = (128, 128, 128)


def way_palette(ways: int) -> List[Tuple[int, int, int]]:
    """RGB colours of labels 0..ways (0, the background, is black)."""
    extra = np.random.default_rng(0).integers(0, 256, (max(0, ways - len(_WAY_COLOURS)), 3))
    return [(0, 0, 0)] + (_WAY_COLOURS + [tuple(int(v) for v in c) for c in extra])[:ways]


def overlay_mask(img: np.ndarray, label: np.ndarray, palette: Sequence[Tuple[int, int, int]],
                 alpha: float = 0.5, ignore_index: int = 255) -> np.ndarray:
    """Blend the colours of the labels > 0 of ``label`` into an RGB image and outline them.

    Args:
        img (np.ndarray): [H, W, 3] uint8 RGB image.
        label (np.ndarray): [H, W] labels (0 background, untouched; ``ignore_index`` grey).
        palette (sequence): RGB colour of each label (index 0 unused).
        alpha (float): Opacity of the colours.

    Returns:
        np.ndarray: [H, W, 3] uint8 RGB.
    """
    if img.shape[:2] != label.shape:
        raise ValueError(f'image {img.shape[:2]} and label {label.shape} sizes differ')
    out = img.astype(np.float32)
    outlines = []
    for value in np.unique(label):
        if value == 0:
            continue
        colour = IGNORE_COLOUR if value == ignore_index else palette[int(value)]
        where = label == value
        out[where] = (1 - alpha) * out[where] + alpha * np.asarray(colour, np.float32)
        if value != ignore_index:
            outlines.append((where, colour))
    out = out.round().clip(0, 255).astype(np.uint8)
    thickness = max(2, round(min(label.shape) / 150))
    for where, colour in outlines:  # outlines keep regions visible on vivid images
        contours, _ = cv2.findContours(where.astype(np.uint8), cv2.RETR_EXTERNAL,
                                       cv2.CHAIN_APPROX_SIMPLE)
        line = np.zeros(label.shape, np.uint8)
        cv2.drawContours(line, contours, -1, 1, thickness)
        out[(line == 1) & where] = colour  # inside the region only
    return out


def _fit_height(img: np.ndarray, height: int, nearest: bool = False) -> np.ndarray:
    h, w = img.shape[:2]
    width = max(1, round(w * height / h))
    return cv2.resize(img, (width, height),
                      interpolation=cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR)


def episode_panel(query: np.ndarray,
                  pred: np.ndarray,
                  supports: Sequence[Tuple[np.ndarray, np.ndarray, int]],
                  class_names: Sequence[Optional[str]],
                  gt: Optional[np.ndarray] = None,
                  height: int = 256,
                  title_height: int = 40,
                  gap: int = 4,
                  visualizer=None) -> np.ndarray:
    """One picture of an episode: each support with its mask, the query with its ground
    truth (when known) and the prediction, side by side under a title with the class names.

    Labels: 0 background, ``n`` the n-th class (way) of ``class_names``; a support's mask
    (1 foreground) is drawn in its way's colour, 255 (ignore/padding) in grey.

    Args:
        query (np.ndarray): [H, W, 3] uint8 RGB query image.
        pred (np.ndarray): [H, W] predicted labels.
        supports (sequence): (RGB image, binary mask, way index 1..N) of each support.
        class_names (sequence): Name of each way.
        gt (np.ndarray, optional): [H, W] ground-truth labels.
        height (int): Height of every tile.
        title_height (int): Height of the strip above the tiles (title line, then the
            caption of each tile).
        gap (int): White pixels between tiles.
        visualizer (mmengine.visualization.Visualizer, optional): Draws the texts (so the
            configured visualizer's fonts are used); without one, OpenCV draws them.

    Returns:
        np.ndarray: [height + title_height, W_total, 3] uint8 RGB.
    """
    palette = way_palette(len(class_names))

    def tile(img: np.ndarray, label: np.ndarray) -> np.ndarray:
        # resize first, so that outlines stay crisp
        label = _fit_height(label.astype(np.uint8), height, nearest=True)
        return overlay_mask(_fit_height(img, height), label, palette)

    tiles, captions = [], []
    for i, (img, mask, way) in enumerate(supports):
        tiles.append(tile(img, np.where(mask == 1, way, np.where(mask == 255, 255, 0))))
        captions.append(f'support {i + 1}')
    if gt is not None:
        tiles.append(tile(query, gt))
        captions.append('ground truth')
    tiles.append(tile(query, pred))
    captions.append('prediction')

    width = sum(t.shape[1] for t in tiles) + gap * (len(tiles) - 1)
    canvas = np.full((height + title_height, width, 3), 255, np.uint8)
    x, positions = 0, []
    for tile in tiles:
        canvas[title_height:, x:x + tile.shape[1]] = tile
        positions.append((x + 2, title_height // 2))
        x += tile.shape[1] + gap
    if len(class_names) == 1:
        title = class_names[0] or 'class 1'
    else:
        title = '  '.join(f'{i}: {n or "class " + str(i)}'
                          for i, n in enumerate(class_names, 1))
    texts = [title] + captions
    points = [(2, 2)] + positions
    if visualizer is not None:
        visualizer.set_image(canvas)
        visualizer.draw_texts(texts, np.asarray(points), font_sizes=10, colors='black')
        return visualizer.get_image()
    for text, (px, py) in zip(texts, points):
        cv2.putText(canvas, text, (px, py + 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1,
                    cv2.LINE_AA)
    return canvas
