"""Convert a BAM PSPNet base learner (initmodel/PSPNet/<data>/split<i>/resnet50/best.pth).

    python tools/model_converters/bam_pspnet2mmfss.py SRC DST

BAM (chunbolang/BAM) releases the PSPNets it trains on each fold's base classes as its base
learners; DOTGraph (supplement §2.1/§2.3) and PI-CLIP ensemble with the same files. DST is an
mmseg PSPNet checkpoint (``backbone.*``: ``ResNetV1c(stem_channels=128,
contract_dilation=False)``, ``decode_head.*``: ``PSPHead``), what ``configs/base_learner``
trains; the DOTGraph configs load it from ``pretrain/bam_pspnet_resnet50_<data>_split<i>.pth``.
See ``mmfss/utils/reference_weights.py``.
"""
import os.path as osp
import sys


def main(argv=None):
    here = osp.dirname(osp.abspath(__file__))
    if here not in sys.path:
        sys.path.insert(0, here)
    from _cli import converter_main
    return converter_main(__doc__, 'convert_bam_pspnet', "BAM's best.pth of a fold's base learner",
                          'pretrain/bam_pspnet_resnet50_pascal_split0.pth', argv)


if __name__ == '__main__':
    sys.exit(main())
