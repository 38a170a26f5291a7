"""Convert the official Swin Transformer release for mmfss (mmseg's SwinTransformer).

    python tools/model_converters/swin2mmfss.py SRC DST

SRC is a checkpoint of microsoft/Swin-Transformer (e.g. swin_base_patch4_window12_384_22k.pth,
the ImageNet-22K Swin-B that HSNet and DCAMA use). DST holds the weights of mmseg's
``SwinTransformer``, the backbone of the Swin configs, which load it from
``pretrain/swin_base_patch4_window12_384_22k.pth``. mmseg's own converted copy of that file
is already in this layout and needs no conversion. Key mapping and the patch-merging
reorder: ``mmfss/utils/reference_weights.py`` (``convert_swin``).
"""
import argparse
import sys


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__)
    parser.add_argument('src', help='official Swin checkpoint, e.g. '
                        'swin_base_patch4_window12_384_22k.pth')
    parser.add_argument('dst', help='output file, e.g. '
                        'pretrain/swin_base_patch4_window12_384_22k.pth')
    return parser.parse_args(argv)


def run(args):
    from mmfss.utils.reference_weights import convert_file, convert_swin
    convert_file(args.src, args.dst, convert_swin)
    return 0


def main(argv=None):
    args = parse_args(argv)
    from mmfss.utils.tool_checks import run_tool
    return run_tool(lambda: run(args))


if __name__ == '__main__':
    sys.exit(main())
