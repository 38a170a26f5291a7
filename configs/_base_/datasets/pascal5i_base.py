# The base-class view of PASCAL-5i (BaseClassDataset): a standard mmseg segmentation dataset
# of the fold's 15 base classes (1..15, 0 background, 255 ignore; every listed image, novel
# pixels relabelled background, as BAM's BaseData), for CMNet's stage 1 and a BAM-style base
# learner. mmseg's VOC-aug pipelines at PFENet's 473 crop.
dataset_type = 'BaseClassDataset'
data_root = 'data/VOCdevkit/VOC2012'
fold = 0
crop_size = (473, 473)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomResize', scale=(2048, 512), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type='RandomCrop', crop_size=crop_size, cat_max_ratio=0.75),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PhotoMetricDistortion'),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 512), keep_ratio=True),
    dict(type='LoadAnnotations'),
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
        episodic=dict(type='PASCAL5iDataset', data_root=data_root, split='train', fold=fold),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        episodic=dict(type='PASCAL5iDataset', data_root=data_root, split='val', fold=fold),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
