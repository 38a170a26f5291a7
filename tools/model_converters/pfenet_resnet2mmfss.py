"""Convert PFENet's ImageNet ResNet (resnet50_v2.pth / resnet101_v2.pth) for mmfss.

    python tools/model_converters/pfenet_resnet2mmfss.py SRC DST

PFENet (dvlab-research/PFENet) links these "deep base" ResNets from its README (BAM and
PI-CLIP start from the same files, ``initmodel/resnet50_v2.pth``). DST holds the weights of
mmseg's ``ResNetV1c(stem_channels=128, contract_dilation=False)``, the backbone of mmfss's
paper configs, which load it from ``pretrain/pfenet_resnet50_v2.pth`` (the ImageNet
classifier ``fc`` is dropped). See ``mmfss/utils/reference_weights.py``.
"""
import os.path as osp
import sys


def main(argv=None):
    here = osp.dirname(osp.abspath(__file__))
    if here not in sys.path:
        sys.path.insert(0, here)
    from _cli import converter_main
    return converter_main(__doc__, 'convert_pfenet_resnet', "PFENet's resnet50_v2.pth or resnet101_v2.pth",
                          'pretrain/pfenet_resnet50_v2.pth', argv)


if __name__ == '__main__':
    sys.exit(main())
