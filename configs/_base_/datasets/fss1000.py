# FSS-1000 (520 / 240 / 240 classes; see README, "Prepare the datasets"). Images are 224x224:
# training crops keep that size (HSNet trains at 400); the test split scores every test image once
# (2400 episodes) under HSNet's protocol.
dataset_type = 'FSS1000Dataset'
data_root = 'data/FSS-1000'
shot = 1
crop_size = (224, 224)

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
# Evaluation: HSNet's protocol (its data/fss.py, test.py): every test image once, supports drawn
# by numpy after np.random.seed(0), inputs stretched to 400x400 and scored there (the geometry of
# the dataset's protocol, applied by ProtocolTestResize).
test_pipeline = [
    dict(
        type='ApplyToEpisode',
        transforms=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations'),
            dict(type='BinarizeMask'),
            dict(type='ProtocolTestResize'),
        ],
        support_transforms=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations'),
            dict(type='BinarizeMask'),
            dict(type='ProtocolTestResize', role='support'),
        ]),
    dict(type='PackEpisodeInputs'),
]
train_dataloader = dict(
    pin_memory=True,  # as PFENet and BAM: batches cross to the GPU from pinned memory
    batch_size=4,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type, data_root=data_root, split='train', shot=shot,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type, data_root=data_root, split='val', shot=shot, protocol='hsnet',
        pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type, data_root=data_root, split='test', shot=shot, protocol='hsnet',
        pipeline=test_pipeline))
val_evaluator = dict(type='FewShotIoUMetric')
test_evaluator = val_evaluator
