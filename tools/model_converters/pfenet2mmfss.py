"""Convert a trained PFENet model (or PFENet's ImageNet VGG-16-BN) for mmfss.

    python tools/model_converters/pfenet2mmfss.py SRC DST
    python tools/model_converters/pfenet2mmfss.py --backbone-only vgg16_bn.pth \\
        pretrain/pfenet_vgg16_bn.pth

SRC is a checkpoint of PFENet's code (dvlab-research/PFENet, ``{'state_dict': ...}`` with
DataParallel's ``module.`` prefix): one of its released models (ResNet-50 on PASCAL-5i,
VGG-16 on COCO-20i, README "Run Demo / Test with Pretrained Models") or one you trained with
it. DST holds the weights of ``configs/pfenet`` (``FewShotSegmentor`` with the
``FeatureEnrichmentHead``); every key is mapped and an unknown key stops the conversion
naming it. ``--backbone-only`` converts PFENet's ImageNet ``vgg16_bn.pth`` (torchvision's
layout) for the ``VGG`` backbone of the COCO configs. See ``mmfss/utils/reference_weights.py``.
"""
import argparse
import sys


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__)
    parser.add_argument('src', help="a PFENet checkpoint (or, with --backbone-only, "
                        "PFENet's ImageNet vgg16_bn.pth)")
    parser.add_argument('dst', help='output file, e.g. pretrain/pfenet_resnet50_pascal_split0.pth')
    parser.add_argument('--backbone-only', action='store_true',
                        help="SRC is PFENet's ImageNet VGG-16-BN (vgg16_bn.pth)")
    return parser.parse_args(argv)


def run(args):
    from mmfss.utils.reference_weights import convert_file, convert_pfenet, convert_pfenet_vgg
    convert_file(args.src, args.dst, convert_pfenet_vgg if args.backbone_only else
                 convert_pfenet)
    return 0


def main(argv=None):
    args = parse_args(argv)
    from mmfss.utils.tool_checks import run_tool
    return run_tool(lambda: run(args))


if __name__ == '__main__':
    sys.exit(main())
