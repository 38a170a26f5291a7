"""Convert DINOv2's released ViT for mmfss's ``DINOv2`` backbone.

    python tools/model_converters/dinov2_to_mmfss.py SRC DST

SRC is a checkpoint of facebookresearch/dinov2 (``dinov2_vits14_pretrain.pth``,
``dinov2_vitb14_pretrain.pth``, ``dinov2_vitl14_pretrain.pth``, or their ``_reg4``
versions). DST holds the weights of ``DINOv2`` (the same module names; the unused
``mask_token`` dropped, chunked blocks unchunked, every other key checked), which the DINOv2
configs load from ``pretrain/dinov2_vitb14.pth``. Key mapping:
``mmfss/utils/reference_weights.py`` (``convert_dinov2``).
"""
import os.path as osp
import sys


def main(argv=None):
    here = osp.dirname(osp.abspath(__file__))
    if here not in sys.path:
        sys.path.insert(0, here)
    from _cli import converter_main
    return converter_main(__doc__, 'convert_dinov2', 'DINOv2 checkpoint, e.g. dinov2_vitb14_pretrain.pth',
                          'pretrain/dinov2_vitb14.pth', argv)


if __name__ == '__main__':
    sys.exit(main())
