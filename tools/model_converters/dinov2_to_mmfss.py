"""Convert DINOv2's released ViT for mmfss's ``DINOv2`` backbone.

    python tools/model_converters/dinov2_to_mmfss.py SRC DST

SRC is a checkpoint of facebookresearch/dinov2 (``dinov2_vits14_pretrain.pth``,
``dinov2_vitb14_pretrain.pth``, ``dinov2_vitl14_pretrain.pth``, or their ``_reg4``
versions). DST holds the weights of ``DINOv2`` (the same module names; the unused
``mask_token`` dropped, chunked blocks unchunked, every other key checked), which the DINOv2
configs load from ``pretrain/dinov2_vitb14.pth``. Key mapping:
``mmfss/utils/reference_weights.py`` (``convert_dinov2``).
"""
import argparse
import sys


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__)
    parser.add_argument('src', help='DINOv2 checkpoint, e.g. dinov2_vitb14_pretrain.pth')
    parser.add_argument('dst', help='output file, e.g. pretrain/dinov2_vitb14.pth')
    return parser.parse_args(argv)


def run(args):
    from mmfss.utils.reference_weights import convert_dinov2, convert_file
    convert_file(args.src, args.dst, convert_dinov2)
    return 0


def main(argv=None):
    args = parse_args(argv)
    from mmfss.utils.tool_checks import run_tool
    return run_tool(lambda: run(args))


if __name__ == '__main__':
    sys.exit(main())
