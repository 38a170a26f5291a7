"""Convert a trained FoundationFSS model for mmfss.

    python tools/model_converters/foundationfss2mmfss.py SRC DST

SRC is a checkpoint of FoundationFSS's code (DUT-CSJ/FoundationFSS ``best_model.pt``:
``{'net': ...}`` with DataParallel's ``module.`` prefix, DINOv2 ViT-B/14 and the 4D learner).
DST holds the weights of ``configs/foundationfss`` (the DINOv2 backbone and
``LayerCorrelationHead``); every key is mapped and an unknown key stops the conversion naming
it. See ``mmfss/utils/reference_weights.py``.
"""
import os.path as osp
import sys


def main(argv=None):
    here = osp.dirname(osp.abspath(__file__))
    if here not in sys.path:
        sys.path.insert(0, here)
    from _cli import converter_main
    return converter_main(__doc__, 'convert_foundationfss', 'a FoundationFSS checkpoint',
                          'pretrain/foundationfss_dinov2_pascal_fold0.pth', argv)


if __name__ == '__main__':
    sys.exit(main())
