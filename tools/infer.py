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
prediction).

Masks are read by mmfss's mask reader (``mmfss/datasets/mask_reader.py``): 0/255 and 0/1
masks, VOC-style masks (object value + 255 border = ignore), RGBA with a meaningful alpha,
colour masks (non-black = object), JPEGs (thresholded at mid-grey), 1- and 16-bit PNGs. An
ambiguous mask (a label map with several object values) is an error that names it: choose
the object with ``--mask-value V`` (or ``R,G,B``) or ``--mask-threshold T``. The reading
of each support is printed. Bad input prints one ``error:`` line and exits with status 2
(``MMFSS_TRACEBACK=1`` shows the traceback instead).

A query or support file that cannot be read (damaged, truncated, not an image, larger than
``--max-pixels``, checked on its header before decoding) is named in one ``skipped:`` line
and the others are segmented and written; a summary follows and the exit status is 1.
``--stop-on-error`` stops at the first such file instead (exit status 2, nothing written
for the queries after it).
"""
import argparse
import os
import os.path as osp
import sys
import warnings


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
    parser.add_argument('--mask-value', metavar='V|R,G,B',
                        help='the object is the pixels of this value (or colour) in every '
                        'support mask')
    parser.add_argument('--mask-threshold', type=float, metavar='T',
                        help='the object is the pixels whose grey level is >= T')
    parser.add_argument('--background-rule', choices=['mean', 'threshold'],
                        help="N-way background decision (default: the config's "
                        'test_cfg.background_rule)')
    parser.add_argument('--fg-threshold', type=float, metavar='P',
                        help="foreground probability of --background-rule threshold "
                        "(default: the config's test_cfg.fg_threshold)")
    parser.add_argument('--max-pixels', type=float, default=100, metavar='MP',
                        help='largest image or mask accepted, in megapixels, read from the '
                        'file header before decoding (default 100)')
    parser.add_argument('--stop-on-error', action='store_true',
                        help='stop at the first file that cannot be read (default: name it, '
                        'go on with the others, exit status 1)')
    args = parser.parse_args(argv)
    if not args.max_pixels > 0:
        parser.error(f'--max-pixels must be > 0, got {args.max_pixels}')
    if bool(args.support) == bool(args.support_dir):
        parser.error('give the supports with --support IMAGE MASK (repeatable) or '
                     '--support-dir DIR, not both and not neither')
    if args.batch_size < 1:
        parser.error(f'--batch-size must be >= 1, got {args.batch_size}')
    if args.mask_value is not None and args.mask_threshold is not None:
        parser.error('give --mask-value or --mask-threshold, not both')
    if args.fg_threshold is not None and not 0 < args.fg_threshold < 1:
        parser.error(f'--fg-threshold must be in (0, 1), got {args.fg_threshold}')
    return args


def pairs_in_folder(folder):
    """(image, mask) pairs of a folder: every ``X.<ext>`` with its ``X_mask.<ext>``."""
    from mmfss.apis.few_shot_inferencer import IMAGE_EXTENSIONS, MASK_SUFFIX
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
    """Query files: folders listed as the API lists them (``list_images``)."""
    from mmfss.apis.few_shot_inferencer import list_images
    queries = []
    for path in paths:
        if osp.isdir(path):
            queries += list_images(path)
        elif osp.isfile(path):
            queries.append(path)
        else:
            raise FileNotFoundError(f'query {path} does not exist')
    return queries


_show_warning = warnings.showwarning


def _print_warning(message, category, filename, lineno, file=None, line=None):
    """Mask-reading warnings as one ``warning:`` line; others as Python prints them."""
    if category.__name__ == 'MaskReadingWarning':
        print(f'warning: {message}', file=sys.stderr)
    else:
        _show_warning(message, category, filename, lineno, file, line)


def run(args):
    import numpy as np

    from mmfss.apis import FewShotInferencer
    from mmfss.datasets.mask_reader import parse_mask_value
    from mmfss.utils import check_checkpoint_file, check_config_file, check_device
    check_config_file(args.config)
    check_checkpoint_file(args.checkpoint)
    check_device(args.device)
    mask_value = None if args.mask_value is None else parse_mask_value(args.mask_value)
    supports, class_name = collect_supports(args)
    queries = collect_queries(args.query)
    skip = not args.stop_on_error
    inferencer = FewShotInferencer(args.config, args.checkpoint, device=args.device,
                                   background_rule=args.background_rule,
                                   fg_threshold=args.fg_threshold,
                                   max_pixels=int(args.max_pixels * 1e6))
    support_set = inferencer.encode_supports(supports, class_name, mask_value=mask_value,
                                             mask_threshold=args.mask_threshold,
                                             skip_unreadable=skip)
    for message in support_set.skipped:
        print(f'skipped: {message}', file=sys.stderr)
    for reading in (r for group in support_set.readings for r in group):
        print(f'{reading.source}: {reading.rule} ({reading.coverage:.1%} object)')
    result = inferencer(queries, support_set, batch_size=args.batch_size,
                        out_dir=args.out_dir, panels=args.panels, skip_unreadable=skip)
    for _, message in result['failed']:
        print(f'skipped: {message}', file=sys.stderr)
    names = [n or 'foreground' for n in result['class_names']]
    shares = [np.mean([float((m == way).mean()) for m in result['masks']]) if result['masks']
              else 0.0 for way in range(1, len(names) + 1)]
    print(f'{len(result["masks"])} queries, {support_set.encoding.shot} shot(s) of '
          f'{len(names)} class(es); mean area: '
          + ', '.join(f'{n} {s:.1%}' for n, s in zip(names, shares)))
    if result['masks']:
        print(f'predictions in {osp.join(args.out_dir, "pred")}, overlays in '
              f'{osp.join(args.out_dir, "vis")}')
    failed = [osp.basename(str(q)) for q, _ in result['failed']]
    problems = []
    if failed:
        problems.append(f'{len(failed)} of {len(queries)} queries could not be read: '
                        + ', '.join(failed))
    if support_set.skipped:
        problems.append(f'{len(support_set.skipped)} support(s) could not be read and were '
                        'left out')
    for line in problems:
        print(line, file=sys.stderr)
    return 1 if problems else 0


def main(argv=None):
    args = parse_args(argv)
    from mmfss.utils.tool_checks import run_tool
    with warnings.catch_warnings():
        warnings.showwarning = _print_warning
        return run_tool(lambda: run(args))


if __name__ == '__main__':
    sys.exit(main())
