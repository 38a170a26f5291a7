"""Convert a trained FoundationFSS model for mmfss.

    python tools/model_converters/foundationfss2mmfss.py SRC DST

SRC is a checkpoint of FoundationFSS's code (DUT-CSJ/FoundationFSS ``best_model.pt``:
``{'net': ...}`` with DataParallel's ``module.`` prefix, DINOv2 ViT-B/14 and the 4D learner).
DST holds the weights of ``configs/foundationfss`` (the DINOv2 backbone and
``LayerCorrelationHead``); every key is mapped and an unknown key stops the conversion naming
it. See ``mmfss/utils/reference_weights.py``.
"""
import argparse
import sys


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__)
    parser.add_argument('src', help='a FoundationFSS checkpoint')
    parser.add_argument('dst', help='output file, e.g. pretrain/foundationfss_dinov2_pascal_fold0.pth')
    return parser.parse_args(argv)


def run(args):
    from mmfss.utils.reference_weights import convert_file, convert_foundationfss
    convert_file(args.src, args.dst, convert_foundationfss)
    return 0


def main(argv=None):
    args = parse_args(argv)
    from mmfss.utils.tool_checks import run_tool
    return run_tool(lambda: run(args))


if __name__ == '__main__':
    sys.exit(main())
