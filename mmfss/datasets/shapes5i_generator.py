"""Procedural generator of the Shapes-5i few-shot benchmark (written in PASCAL VOC's layout).

Classes. 20 classes = 5 shape families x 4 appearance patterns. 1-based class ``c`` has shape
family ``(c - 1) // 4`` and pattern ``(c - 1) % 4``; fold ``i`` holds the novel classes
``5i+1 .. 5i+5`` as in PASCAL-5i, so every fold's novel classes share shape families and
patterns with base classes and differ from them only in the combination.

Why a novel class can only be segmented with the support (no saliency shortcut):

* every image holds 1 to 3 objects of *different* classes, and the distractors are chosen to
  share the target's shape family or its pattern, so "segment the salient object(s)" or
  "segment the disk" scores poorly: the model must match the support's shape *and* pattern;
* all objects are equally salient (same size range, same contrast to the background), and
  the background is a low-contrast clutter texture, not a flat colour;
* object positions, sizes, rotations, pattern phases and colours are random, so the support
  mask's location carries no information about the query's (a reference the demo prints).

Label maps: 0 background, 1..20 classes, 255 on a 1-pixel band on object borders (as VOC's
void boundaries). Images are JPEG, labels PNG; lists ``lists/{train,val}.txt`` use PFENet's
``JPEGImages/X.jpg SegmentationClassAug/X.png`` format, so Shapes-5i loads through the same
code as PASCAL-5i. Everything is a deterministic function of the seed.
"""
import json
import os
import os.path as osp
import shutil
import tempfile
from typing import Dict, Tuple

import numpy as np
from PIL import Image

__all__ = ['SHAPES5I_CLASSES', 'generate_shapes5i', 'shapes5i_class_attributes']

GENERATOR_VERSION = 1
SHAPE_FAMILIES = ('disk', 'square', 'triangle', 'cross', 'star')
PATTERNS = ('stripes', 'checker', 'dots', 'rings')
# Two colours per pattern (RGB); each object jitters them.
PATTERN_COLOURS = (
    ((220, 60, 40), (250, 210, 60)),
    ((40, 80, 220), (235, 235, 235)),
    ((30, 160, 70), (20, 40, 30)),
    ((180, 60, 200), (60, 210, 220)),
)
SHAPES5I_CLASSES = tuple(f'{s}-{p}' for s in SHAPE_FAMILIES for p in PATTERNS)


