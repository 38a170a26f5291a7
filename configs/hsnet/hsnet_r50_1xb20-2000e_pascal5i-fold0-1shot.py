# HSNet on PASCAL-5i fold 0, 1-shot, with HSNet's recipe (train.py: Adam 1e-3, batch 20,
# 400x400 inputs, no augmentation, HSNet's trn split files) under HSNet's protocol (its 1000
# val episodes at 400x400). HSNet's released model of this fold:
# tools/model_converters/hsnet2mmfss.py, then
# `python tools/test.py THIS_CONFIG pretrain/hsnet_resnet50_pascal_fold0.pth`.
_base_ = [
    '../_base_/models/hsnet_r50.py', '../_base_/datasets/pascal5i_hsnet.py',
    '../_base_/datasets/hsnet_train_pipeline.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_hsnet.py'
]
released_checkpoint = 'pretrain/hsnet_resnet50_pascal_fold0.pth'
train_dataloader = dict(
    batch_size=20, sampler=dict(type='DefaultSampler', shuffle=True), drop_last=True,
    pin_memory=True, dataset=dict(protocol='hsnet', pipeline={{_base_.hsnet_train_pipeline}}))
