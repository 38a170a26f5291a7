# CMNet on PASCAL-5i fold 0, 1-shot, with the paper's settings (lr 0.0025, batch 4, 200 epochs; SGD,
# poly 0.9; random scale, rotation, crop and flip). Stage 2 of the multi-task training: the
# backbone comes from the stage-1 PSPNet of the same fold and stays frozen. Train stage 1
# first (README, "CMNet"), or point stage1_checkpoint at its checkpoint.
_base_ = [
    '../_base_/models/cmnet_r50-d8.py', '../_base_/datasets/pascal5i.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_200e.py'
]
stage1_checkpoint = 'work_dirs/pspnet_r50-d8_4xb4-20k_pascal5i-base-fold0/iter_20000.pth'
data_preprocessor = dict(size=(473, 473))
model = dict(
    data_preprocessor=data_preprocessor,
    backbone=dict(
        init_cfg=dict(type='Pretrained', checkpoint=stage1_checkpoint, prefix='backbone.')))
train_dataloader = dict(
    batch_size=4, sampler=dict(type='DefaultSampler', shuffle=True), drop_last=True,
    pin_memory=True)
