"""Convert a trained BAM model for mmfss.

    python tools/model_converters/bam2mmfss.py SRC DST

SRC is a checkpoint of BAM's code (chunbolang/BAM ``OneModel``, ``{'state_dict': ...}`` with
DataParallel's ``module.`` prefix, ResNet-50): one of its released models or one you trained
with it. DST holds the weights of ``configs/bam`` (backbone, base learner, meta learner,
``gram_merge``, ``cls_merge``, ``kshot_rw``); every key is mapped and an unknown key stops the
conversion naming it. BAM's base-learner PSPNets alone convert with bam_pspnet2mmfss.py. See
``mmfss/utils/reference_weights.py``.
"""
import argparse
import sys


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__)
    parser.add_argument('src', help='a BAM checkpoint')
    parser.add_argument('dst', help='output file, e.g. pretrain/bam_resnet50_pascal_split0_1shot.pth')
    return parser.parse_args(argv)


def run(args):
    from mmfss.utils.reference_weights import convert_bam, convert_file
    convert_file(args.src, args.dst, convert_bam)
    return 0


def main(argv=None):
    args = parse_args(argv)
    from mmfss.utils.tool_checks import run_tool
    return run_tool(lambda: run(args))


if __name__ == '__main__':
    sys.exit(main())
