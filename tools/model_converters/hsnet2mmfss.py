"""Convert a trained HSNet model for mmfss.

    python tools/model_converters/hsnet2mmfss.py SRC DST

SRC is a checkpoint of HSNet's code (juhongm999/hsnet: the state dict of its DataParallel
model, ``module.backbone.*`` and ``module.hpn_learner.*``, ResNet-50 or -101): one of its
released models (``best_model.pt`` of a log folder) or one you trained with it. DST holds
the weights of ``configs/hsnet``; every key is mapped and an unknown key stops the
conversion naming it. See ``mmfss/utils/reference_weights.py``.
"""
import os.path as osp
import sys


def main(argv=None):
    here = osp.dirname(osp.abspath(__file__))
    if here not in sys.path:
        sys.path.insert(0, here)
    from _cli import converter_main
    return converter_main(__doc__, 'convert_hsnet', 'an HSNet checkpoint (best_model.pt)',
                          'pretrain/hsnet_resnet50_pascal_fold0.pth', argv)


if __name__ == '__main__':
    sys.exit(main())
