# CPU-sized HSNet on Shapes-5i (fold 0, 1-shot): a half-width ResNet-18 trained from scratch
# whose 6 block outputs of layers 2-4 (2 + 2 + 2) feed HSNet's 4D learner, with the Shapes-5i
# schedule of the other methods (nothing to download).
_base_ = [
    '../_base_/models/hsnet_r50.py', '../_base_/datasets/shapes5i.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_2k.py'
]
data_preprocessor = dict(size=(96, 96))
model = dict(
    data_preprocessor=data_preprocessor,
    backbone=dict(depth=18, base_channels=32, init_cfg=None),
    freeze_backbone=False,
    decode_head=dict(group_sizes=(2, 2, 2)))
randomness = dict(seed=0)