def shapes5i_class_attributes(class_id: int) -> Tuple[str, str]:
    """Return (shape family, pattern) of a 1-based Shapes-5i class id."""
    if not 1 <= class_id <= len(SHAPES5I_CLASSES):
        raise ValueError(f'class_id must be in 1..20, got {class_id}')
    return SHAPE_FAMILIES[(class_id - 1) // 4], PATTERNS[(class_id - 1) % 4]


def _shape_mask(shape: str, yy: np.ndarray, xx: np.ndarray, cy: float, cx: float, r: float,
                angle: float) -> np.ndarray:
    """Boolean mask of a shape of radius ``r`` centred at (cy, cx), rotated by ``angle``."""
    dy, dx = yy - cy, xx - cx
    ca, sa = np.cos(angle), np.sin(angle)
    u, v = ca * dx + sa * dy, -sa * dx + ca * dy
    if shape == 'disk':
        return u**2 + v**2 <= r**2
    if shape == 'square':
        s = r * 0.85
        return (np.abs(u) <= s) & (np.abs(v) <= s)
    if shape == 'triangle':
        # Equilateral triangle with circumradius r (apex up in the rotated frame).
        k = np.sqrt(3.0)
        return (v <= r / 2) & (k * u - v <= r) & (-k * u - v <= r)
    if shape == 'cross':
        w = r * 0.36
        return ((np.abs(u) <= w) & (np.abs(v) <= r)) | ((np.abs(v) <= w) & (np.abs(u) <= r))
    if shape == 'star':
        rho = np.sqrt(u**2 + v**2)
        theta = np.arctan2(v, u)
        # Radius oscillates between 0.45 r and r with 5 spikes.
        boundary = r * (0.72 + 0.28 * np.cos(5 * theta))
        return rho <= boundary
    raise ValueError(f'unknown shape {shape!r}')


def _pattern(pattern: str, yy: np.ndarray, xx: np.ndarray, rng: np.random.Generator,
             colours: np.ndarray) -> np.ndarray:
    """RGB texture (H, W, 3) float of a pattern with random period, phase and orientation."""
    period = rng.uniform(5.0, 8.0)
    phase = rng.uniform(0, period)
    angle = rng.uniform(0, np.pi)
    u = np.cos(angle) * xx + np.sin(angle) * yy + phase
    v = -np.sin(angle) * xx + np.cos(angle) * yy + phase
    if pattern == 'stripes':
        sel = (np.floor(u / period) % 2) == 0
    elif pattern == 'checker':
        sel = ((np.floor(u / period) + np.floor(v / period)) % 2) == 0
    elif pattern == 'dots':
        fu = (u % period) - period / 2
        fv = (v % period) - period / 2
        sel = fu**2 + fv**2 <= (0.3 * period)**2
        sel = ~sel
    elif pattern == 'rings':
        cy, cx = rng.uniform(-10, 10, size=2)
        rho = np.sqrt((yy.mean() + cy - yy)**2 + (xx.mean() + cx - xx)**2)
        sel = (np.floor((rho + phase) / period) % 2) == 0
    else:
        raise ValueError(f'unknown pattern {pattern!r}')
    return np.where(sel[..., None], colours[0], colours[1])


def _background(size: int, rng: np.random.Generator) -> np.ndarray:
    """Low-contrast clutter: smooth grey noise plus faint random strokes."""
    coarse = rng.uniform(90, 170, size=(size // 8 + 2, size // 8 + 2, 3))
    img = np.array(
        Image.fromarray(coarse.astype(np.uint8)).resize((size, size), Image.BICUBIC),
        dtype=np.float64)
    img = 0.6 * img + 0.4 * img.mean(axis=2, keepdims=True)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    for _ in range(rng.integers(3, 7)):
        a, b = rng.uniform(0, size, 2)
        angle = rng.uniform(0, np.pi)
        dist = np.abs(np.cos(angle) * (xx - a) + np.sin(angle) * (yy - b))
        img[dist < rng.uniform(0.8, 2.0)] += rng.uniform(-30, 30)
    img += rng.normal(0, 6, size=img.shape)
    return img


def _choose_classes(rng: np.random.Generator, num_objects: int) -> list:
    """First class uniform; distractors share its shape family or its pattern when possible."""
    first = int(rng.integers(1, 21))
    shape, pattern = (first - 1) // 4, (first - 1) % 4
    classes = [first]
    while len(classes) < num_objects:
        r = rng.uniform()
        if r < 0.4:
            cand = shape * 4 + int(rng.integers(0, 4)) + 1  # same shape family
        elif r < 0.8:
            cand = int(rng.integers(0, 5)) * 4 + pattern + 1  # same pattern
        else:
            cand = int(rng.integers(1, 21))
        if cand not in classes:
            classes.append(cand)
    return classes


def _render(rng: np.random.Generator, size: int) -> Tuple[np.ndarray, np.ndarray]:
    """Render one image (H, W, 3) uint8 and its label map (H, W) uint8."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    img = _background(size, rng)
    label = np.zeros((size, size), dtype=np.uint8)
    num_objects = int(rng.choice([1, 2, 3], p=[0.3, 0.4, 0.3]))
    for cls in _choose_classes(rng, num_objects):
        shape, pattern = SHAPE_FAMILIES[(cls - 1) // 4], (cls - 1) % 4
        r = rng.uniform(0.13, 0.24) * size
        cy, cx = rng.uniform(r * 0.8, size - r * 0.8, size=2)
        mask = _shape_mask(shape, yy, xx, cy, cx, r, rng.uniform(0, 2 * np.pi))
        colours = np.array(PATTERN_COLOURS[pattern], dtype=np.float64)
        colours = np.clip(colours + rng.uniform(-25, 25, size=colours.shape), 0, 255)
        texture = _pattern(PATTERNS[pattern], yy, xx, rng, colours)
        img[mask] = texture[mask]
        label[mask] = cls
    # 255 on a 1-pixel band where the label changes (VOC-style void border).
    border = np.zeros_like(label, dtype=bool)
    border[1:, :] |= label[1:, :] != label[:-1, :]
    border[:-1, :] |= label[1:, :] != label[:-1, :]
    border[:, 1:] |= label[:, 1:] != label[:, :-1]
    border[:, :-1] |= label[:, 1:] != label[:, :-1]
    label[border] = 255
    return np.clip(img, 0, 255).astype(np.uint8), label


def generate_shapes5i(root: str, seed: int = 0, num_train: int = 2000, num_val: int = 600,
                      img_size: int = 96) -> Dict:
    """Write Shapes-5i under ``root`` unless a complete copy with the same parameters is there.

    The tree is built in a temporary sibling folder and renamed into place, so a crash never
    leaves a half-written dataset and concurrent processes (distributed runs) are safe.

    Args:
        root (str): Target folder (``JPEGImages/``, ``SegmentationClassAug/``, ``lists/``).
        seed (int): Generator seed. Train and val images use independent streams of it.
        num_train (int): Number of training images.
        num_val (int): Number of validation images.
        img_size (int): Side of the square images in pixels.

    Returns:
        dict: The parameters recorded in ``root/meta.json``.
    """
    params = dict(generator_version=GENERATOR_VERSION, seed=seed, num_train=num_train,
                  num_val=num_val, img_size=img_size, classes=list(SHAPES5I_CLASSES))
    meta_path = osp.join(root, 'meta.json')
    if osp.isfile(meta_path):
        with open(meta_path) as f:
            found = json.load(f)
        if found != params:
            raise FileExistsError(
                f'{root} holds a Shapes-5i copy made with other parameters ({found}); '
                f'expected {params}. Use another data_root or delete that folder.')
        return params
    if osp.exists(root) and os.listdir(root):
        raise FileExistsError(f'{root} exists, is not empty and has no meta.json: refusing to '
                              'write Shapes-5i into it.')
    parent = osp.dirname(osp.abspath(root))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix='.shapes5i-tmp-', dir=parent)
    try:
        for sub in ('JPEGImages', 'SegmentationClassAug', 'lists'):
            os.makedirs(osp.join(tmp, sub))
        for split, count, stream in (('train', num_train, 0), ('val', num_val, 1)):
            rng = np.random.default_rng([seed, stream])
            lines = []
            for i in range(count):
                name = f'{split}_{i:05d}'
                img, label = _render(rng, img_size)
                Image.fromarray(img).save(osp.join(tmp, 'JPEGImages', f'{name}.jpg'),
                                          quality=95)
                Image.fromarray(label).save(osp.join(tmp, 'SegmentationClassAug', f'{name}.png'))
                lines.append(f'JPEGImages/{name}.jpg SegmentationClassAug/{name}.png')
            with open(osp.join(tmp, 'lists', f'{split}.txt'), 'w') as f:
                f.write('\n'.join(lines) + '\n')
        with open(osp.join(tmp, 'meta.json'), 'w') as f:
            json.dump(params, f, indent=1)
        if osp.isdir(root) and not os.listdir(root):
            os.rmdir(root)
        try:
            os.rename(tmp, root)
        except OSError:
            # Another process finished first; its copy is identical (same parameters).
            if not osp.isfile(meta_path):
                raise
    finally:
        if osp.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    return params
