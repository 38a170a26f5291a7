# Images at 225x225 as supplement §2 states (29x29 node grid) instead of PFENet/BAM's 473.
_base_ = ['./dotgraph_r50-d8-vitb16_1xb4-100e_pascal5i-fold0-1shot.py']
crop_size = (225, 225)
data_preprocessor = dict(size=crop_size)
model = dict(data_preprocessor=data_preprocessor)
train_pipeline = [
    dict(
        type='ApplyToEpisode',
        transforms=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations'),
            dict(type='BinarizeMask'),
            dict(type='RandomResize', scale=crop_size, ratio_range=(0.9, 1.1),
                 keep_ratio=True),
            dict(type='RandomRotate', prob=0.5, degree=10, pad_val=0, seg_pad_val=255),
            dict(type='RandomCrop', crop_size=crop_size),
            dict(type='RandomFlip', prob=0.5),
        ]),
    dict(type='PackEpisodeInputs'),
]
test_pipeline = [
    dict(
        type='ApplyToEpisode',
        transforms=[
            dict(type='LoadImageFromFile'),
            dict(type='Resize', scale=crop_size, keep_ratio=False),
            dict(type='LoadAnnotations'),
            dict(type='BinarizeMask'),
        ],
        support_transforms=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations'),
            dict(type='BinarizeMask'),
            dict(type='Resize', scale=crop_size, keep_ratio=False),
        ]),
    dict(type='PackEpisodeInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
