"""Build PASCAL VOC 2012's SBD-augmented labels, SegmentationClassAug/*.png.

    python tools/dataset_converters/voc_aug.py VOCdevkit/VOC2012 benchmark_RELEASE/dataset

Reads every SBD label (``<sbd_root>/cls/*.mat``, the ``GTcls.Segmentation`` field) and every
VOC 2012 label (``<voc_root>/SegmentationClass/*.png``, palette indices) and writes one
single-channel PNG per image (0 background, 1..20 classes, 255 ignore) to
``<voc_root>/SegmentationClassAug`` (``--out-dir``). Where both exist, the VOC label wins:
it is the official annotation, with its 255 object boundaries, and the one PASCAL-5i is
evaluated on (the SegmentationClassAug set PFENet and HSNet use is built the same way).

Existing outputs are refused unless ``--overwrite`` (replace) or ``--skip-existing``
(keep; for resuming an interrupted run). Every file is written atomically; a bad input file
stops the run with its name.
"""
import argparse
import glob
import os.path as osp
import sys
from functools import partial

import numpy as np
from PIL import Image

NUM_CLASSES = 20


def read_sbd_mat(path: str) -> np.ndarray:
    """The class label map of one SBD ``cls/*.mat`` file, as uint8 [H, W]."""
    from scipy.io import loadmat
    try:
        mat = loadmat(path, squeeze_me=True, struct_as_record=False)
        seg = np.asarray(mat['GTcls'].Segmentation)
    except Exception as err:  # scipy raises MatReadError, KeyError, ... on bad files
        raise ValueError(f'{path} is not an SBD class label file (GTcls.Segmentation): '
                         f'{err}') from err
    return seg


def read_voc_png(path: str) -> np.ndarray:
    """The class indices of one VOC ``SegmentationClass`` PNG, as [H, W]."""
    try:
        with Image.open(path) as img:
            if img.mode not in ('P', 'L'):
                raise ValueError(f'mode {img.mode}, expected a palette (P) or grey (L) image')
            return np.asarray(img)
    except (OSError, ValueError, SyntaxError) as err:
        raise ValueError(f'cannot read VOC label {path}: {err}') from err


def convert_one(job, out_dir: str, overwrite: bool) -> str:
    name, source, path = job
    label = read_sbd_mat(path) if source == 'sbd' else read_voc_png(path)
    if label.ndim != 2:
        raise ValueError(f'{path}: expected a 2-D label map, got shape {label.shape}')
    values = np.unique(label)
    bad = [int(v) for v in values if v > NUM_CLASSES and v != 255]
    if bad or (values < 0).any():
        raise ValueError(f'{path}: label values {bad or values.tolist()} outside 0..20 and 255')
    from mmfss.utils import save_png
    save_png(osp.join(out_dir, name + '.png'), label.astype(np.uint8), overwrite=overwrite)
    return source


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('voc_root', help='VOC2012 folder (holds SegmentationClass/)')
    parser.add_argument('sbd_root', help='SBD dataset folder (holds cls/*.mat)')
    parser.add_argument('--out-dir', help='default: <voc_root>/SegmentationClassAug')
    group = parser.add_mutually_exclusive_group()
    group.add_argument('--overwrite', action='store_true', help='replace existing outputs')
    group.add_argument('--skip-existing', action='store_true', help='keep existing outputs')
    parser.add_argument('--nproc', type=int, default=1, help='worker processes')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    import mmengine
    voc_dir = osp.join(args.voc_root, 'SegmentationClass')
    sbd_dir = osp.join(args.sbd_root, 'cls')
    for folder in (voc_dir, sbd_dir):
        if not osp.isdir(folder):
            sys.exit(f'error: folder {folder} does not exist')
    if args.nproc < 1:
        sys.exit(f'error: --nproc must be >= 1, got {args.nproc}')
    out_dir = args.out_dir or osp.join(args.voc_root, 'SegmentationClassAug')
    jobs = {}
    for path in sorted(glob.glob(osp.join(sbd_dir, '*.mat'))):
        name = osp.splitext(osp.basename(path))[0]
        jobs[name] = (name, 'sbd', path)
    for path in sorted(glob.glob(osp.join(voc_dir, '*.png'))):
        name = osp.splitext(osp.basename(path))[0]
        jobs[name] = (name, 'voc', path)  # the official VOC label wins
    if not jobs:
        sys.exit(f'error: no labels found in {voc_dir} or {sbd_dir}')
    existing = [n for n in jobs if osp.exists(osp.join(out_dir, n + '.png'))]
    if existing and not (args.overwrite or args.skip_existing):
        sys.exit(f'error: {len(existing)} output(s) already exist in {out_dir} (e.g. '
                 f'{existing[0]}.png); pass --overwrite or --skip-existing')
    todo = [j for n, j in sorted(jobs.items()) if not (args.skip_existing and n in existing)]
    fn = partial(convert_one, out_dir=out_dir, overwrite=args.overwrite)
    if args.nproc > 1:
        sources = mmengine.track_parallel_progress(fn, todo, args.nproc)
    else:
        sources = mmengine.track_progress(fn, todo)
    n_voc, n_sbd = sources.count('voc'), sources.count('sbd')
    print(f'\nwrote {len(todo)} label maps to {out_dir}: {n_voc} from VOC2012 '
          f'SegmentationClass, {n_sbd} from SBD cls; '
          f'{len(existing) if args.skip_existing else 0} existing kept')
    return 0


if __name__ == '__main__':
    sys.exit(main())
