# HSNet on FSS-1000, 1-shot, with HSNet's recipe (Adam 1e-3, batch 20, 400x400, no
# augmentation) under HSNet's protocol (its 240 test classes, masks read as HSNet reads them).
_base_ = [
    '../_base_/models/hsnet_r50.py', '../_base_/datasets/fss1000.py',
    '../_base_/datasets/hsnet_train_pipeline.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_hsnet.py'
]
released_checkpoint = 'pretrain/hsnet_resnet50_fss.pth'
train_dataloader = dict(
    batch_size=20, sampler=dict(type='DefaultSampler', shuffle=True), drop_last=True,
    pin_memory=True, dataset=dict(pipeline={{_base_.hsnet_train_pipeline}}))
