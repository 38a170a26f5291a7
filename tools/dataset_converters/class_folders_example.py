"""Write an example "own data" tree in the class-folder layout, from the embedded Shapes-5i.

    python tools/dataset_converters/class_folders_example.py data/my_classes [--per-class 40]

Writes ``OUT/<class>/<n>.jpg`` with its mask ``OUT/<class>/<n>_mask.png`` (0 background,
255 object: the format most annotation tools export) for the 20 Shapes-5i classes, taking
each class's images from a generated Shapes-5i copy (the object of the folder's class is
the mask; other shapes in the image are background). This is the layout
``ClassFolderDataset`` reads (docs/own_data.md walks through training, testing and
inference on it). Deterministic: the same arguments write the same files.
"""
import argparse
import os
import os.path as osp
import shutil
import sys
import tempfile


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__)
    parser.add_argument('out', help='folder to write (must not exist or be empty)')
    parser.add_argument('--per-class', type=int, default=40,
                        help='images per class (default 40)')
    parser.add_argument('--min-pixels', type=int, default=128,
                        help='pixels the object must cover in an image (default 128)')
    parser.add_argument('--seed', type=int, default=0, help='Shapes-5i data seed')
    args = parser.parse_args(argv)
    if args.per_class < 2:
        parser.error(f'--per-class must be >= 2, got {args.per_class}')
    return args


def write_example(out: str, per_class: int = 40, min_pixels: int = 128, seed: int = 0) -> dict:
    """Write the tree; return ``{class name: number of images}``."""
    import numpy as np
    from PIL import Image

    from mmfss.datasets import SHAPES5I_CLASSES, generate_shapes5i
    if osp.isdir(out) and os.listdir(out):
        raise FileExistsError(f'{out} exists and is not empty')
    parent = osp.dirname(osp.abspath(out))
    os.makedirs(parent, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=parent) as tmp:
        src = osp.join(tmp, 'shapes5i')
        dst = osp.join(tmp, 'out')  # renamed to `out` once complete
        # enough images for every class to reach per_class (each image holds 1-3 classes,
        # about 10% of the images hold a given class)
        generate_shapes5i(src, seed=seed, num_train=max(400, 20 * per_class), num_val=0)
        with open(osp.join(src, 'lists', 'train.txt')) as f:
            pairs = [line.split() for line in f if line.strip()]
        todo = {c: per_class for c in range(1, len(SHAPES5I_CLASSES) + 1)}
        for img_rel, seg_rel in pairs:
            label = np.asarray(Image.open(osp.join(src, seg_rel)))
            for c in [c for c, n in todo.items() if n > 0]:
                if (label == c).sum() < min_pixels:
                    continue
                folder = osp.join(dst, SHAPES5I_CLASSES[c - 1])
                os.makedirs(folder, exist_ok=True)
                index = per_class - todo[c]
                shutil.copy(osp.join(src, img_rel), osp.join(folder, f'{index:04d}.jpg'))
                Image.fromarray((label == c).astype(np.uint8) * 255).save(
                    osp.join(folder, f'{index:04d}_mask.png'))
                todo[c] -= 1
            if not any(todo.values()):
                break
        short = {SHAPES5I_CLASSES[c - 1]: per_class - n for c, n in todo.items() if n}
        if short:
            raise RuntimeError(f'only {short} images (of --per-class {per_class}) found for '
                               'these classes; lower --per-class or --min-pixels')
        if osp.isdir(out):
            os.rmdir(out)  # empty, checked above
        os.replace(dst, out)
    return {name: per_class for name in SHAPES5I_CLASSES}


def main(argv=None):
    args = parse_args(argv)
    try:
        counts = write_example(args.out, args.per_class, args.min_pixels, args.seed)
    except (FileExistsError, RuntimeError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    print(f'{len(counts)} class folders with {args.per_class} image + mask pairs each in '
          f'{args.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
