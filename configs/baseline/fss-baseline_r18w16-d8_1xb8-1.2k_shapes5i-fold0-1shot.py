# The `make demo` model: the CPU-sized baseline at a quarter of ResNet-18's width (16
# channels in the stem and layer1, 128 in layer4) for 1200 iterations, which trains in about
# 3.5 min on 2 cores and scores above the half-width model's 2000 iterations (README,
# "Results"). Differs from its base in the width and the schedule only.
_base_ = ['./fss-baseline_r18-d8_1xb8-2k_shapes5i-fold0-1shot.py']
model = dict(
    backbone=dict(stem_channels=16, base_channels=16),
    decode_head=dict(in_channels=[32, 64], channels=64))
train_cfg = dict(max_iters=1200, val_interval=1200)
param_scheduler = [
    dict(type='PolyLR', eta_min=0.0, power=0.9, begin=0, end=1200, by_epoch=False)
]
default_hooks = dict(checkpoint=dict(interval=1200))
