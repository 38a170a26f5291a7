# The base-class view of FSS-1000: the images of the 520 training classes, each labelled with
# its class (its folder; 1..520 in the shipped train list's order) on the mask's foreground,
# 0 elsewhere (BaseClassDataset + BinarizeMask). FSS-1000 has no held-out images of these
# classes: validation scores the training images (a sanity check, not a model selection).
# 520 classes: the ignore (and padding) label moves from 255, a class here, to 1000.
dataset_type = 'BaseClassDataset'
ignore_index = 1000
data_root = 'data/FSS-1000'
crop_size = (224, 224)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='BinarizeMask'),
    dict(type='RandomRescale', ratio_range=(0.5, 2.0)),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='BinarizeMask'),
    dict(type='PackSegInputs')
]
train_dataloader = dict(
    pin_memory=True,  # as PFENet and BAM: batches cross to the GPU from pinned memory
    batch_size=4,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        episodic=dict(type='FSS1000Dataset', data_root=data_root, split='train'),
        ignore_index=ignore_index,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        episodic=dict(type='FSS1000Dataset', data_root=data_root, split='train'),
        ignore_index=ignore_index,
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'], ignore_index=ignore_index)
test_evaluator = val_evaluator
