# CPU-sized baseline on Shapes-5i (the `make demo` model): a half-width ResNet-18 trained
# from scratch (nothing to download), fold 0, 1-shot.
_base_ = [
    '../_base_/models/fss-baseline_r50-d8.py', '../_base_/datasets/shapes5i.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_2k.py'
]
data_preprocessor = dict(size=(96, 96))
model = dict(
    data_preprocessor=data_preprocessor,
    # mmseg's dilation contraction (first block of layer3/4 at half the dilation), as
    # measured in the README: PFENet's layout is for its ImageNet weights
    backbone=dict(depth=18, stem_channels=32, base_channels=32, contract_dilation=True,
                  init_cfg=None),
    freeze_backbone=False,
    decode_head=dict(in_channels=[64, 128], channels=128))
randomness = dict(seed=0)
# the backbone trains, but its last stage only feeds the training-free prior (no gradient)
find_unused_parameters = True
