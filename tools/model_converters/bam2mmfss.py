"""Convert a trained BAM model for mmfss.

    python tools/model_converters/bam2mmfss.py SRC DST

SRC is a checkpoint of BAM's code (chunbolang/BAM ``OneModel``, ``{'state_dict': ...}`` with
DataParallel's ``module.`` prefix, ResNet-50): one of its released models or one you trained
with it. DST holds the weights of ``configs/bam`` (backbone, base learner, meta learner,
``gram_merge``, ``cls_merge``, ``kshot_rw``); every key is mapped and an unknown key stops the
conversion naming it. BAM's base-learner PSPNets alone convert with bam_pspnet2mmfss.py. See
``mmfss/utils/reference_weights.py``.
"""
import os.path as osp
import sys


def main(argv=None):
    here = osp.dirname(osp.abspath(__file__))
    if here not in sys.path:
        sys.path.insert(0, here)
    from _cli import converter_main
    return converter_main(__doc__, 'convert_bam', 'a BAM checkpoint',
                          'pretrain/bam_resnet50_pascal_split0_1shot.pth', argv)


if __name__ == '__main__':
    sys.exit(main())
