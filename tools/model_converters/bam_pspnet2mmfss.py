"""Convert a BAM PSPNet base learner (initmodel/PSPNet/<data>/split<i>/resnet50/best.pth).

    python tools/model_converters/bam_pspnet2mmfss.py SRC DST

BAM (chunbolang/BAM) releases the PSPNets it trains on each fold's base classes as its base
learners; DOTGraph (supplement §2.1/§2.3) and PI-CLIP ensemble with the same files. DST is an
mmseg PSPNet checkpoint (``backbone.*``: ``ResNetV1c(stem_channels=128,
contract_dilation=False)``, ``decode_head.*``: ``PSPHead``), what ``configs/base_learner``
trains; the DOTGraph configs load it from ``pretrain/bam_pspnet_resnet50_<data>_split<i>.pth``.
See ``mmfss/utils/reference_weights.py``.
"""
import argparse
import sys


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__)
    parser.add_argument('src', help="BAM's best.pth of a fold's base learner")
    parser.add_argument('dst', help='output, e.g. pretrain/bam_pspnet_resnet50_pascal_split0.pth')
    return parser.parse_args(argv)


def run(args):
    from mmfss.utils.reference_weights import convert_file
    from mmfss.utils.reference_weights import convert_bam_pspnet
    convert_file(args.src, args.dst, convert_bam_pspnet)
    return 0


def main(argv=None):
    args = parse_args(argv)
    from mmfss.utils.tool_checks import run_tool
    return run_tool(lambda: run(args))


if __name__ == '__main__':
    sys.exit(main())
