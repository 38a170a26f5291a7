"""Example episodes of the web page, drawn from a small Shapes-5i copy.

The page opens with the first example filled in, so it segments something on first use.
Supports and queries are validation images of fold 0's novel classes (the classes the
``make demo`` model never saw in training); masks are 0/255 PNGs, also written as the brush
layer of the page's image editor.
"""
import os.path as osp
from dataclasses import dataclass
from typing import Dict, List, Tuple

import numpy as np
from PIL import Image

from mmfss.datasets.shapes5i_generator import SHAPES5I_CLASSES, generate_shapes5i
from mmfss.utils import save_png

__all__ = ['ExampleEpisode', 'shapes5i_examples', 'BRUSH_RGB']

BRUSH_RGB = (255, 64, 64)  # colour of the brush layers written for the examples
MIN_PIXELS = 300  # an example object covers at least this many pixels of a 96x96 image


@dataclass
class ExampleEpisode:
    """A filled-in task of the page.

    Attributes:
        title (str): Shown in the example chooser.
        classes (list[tuple]): (class name, [(image file, mask file, brush layer file)]).
        queries (list[str]): Query image files.
    """

    title: str
    classes: List[Tuple[str, List[Tuple[str, str, str]]]]
    queries: List[str]


def _images_by_class(root: str) -> Tuple[List[str], Dict[int, List[Tuple[str, np.ndarray]]]]:
    with open(osp.join(root, 'lists', 'val.txt')) as f:
        pairs = [line.split() for line in f if line.strip()]
    found: Dict[int, List[Tuple[str, np.ndarray]]] = {}
    for image, label in pairs:
        labels = np.asarray(Image.open(osp.join(root, label)))
        for c in np.unique(labels):
            if 1 <= c <= 5 and (labels == c).sum() >= MIN_PIXELS:  # fold 0's novel classes
                found.setdefault(int(c), []).append((osp.join(root, image), labels == c))
    return [osp.join(root, p[0]) for p in pairs], found


def _support(folder: str, image: str, mask: np.ndarray) -> Tuple[str, str, str]:
    stem = osp.splitext(osp.basename(image))[0]
    mask_file = osp.join(folder, 'masks', f'{stem}_{mask.sum()}_mask.png')
    save_png(mask_file, mask.astype(np.uint8) * 255)
    layer = np.zeros(mask.shape + (4, ), np.uint8)
    layer[mask] = BRUSH_RGB + (255, )
    layer_file = osp.join(folder, 'masks', f'{stem}_{mask.sum()}_layer.png')
    save_png(layer_file, layer)
    return image, mask_file, layer_file


def shapes5i_examples(folder: str) -> List[ExampleEpisode]:
    """Write a 40-image Shapes-5i validation copy under ``folder`` and build two examples:
    one class with one support and one query, and two classes with two supports each and
    four queries.

    Args:
        folder (str): An empty or missing folder (the page's temporary folder).

    Returns:
        list[ExampleEpisode]
    """
    root = osp.join(folder, 'shapes5i')
    generate_shapes5i(root, seed=0, num_train=1, num_val=40)
    _, found = _images_by_class(root)
    first, second = sorted(found, key=lambda c: -len(found[c]))[:2]
    name1, name2 = SHAPES5I_CLASSES[first - 1], SHAPES5I_CLASSES[second - 1]
    one = ExampleEpisode(
        title=f'1 class ({name1}), 1 support, 1 query',
        classes=[(name1, [_support(folder, *found[first][0])])],
        queries=[found[first][1][0]])
    used = {found[first][i][0] for i in range(2)} | {found[second][i][0] for i in range(2)}
    queries = [img for img, _ in found[first][2:] + found[second][2:] if img not in used]
    two = ExampleEpisode(
        title=f'2 classes ({name1}, {name2}), 2 supports each, 4 queries',
        classes=[(name1, [_support(folder, *found[first][i]) for i in range(2)]),
                 (name2, [_support(folder, *found[second][i]) for i in range(2)])],
        queries=list(dict.fromkeys(queries))[:4])
    return [one, two]
