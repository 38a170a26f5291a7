# Convert one of HSNet's COCO-20i split files (data/splits/coco/<trn|val>/fold<i>.pkl in
# juhongm999/hsnet) to the text file COCO20iDataset(protocol='hsnet', hsnet_split_file=...) reads.
#
#   python tools/dataset_converters/hsnet_coco_splits.py HSNET/data/splits/coco/val/fold0.pkl \
#       data/coco/hsnet_val_fold0.txt
#
# HSNet's pickle maps each 0-based class id of the fold to a list of image paths
# ('val2014/COCO_val2014_000000000139.jpg'); the text file keeps HSNet's order and writes one
# '<class id 1..80><TAB><image name>' line per entry, the name being mmfss's sample name (the
# file name without folder and extension). Only open pickles you trust: loading one runs code.
import argparse
import os.path as osp
import pickle


def convert(src: str, dst: str) -> int:
    """Write ``dst`` from HSNet's pickle ``src``; returns the number of lines written."""
    with open(src, 'rb') as f:
        classwise = pickle.load(f)
    if not isinstance(classwise, dict):
        raise ValueError(f'{src}: expected a dict of class id -> image paths, got '
                         f'{type(classwise).__name__}')
    lines = []
    for class_id, paths in classwise.items():
        if not (isinstance(class_id, int) and 0 <= class_id < 80):
            raise ValueError(f'{src}: class key {class_id!r} is not a 0-based COCO class id')
        for path in paths:
            lines.append(f'{class_id + 1}\t{osp.splitext(osp.basename(path))[0]}\n')
    with open(dst, 'w') as f:
        f.writelines(lines)
    return len(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('src', help="HSNet's data/splits/coco/<split>/fold<i>.pkl")
    parser.add_argument('dst', help='text file to write')
    args = parser.parse_args()
    if not osp.isfile(args.src):
        raise FileNotFoundError(f'{args.src} does not exist')
    print(f'{convert(args.src, args.dst)} entries written to {args.dst}')


if __name__ == '__main__':
    main()
