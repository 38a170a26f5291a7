# HSNet on COCO-20i fold 0, 1-shot, with HSNet's recipe (Adam 1e-3, batch 40, 400x400, no
# augmentation; the interleaved fold split HSNet uses) under HSNet's protocol (its val split
# of the fold, converted once: see configs/_base_/datasets/coco20i_hsnet.py).
_base_ = [
    '../_base_/models/hsnet_r50.py', '../_base_/datasets/coco20i_hsnet.py',
    '../_base_/datasets/hsnet_train_pipeline.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_hsnet.py'
]
released_checkpoint = 'pretrain/hsnet_resnet50_coco_fold0.pth'
train_dataloader = dict(
    batch_size=40, sampler=dict(type='DefaultSampler', shuffle=True), drop_last=True,
    pin_memory=True, dataset=dict(pipeline={{_base_.hsnet_train_pipeline}}))
