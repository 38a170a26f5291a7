"""Small dataset trees in the benchmarks' exact on-disk formats, generated for the tests."""
import json
import os

import numpy as np
from PIL import Image


def save_label(path, label):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(label).save(path)


def voc_tree(root, n=24, size=(100, 120)):
    """A small VOC2012 tree: image i holds class (i % 20) + 1 on a 50x50 block (2500 px) and
    class ((i + 7) % 20) + 1 on a 40x40 block (1600 px, below the 2048 threshold)."""
    (root / 'JPEGImages').mkdir(parents=True)
    (root / 'SegmentationClassAug').mkdir()
    lines = []
    rng = np.random.default_rng(0)
    for i in range(n):
        name = f'2008_{i:06d}'
        img = rng.integers(0, 255, (*size, 3), dtype=np.uint8)
        label = np.zeros(size, np.uint8)
        label[:50, :50] = i % 20 + 1
        label[60:100, 60:100] = (i + 7) % 20 + 1
        label[50, :] = 255
        Image.fromarray(img).save(root / 'JPEGImages' / f'{name}.jpg')
        Image.fromarray(label).save(root / 'SegmentationClassAug' / f'{name}.png')
        lines.append(f'JPEGImages/{name}.jpg SegmentationClassAug/{name}.png')
    (root / 'list.txt').write_text('\n'.join(lines) + '\n')
    return lines


def coco_name(split, i):
    return f'COCO_{split}2014_{i:012d}'


def coco_tree(root, split='val', n=160, size=(60, 64)):
    """A COCO-20i tree as the converter writes it: image i holds class (i % 80) + 1 on a
    50x50 block (2500 px), so every class has n / 80 images; a 255 border row."""
    rng = np.random.default_rng(1)
    os.makedirs(root / f'{split}2014', exist_ok=True)
    for i in range(n):
        name = coco_name(split, i)
        label = np.zeros(size, np.uint8)
        label[5:55, 5:55] = i % 80 + 1
        label[0, :] = 255
        Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)).save(
            root / f'{split}2014' / f'{name}.jpg')
        save_label(str(root / 'annotations' / f'{split}2014' / f'{name}.png'), label)


def fss_tree(root, classes, n_images=3, size=(32, 32), rgb_masks=False):
    """An FSS-1000 tree: <root>/<class>/<k>.jpg with a grey (or RGB) mask <k>.png; mask k has
    a (k+3)x(k+3) foreground block at 255 and an anti-aliased rim at 100 (below 128)."""
    rng = np.random.default_rng(2)
    for c in classes:
        os.makedirs(root / c, exist_ok=True)
        for k in range(1, n_images + 1):
            Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)).save(
                root / c / f'{k}.jpg')
            mask = np.zeros(size, np.uint8)
            mask[1:k + 5, 1:k + 5] = 100
            mask[2:k + 5, 2:k + 5] = 255
            if rgb_masks:
                mask = np.stack([mask] * 3, -1)
            Image.fromarray(mask).save(root / c / f'{k}.png')


def coco_instances_json(path, images, annotations, categories):
    """Write a COCO instances JSON."""
    with open(path, 'w') as f:
        json.dump(dict(images=images, annotations=annotations, categories=categories), f)


def voc_protocol_tree(root, n=40, seed=3):
    """A VOC2012 tree for the protocol tests: images of varied sizes (60..140 a side), each
    with one to three class blocks of random classes and sizes (some under 2*32*32 pixels, so
    a class can be present but not eligible) and a 255 boundary row; returns the list lines."""
    (root / 'JPEGImages').mkdir(parents=True)
    (root / 'SegmentationClassAug').mkdir()
    rng = np.random.default_rng(seed)
    lines = []
    for i in range(n):
        name = f'2009_{i:06d}'
        h, w = (int(v) for v in rng.integers(60, 141, 2))
        label = np.zeros((h, w), np.uint8)
        for k in range(int(rng.integers(1, 4))):
            c = int(rng.integers(1, 11))  # classes 1..10: folds 0 and 1 have many
            bh, bw = int(rng.integers(15, h)), int(rng.integers(15, w))
            y, x = int(rng.integers(0, h - min(bh, h) + 1)), int(rng.integers(0, w - min(bw, w) + 1))
            label[y:y + bh, x:x + bw] = c
        label[h // 2, :] = 255
        img = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
        Image.fromarray(img).save(root / 'JPEGImages' / f'{name}.jpg')
        Image.fromarray(label).save(root / 'SegmentationClassAug' / f'{name}.png')
        lines.append(f'JPEGImages/{name}.jpg SegmentationClassAug/{name}.png')
    (root / 'list.txt').write_text('\n'.join(lines) + '\n')
    return lines


def ade_tree(root, n=100, size=(64, 102), split='training'):
    """An ADE20K tree (mmseg's layout, ``reduce_zero_label``: raw 0 = other, raw v = class
    v-1): image i holds raw values ``(3i + j) % 150 + 1`` on three 34-px stripes j (2142 px
    each after the top row, which is raw 0), so every one of the 150 classes is in two
    images with 100 images."""
    rng = np.random.default_rng(4)
    os.makedirs(root / 'images' / split, exist_ok=True)
    for i in range(n):
        label = np.zeros(size, np.uint8)
        for j in range(3):
            label[:, 34 * j:34 * (j + 1)] = (3 * i + j) % 150 + 1
        label[0, :] = 0
        name = f'ADE_{split}_{i:08d}'
        Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)).save(
            root / 'images' / split / f'{name}.jpg')
        save_label(str(root / 'annotations' / split / f'{name}.png'), label)


def class_folder_tree(root, classes, n_images=3, size=(32, 32)):
    """A class-folder tree: <root>/<class>/<k>.jpg with a 0/255 mask <k>_mask.png whose
    object is a (k+4)x(k+4) block."""
    rng = np.random.default_rng(5)
    for c in classes:
        os.makedirs(root / c, exist_ok=True)
        for k in range(n_images):
            Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)).save(
                root / c / f'{k:04d}.jpg')
            mask = np.zeros(size, np.uint8)
            mask[2:k + 6, 3:k + 7] = 255
            Image.fromarray(mask).save(root / c / f'{k:04d}_mask.png')
