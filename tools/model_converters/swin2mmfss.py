"""Convert the official Swin Transformer release for mmfss (mmseg's SwinTransformer).

    python tools/model_converters/swin2mmfss.py SRC DST

SRC is a checkpoint of microsoft/Swin-Transformer (e.g. swin_base_patch4_window12_384_22k.pth,
the ImageNet-22K Swin-B that HSNet and DCAMA use). DST holds the weights of mmseg's
``SwinTransformer``, the backbone of the Swin configs, which load it from
``pretrain/swin_base_patch4_window12_384_22k.pth``. mmseg's own converted copy of that file
is already in this layout and needs no conversion. Key mapping and the patch-merging
reorder: ``mmfss/utils/reference_weights.py`` (``convert_swin``).
"""
import os.path as osp
import sys


def main(argv=None):
    here = osp.dirname(osp.abspath(__file__))
    if here not in sys.path:
        sys.path.insert(0, here)
    from _cli import converter_main
    return converter_main(__doc__, 'convert_swin',
                          'official Swin checkpoint, e.g. swin_base_patch4_window12_384_22k.pth',
                          'pretrain/swin_base_patch4_window12_384_22k.pth', argv)


if __name__ == '__main__':
    sys.exit(main())
