"""Segment the class of a few annotated support images in your own query images.

One class (name optional unless the model uses text priors)::

    python tools/infer.py CONFIG CHECKPOINT --support a.jpg a_mask.png \\
        --support b.jpg b_mask.png --query photos/ --class-name bolt --out-dir out/

Several classes at once (N-way): a support folder with one sub-folder per class, named
after the class, each holding ``X.jpg`` images and their ``X_mask.png`` masks::

    python tools/infer.py CONFIG CHECKPOINT --support-dir supports/ --query photos/ \\
        --out-dir out/

Writes ``out/pred/<name>.png`` (0 background, n the n-th class), ``out/vis/<name>.png``
(colour overlay) and, with ``--panels``, ``out/panel/<name>.png`` (supports next to the
prediction). Masks: any non-zero pixel is foreground.
"""
import argparse
import os
import os.path as osp
import sys

import numpy as np

from mmfss.apis import FewShotInferencer
from mmfss.apis.few_shot_inferencer import IMAGE_EXTENSIONS

MASK_SUFFIX = '_mask'


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description='few-shot segmentation of your own images',
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument('config', help='config file of the trained model')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--query', nargs='+', required=True,
                        help='query image(s) and/or folder(s) of images')
    parser.add_argument('--support', nargs=2, action='append', metavar=('IMAGE', 'MASK'),
                        help='a support image and its mask (repeat for K shots)')
    parser.add_argument('--support-dir',
                        help='folder of X.jpg + X_mask.png pairs (one class), or of one '
                        'sub-folder of such pairs per class (N-way; folder names = classes)')
    parser.add_argument('--class-name', help='name of the class (one class; text priors)')
    parser.add_argument('--out-dir', required=True, help='output folder')
    parser.add_argument('--panels', action='store_true',
                        help='also write a panel per query (supports + prediction)')
    parser.add_argument('--batch-size', type=int, default=4, help='queries per forward pass')
    parser.add_argument('--device', default='cpu', help='device, e.g. cpu or cuda:0')
    args = parser.parse_args(argv)
    if bool(args.support) == bool(args.support_dir):
        parser.error('give the supports with --support IMAGE MASK (repeatable) or '
                     '--support-dir DIR, not both and not neither')
    if args.batch_size < 1:
        parser.error(f'--batch-size must be >= 1, got {args.batch_size}')
    return args


def pairs_in_folder(folder):
    """(image, mask) pairs of a folder: every ``X.<ext>`` with its ``X_mask.<ext>``."""
    files = sorted(f for f in os.listdir(folder) if f.lower().endswith(IMAGE_EXTENSIONS))
    stems = {osp.splitext(f)[0]: f for f in files}
    masks = {s[:-len(MASK_SUFFIX)]: f for s, f in stems.items() if s.endswith(MASK_SUFFIX)}
    images = {s: f for s, f in stems.items() if not s.endswith(MASK_SUFFIX)}
    missing = sorted(images[s] for s in images if s not in masks)
    orphans = sorted(masks[s] for s in masks if s not in images)
    if missing:
        raise FileNotFoundError(f'{folder}: no mask for {", ".join(missing)} (expected '
                                f'<name>{MASK_SUFFIX}.png beside each image)')
    if orphans:
        raise FileNotFoundError(f'{folder}: masks without an image: {", ".join(orphans)}')
    if not images:
        raise FileNotFoundError(f'{folder} holds no image + mask pair '
                                f'(<name>.jpg with <name>{MASK_SUFFIX}.png)')
    return [(osp.join(folder, images[s]), osp.join(folder, masks[s])) for s in sorted(images)]


def collect_supports(args):
    if args.support:
        return [tuple(pair) for pair in args.support], args.class_name
    folder = args.support_dir
    if not osp.isdir(folder):
        raise FileNotFoundError(f'--support-dir {folder} is not a folder')
    classes = sorted(d for d in os.listdir(folder) if osp.isdir(osp.join(folder, d)))
    if not classes:
        return pairs_in_folder(folder), args.class_name
    if args.class_name:
        raise ValueError('--class-name is for one class; with class sub-folders in '
                         '--support-dir the folder names are the class names')
    return {c: pairs_in_folder(osp.join(folder, c)) for c in classes}, None


def collect_queries(paths):
    queries = []
    for path in paths:
        if osp.isdir(path):
            found = sorted(f for f in os.listdir(path) if f.lower().endswith(IMAGE_EXTENSIONS)
                           and not osp.splitext(f)[0].endswith(MASK_SUFFIX))
            if not found:
                raise FileNotFoundError(f'query folder {path} holds no image')
            queries += [osp.join(path, f) for f in found]
        elif osp.isfile(path):
            queries.append(path)
        else:
            raise FileNotFoundError(f'query {path} does not exist')
    return queries


def main(argv=None):
    args = parse_args(argv)
    try:
        for name, path in (('config', args.config), ('checkpoint', args.checkpoint)):
            if not osp.isfile(path):
                raise FileNotFoundError(f'{name} file {path} does not exist')
        supports, class_name = collect_supports(args)
        queries = collect_queries(args.query)
        inferencer = FewShotInferencer(args.config, args.checkpoint, device=args.device)
        support_set = inferencer.encode_supports(supports, class_name)
        result = inferencer(queries, support_set, batch_size=args.batch_size,
                            out_dir=args.out_dir, panels=args.panels)
    except (FileNotFoundError, ValueError, TypeError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    names = [n or 'foreground' for n in result['class_names']]
    shares = [np.mean([float((m == way).mean()) for m in result['masks']])
              for way in range(1, len(names) + 1)]
    print(f'{len(queries)} queries, {support_set.encoding.shot} shot(s) of '
          f'{len(names)} class(es); mean area: '
          + ', '.join(f'{n} {s:.1%}' for n, s in zip(names, shares)))
    print(f'predictions in {osp.join(args.out_dir, "pred")}, overlays in '
          f'{osp.join(args.out_dir, "vis")}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
