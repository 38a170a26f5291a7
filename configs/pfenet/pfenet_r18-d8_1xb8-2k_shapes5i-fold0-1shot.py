# CPU-sized PFENet on Shapes-5i: the demo's half-width ResNet-18 trained from scratch and
# PFENet's feature enrichment head at 128 channels, with the scales as ratios of the 12x12
# query grid (PFENet's COCO form), fold 0, 1-shot.
_base_ = [
    '../_base_/models/pfenet_r50-d8.py', '../_base_/datasets/shapes5i.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_2k.py'
]
data_preprocessor = dict(size=(96, 96))
model = dict(
    data_preprocessor=data_preprocessor,
    backbone=dict(depth=18, stem_channels=32, base_channels=32, contract_dilation=True,
                  init_cfg=None),
    freeze_backbone=False,
    decode_head=dict(in_channels=[128, 64], channels=128, scales=(1.0, 0.5, 0.25, 0.125)))
randomness = dict(seed=0)
# the backbone trains, but its last stage only feeds the training-free prior (no gradient)
find_unused_parameters = True
