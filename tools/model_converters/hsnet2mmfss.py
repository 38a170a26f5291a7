"""Convert a trained HSNet model for mmfss.

    python tools/model_converters/hsnet2mmfss.py SRC DST

SRC is a checkpoint of HSNet's code (juhongm999/hsnet: the state dict of its DataParallel
model, ``module.backbone.*`` and ``module.hpn_learner.*``, ResNet-50 or -101): one of its
released models (``best_model.pt`` of a log folder) or one you trained with it. DST holds
the weights of ``configs/hsnet``; every key is mapped and an unknown key stops the
conversion naming it. See ``mmfss/utils/reference_weights.py``.
"""
import argparse
import sys


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__)
    parser.add_argument('src', help='an HSNet checkpoint (best_model.pt)')
    parser.add_argument('dst', help='output file, e.g. pretrain/hsnet_resnet50_pascal_fold0.pth')
    return parser.parse_args(argv)


def run(args):
    from mmfss.utils.reference_weights import convert_file, convert_hsnet
    convert_file(args.src, args.dst, convert_hsnet)
    return 0


def main(argv=None):
    args = parse_args(argv)
    from mmfss.utils.tool_checks import run_tool
    return run_tool(lambda: run(args))


if __name__ == '__main__':
    sys.exit(main())
