"""Convert PFENet's ImageNet ResNet (resnet50_v2.pth / resnet101_v2.pth) for mmfss.

    python tools/model_converters/pfenet_resnet2mmfss.py SRC DST

PFENet (dvlab-research/PFENet) links these "deep base" ResNets from its README (BAM and
PI-CLIP start from the same files, ``initmodel/resnet50_v2.pth``). DST holds the weights of
mmseg's ``ResNetV1c(stem_channels=128, contract_dilation=False)``, the backbone of mmfss's
paper configs, which load it from ``pretrain/pfenet_resnet50_v2.pth`` (the ImageNet
classifier ``fc`` is dropped). See ``mmfss/utils/reference_weights.py``.
"""
import argparse
import sys


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__)
    parser.add_argument('src', help="PFENet's resnet50_v2.pth or resnet101_v2.pth")
    parser.add_argument('dst', help='output file, e.g. pretrain/pfenet_resnet50_v2.pth')
    return parser.parse_args(argv)


def run(args):
    from mmfss.utils.reference_weights import convert_file
    from mmfss.utils.reference_weights import convert_pfenet_resnet
    convert_file(args.src, args.dst, convert_pfenet_resnet)
    return 0


def main(argv=None):
    args = parse_args(argv)
    from mmfss.utils.tool_checks import run_tool
    return run_tool(lambda: run(args))


if __name__ == '__main__':
    sys.exit(main())
