# HSNet with VGG-16 on PASCAL-5i fold 0 (7 levels: conv4_1-3, conv5_1-3, pool5), HSNet's recipe
# and protocol. HSNet's released model: tools/model_converters/hsnet2mmfss.py, then
# `python tools/test.py THIS_CONFIG pretrain/hsnet_vgg16_pascal_fold0.pth`.
_base_ = [
    '../_base_/models/hsnet_vgg16.py', '../_base_/datasets/pascal5i_hsnet.py',
    '../_base_/datasets/hsnet_train_pipeline.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_hsnet.py'
]
released_checkpoint = 'pretrain/hsnet_vgg16_pascal_fold0.pth'
train_dataloader = dict(
    batch_size=20, sampler=dict(type='DefaultSampler', shuffle=True), drop_last=True,
    pin_memory=True, dataset=dict(protocol='hsnet', pipeline={{_base_.hsnet_train_pipeline}}))
