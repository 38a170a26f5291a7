# CMNet on FSS-1000, 1-shot (lr 0.0025, batch 4, 100 epochs). Stage 2 of the multi-task
# training: the backbone comes from the stage-1 PSPNet trained on the 520 training classes
# (each FSS-1000 image's class is its folder) and stays frozen. Train stage 1 first
# (configs/base_learner/pspnet_r50-d8_4xb4-20k_fss1000-base.py; README, "CMNet").
_base_ = [
    '../_base_/models/cmnet_r50-d8.py', '../_base_/datasets/fss1000.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_100e.py'
]
stage1_checkpoint = 'work_dirs/pspnet_r50-d8_4xb4-20k_fss1000-base/iter_20000.pth'
data_preprocessor = dict(size=(224, 224))
model = dict(
    data_preprocessor=data_preprocessor,
    backbone=dict(
        init_cfg=dict(type='Pretrained', checkpoint=stage1_checkpoint, prefix='backbone.')))
train_dataloader = dict(
    sampler=dict(type='DefaultSampler', shuffle=True), drop_last=True, pin_memory=True)
