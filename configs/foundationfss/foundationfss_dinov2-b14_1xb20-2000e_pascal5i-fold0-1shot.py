# FoundationFSS on PASCAL-5i fold 0, 1-shot, with its recipe (train.py: Adam 1e-3, batch 20,
# 420x420 inputs, no augmentation, HSNet's split files) under HSNet's protocol at its 420x420
# (test.py --img_size 420). DINOv2: dinov2_vitb14_pretrain.pth converted with
# tools/model_converters/dinov2_to_mmfss.py. FoundationFSS's released model of this fold
# (model_weights.zip): tools/model_converters/foundationfss2mmfss.py, then `python
# tools/test.py THIS_CONFIG pretrain/foundationfss_dinov2_pascal_fold0.pth`.
_base_ = [
    '../_base_/models/foundationfss_dinov2-b14.py', '../_base_/datasets/pascal5i_hsnet.py',
    '../_base_/datasets/hsnet_train_pipeline.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_hsnet.py'
]
released_checkpoint = 'pretrain/foundationfss_dinov2_pascal_fold0.pth'
train_pipeline = [
    dict(
        type='ApplyToEpisode',
        transforms=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations'),
            dict(type='BinarizeMask'),
            dict(type='Resize', scale=(420, 420), keep_ratio=False),
        ]),
    dict(type='PackEpisodeInputs'),
]
train_dataloader = dict(
    batch_size=20, sampler=dict(type='DefaultSampler', shuffle=True), drop_last=True,
    pin_memory=True, dataset=dict(protocol='hsnet', pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(test_size=420))
test_dataloader = val_dataloader
