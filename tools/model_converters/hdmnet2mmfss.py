"""Convert a trained HDMNet (or PI-CLIP) model for mmfss.

    python tools/model_converters/hdmnet2mmfss.py SRC DST

SRC is a checkpoint of HDMNet's code (Pbihao/HDMNet ``OneModel``, ``{'state_dict': ...}``
with DataParallel's ``module.`` prefix, ResNet-50): one of its released COCO-20i models or one
you trained with it (PI-CLIP's checkpoints hold the same modules plus its CLIP copy, which is
skipped: mmfss loads CLIP from its own file). DST holds the weights of ``configs/hdmnet``
(backbone, base learner, hierarchical matching transformer, ``gram_merge``, ``cls_merge``,
``kshot_rw``); every key is mapped and an unknown key stops the conversion naming it. See
``mmfss/utils/reference_weights.py``.
"""
import argparse
import sys


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__)
    parser.add_argument('src', help='an HDMNet checkpoint')
    parser.add_argument('dst', help='output file, e.g. pretrain/hdmnet_resnet50_coco_split0_1shot.pth')
    return parser.parse_args(argv)


def run(args):
    from mmfss.utils.reference_weights import convert_file, convert_hdmnet
    convert_file(args.src, args.dst, convert_hdmnet)
    return 0


def main(argv=None):
    args = parse_args(argv)
    from mmfss.utils.tool_checks import run_tool
    return run_tool(lambda: run(args))


if __name__ == '__main__':
    sys.exit(main())
