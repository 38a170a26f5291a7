"""Write COCO-20i label maps (PNG) from COCO 2014 instance annotations, with pycocotools.

    python tools/dataset_converters/coco20i.py data/coco [--splits train val]

For each split, reads ``<coco_root>/annotations/instances_{split}2014.json`` and writes one
single-channel PNG per image to ``<coco_root>/annotations/{split}2014/<file stem>.png``, the
tree :class:`mmfss.datasets.COCO20iDataset` reads:

* 0 background, 1..80 the categories in ascending category-id order (the order of
  :data:`mmfss.datasets.COCO_CLASSES`), 255 ignore;
* instances are painted from the largest area to the smallest, so a smaller object lying
  on a larger one stays visible;
* crowd regions (``iscrowd=1``) become 255 where no non-crowd instance is painted.

Images without annotations get an all-background map (they are never eligible as episodes).
Images missing from ``<coco_root>/{split}2014/`` are counted in the summary. Existing outputs
are refused unless ``--overwrite`` or ``--skip-existing``; each file is written atomically.
"""
import argparse
import os.path as osp
import sys
from functools import partial

import numpy as np

IGNORE = 255


def label_map(coco, img_info: dict, cat_to_label: dict) -> np.ndarray:
    """The [H, W] uint8 label map of one image."""
    h, w = img_info['height'], img_info['width']
    label = np.zeros((h, w), np.uint8)
    crowd = np.zeros((h, w), bool)
    anns = coco.loadAnns(coco.getAnnIds(imgIds=img_info['id'], iscrowd=None))
    for ann in sorted(anns, key=lambda a: -a['area']):
        if ann['category_id'] not in cat_to_label:
            raise ValueError(f'annotation {ann["id"]} of image {img_info["file_name"]} has '
                             f'unknown category {ann["category_id"]}')
        mask = coco.annToMask(ann).astype(bool)
        if ann.get('iscrowd', 0):
            crowd |= mask
        else:
            label[mask] = cat_to_label[ann['category_id']]
    label[crowd & (label == 0)] = IGNORE
    return label


_COCO = {}


def _convert(img_id: int, ann_file: str, out_dir: str, overwrite: bool) -> str:
    coco = _load(ann_file)
    cats = sorted(coco.getCatIds())
    info = coco.loadImgs(img_id)[0]
    stem = osp.splitext(info['file_name'])[0]
    label = label_map(coco, info, {c: i + 1 for i, c in enumerate(cats)})
    from mmfss.utils import save_png
    save_png(osp.join(out_dir, stem + '.png'), label, overwrite=overwrite)
    return stem


def _load(ann_file: str):
    """One COCO object per process (worker processes load it once)."""
    if ann_file not in _COCO:
        from pycocotools.coco import COCO
        try:
            coco = COCO(ann_file)
        except (OSError, ValueError, KeyError) as err:
            raise ValueError(f'cannot read COCO annotations {ann_file}: {err}') from err
        if len(coco.getCatIds()) != 80:
            raise ValueError(f'{ann_file} has {len(coco.getCatIds())} categories, expected the '
                             '80 of COCO')
        _COCO[ann_file] = coco
    return _COCO[ann_file]


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('coco_root', help='folder holding annotations/ and {train,val}2014/')
    parser.add_argument('--splits', nargs='+', default=['train', 'val'],
                        choices=['train', 'val'])
    group = parser.add_mutually_exclusive_group()
    group.add_argument('--overwrite', action='store_true', help='replace existing outputs')
    group.add_argument('--skip-existing', action='store_true', help='keep existing outputs')
    parser.add_argument('--nproc', type=int, default=1, help='worker processes')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    import mmengine
    if args.nproc < 1:
        sys.exit(f'error: --nproc must be >= 1, got {args.nproc}')
    for split in args.splits:
        ann_file = osp.join(args.coco_root, 'annotations', f'instances_{split}2014.json')
        if not osp.isfile(ann_file):
            sys.exit(f'error: annotation file {ann_file} does not exist')
        try:
            coco = _load(ann_file)
        except ValueError as err:
            sys.exit(f'error: {err}')
        out_dir = osp.join(args.coco_root, 'annotations', f'{split}2014')
        img_dir = osp.join(args.coco_root, f'{split}2014')
        images = coco.loadImgs(sorted(coco.getImgIds()))
        stems = {i['id']: osp.splitext(i['file_name'])[0] for i in images}
        existing = {i for i, s in stems.items() if osp.exists(osp.join(out_dir, s + '.png'))}
        if existing and not (args.overwrite or args.skip_existing):
            sys.exit(f'error: {len(existing)} output(s) already exist in {out_dir} (e.g. '
                     f'{stems[min(existing)]}.png); pass --overwrite or --skip-existing')
        todo = [i for i in stems if not (args.skip_existing and i in existing)]
        print(f'{split}2014: {len(images)} images, {len(coco.getAnnIds())} annotations')
        fn = partial(_convert, ann_file=ann_file, out_dir=out_dir, overwrite=args.overwrite)
        if args.nproc > 1:
            mmengine.track_parallel_progress(fn, todo, args.nproc)
        else:
            mmengine.track_progress(fn, todo)
        missing = [i['file_name'] for i in images
                   if not osp.isfile(osp.join(img_dir, i['file_name']))]
        empty = sum(1 for i in images if not coco.getAnnIds(imgIds=i['id'], iscrowd=None))
        print(f'\n{split}2014: wrote {len(todo)} label maps to {out_dir}; '
              f'{len(existing) if args.skip_existing else 0} existing kept; '
              f'{empty} images without annotations (all background); '
              f'{len(missing)} images missing from {img_dir}'
              + (f' (e.g. {missing[0]})' if missing else ''))
    return 0


if __name__ == '__main__':
    sys.exit(main())
