# Shapes-5i: generated on first use into ~/.cache/mmfss/data (or $MMFSS_DATA_DIR).
dataset_type = 'Shapes5iDataset'
data_root = None  # None: the generated cache copy
fold = 0
shot = 1
crop_size = (96, 96)

train_pipeline = [
    dict(
        type='ApplyToEpisode',
        transforms=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations'),
            dict(type='BinarizeMask'),
            dict(type='RandomResize', scale=crop_size, ratio_range=(0.8, 1.25),
                 keep_ratio=True),
            dict(type='RandomCrop', crop_size=crop_size),
            dict(type='RandomFlip', prob=0.5),
            dict(type='RandomRotate', prob=0.5, degree=15, pad_val=0, seg_pad_val=255),
        ]),
    dict(type='PackEpisodeInputs'),
]
# The query label is loaded after Resize: it is scored at its original resolution.
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
train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type, data_root=data_root, split='train', fold=fold, shot=shot,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type, data_root=data_root, split='val', fold=fold, shot=shot,
        num_episodes=1000, seed=0, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='FewShotIoUMetric')
test_evaluator = val_evaluator
