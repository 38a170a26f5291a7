"""Convert a trained HDMNet (or PI-CLIP) model for mmfss.

    python tools/model_converters/hdmnet2mmfss.py SRC DST

SRC is a checkpoint of HDMNet's code (Pbihao/HDMNet ``OneModel``, ``{'state_dict': ...}``
with DataParallel's ``module.`` prefix, ResNet-50): one of its released COCO-20i models or one
you trained with it (PI-CLIP's checkpoints hold the same modules plus its CLIP copy, which is
skipped: mmfss loads CLIP from its own file). DST holds the weights of ``configs/hdmnet``
(backbone, base learner, hierarchical matching transformer, ``gram_merge``, ``cls_merge``,
``kshot_rw``); every key is mapped and an unknown key stops the conversion naming it. See
``mmfss/utils/reference_weights.py``.
"""
import os.path as osp
import sys


def main(argv=None):
    here = osp.dirname(osp.abspath(__file__))
    if here not in sys.path:
        sys.path.insert(0, here)
    from _cli import converter_main
    return converter_main(__doc__, 'convert_hdmnet', 'an HDMNet checkpoint',
                          'pretrain/hdmnet_resnet50_coco_split0_1shot.pth', argv)


if __name__ == '__main__':
    sys.exit(main())
