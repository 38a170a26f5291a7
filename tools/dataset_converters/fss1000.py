"""Check an FSS-1000 tree against the class splits shipped with mmfss and report what is missing.

    python tools/dataset_converters/fss1000.py data/FSS-1000 [--report report.json]

Expected tree: ``<root>/<class>/<n>.jpg`` with its mask ``<n>.png`` (10 images per class in
the official release). For each split (train 520, val 240, test 240 classes) it reports the
missing class folders, the images without a mask, the masks without an image, unreadable
files, and classes with fewer images than ``--expect``. Exits 1 if anything is missing, so
it can gate a job. ``--report`` writes the findings as JSON (atomically; an existing report
is refused unless ``--overwrite``).
"""
import argparse
import glob
import os.path as osp
import sys



def _readable(path: str) -> bool:
    try:
        from mmfss.datasets.label_stats import check_image_file
        check_image_file(path)
        return True
    except OSError:
        return False


def check_class(root: str, name: str, expect: int) -> dict:
    folder = osp.join(root, name)
    if not osp.isdir(folder):
        return dict(missing_folder=True)
    jpgs = {osp.splitext(osp.basename(p))[0] for p in glob.glob(osp.join(folder, '*.jpg'))}
    pngs = {osp.splitext(osp.basename(p))[0] for p in glob.glob(osp.join(folder, '*.png'))}
    found = dict(
        images_without_mask=sorted(f'{name}/{s}.jpg' for s in jpgs - pngs),
        masks_without_image=sorted(f'{name}/{s}.png' for s in pngs - jpgs),
        unreadable=sorted(f'{name}/{s}{ext}' for s in jpgs & pngs for ext in ('.jpg', '.png')
                          if not _readable(osp.join(folder, s + ext))))
    if len(jpgs & pngs) < expect:
        found['too_few_images'] = len(jpgs & pngs)
    return {k: v for k, v in found.items() if v}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('root', help='FSS-1000 folder holding the class folders')
    parser.add_argument('--expect', type=int, default=10, help='images per class')
    parser.add_argument('--report', help='write the findings to this JSON file')
    parser.add_argument('--overwrite', action='store_true', help='replace an existing report')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    import mmengine

    from mmfss.datasets import fss1000_split_classes
    from mmfss.utils import dump_json
    if not osp.isdir(args.root):
        sys.exit(f'error: folder {args.root} does not exist')
    if args.report and osp.exists(args.report) and not args.overwrite:
        sys.exit(f'error: report {args.report} exists; pass --overwrite to replace it')
    splits = fss1000_split_classes()
    report = {}
    for split, names in splits.items():
        print(f'checking the {split} split ({len(names)} classes)')
        problems = {}
        for name in mmengine.track_iter_progress(list(names)):
            found = check_class(args.root, name, args.expect)
            if found:
                problems[name] = found
        report[split] = problems
    listed = {n for names in splits.values() for n in names}
    extra = sorted(d for d in (osp.basename(p) for p in glob.glob(osp.join(args.root, '*')))
                   if osp.isdir(osp.join(args.root, d)) and d not in listed)
    print('\nsummary:')
    ok = True
    for split, problems in report.items():
        folders = sorted(n for n, p in problems.items() if p.get('missing_folder'))
        files = {k: sum(len(p.get(k, [])) for p in problems.values())
                 for k in ('images_without_mask', 'masks_without_image', 'unreadable')}
        few = sorted(n for n, p in problems.items() if 'too_few_images' in p)
        ok &= not (folders or any(files.values()) or few)
        print(f'  {split}: {len(splits[split]) - len(folders)}/{len(splits[split])} class '
              f'folders present' + (f' (missing e.g. {folders[0]})' if folders else '') +
              ''.join(f', {n} {k.replace("_", " ")}' for k, n in files.items()) +
              f', {len(few)} classes with fewer than {args.expect} images')
    if extra:
        print(f'  {len(extra)} folders not in any split (ignored), e.g. {extra[0]}')
    if args.report:
        report['not_in_any_split'] = extra
        dump_json(report, args.report, indent=1)
        print(f'report written to {args.report}')
    print('tree complete' if ok else 'tree INCOMPLETE')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
