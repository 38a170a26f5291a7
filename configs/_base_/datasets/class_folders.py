# Your own images and masks, one folder per class (FSS-1000's layout; see docs/own_data.md):
#   data/my_classes/<class>/<X>.jpg with its mask <X>_mask.png
# Masks are read by mmfss's mask reader (0/255, 0/1, VOC style, alpha, colour, JPEG, 1-/16-bit).
# The novel (test) classes are fold `fold` of `num_folds` over the sorted class folders, or
# set `novel_classes=['bolt', 'nut']` in both datasets. Training episodes use the other classes.
dataset_type = 'ClassFolderDataset'
data_root = 'data/my_classes'
fold = 0
num_folds = 4
shot = 1
crop_size = (473, 473)
img_mean_bgr = (103.53, 116.28, 123.675)
train_pipeline = [
    dict(
        type='ApplyToEpisode',
        transforms=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations'),
            dict(type='BinarizeMask'),
            dict(type='RandomResize', scale=crop_size, ratio_range=(0.8, 1.25),
                 keep_ratio=True),
            dict(type='RandomRotate', prob=0.5, degree=10, pad_val=img_mean_bgr,
                 seg_pad_val=255),
            dict(type='RandomFlip', prob=0.5),
            dict(type='RandomCrop', crop_size=crop_size),
        ]),
    dict(type='PackEpisodeInputs'),
]
# The query label is loaded after Resize: it is scored at its original resolution.
test_pipeline = [
    dict(
        type='ApplyToEpisode',
        transforms=[
            dict(type='LoadImageFromFile'),
            dict(type='Resize', scale=crop_size, keep_ratio=True),
            dict(type='LoadAnnotations'),
            dict(type='BinarizeMask'),
        ],
        support_transforms=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations'),
            dict(type='BinarizeMask'),
            dict(type='Resize', scale=crop_size, keep_ratio=True),
        ]),
    dict(type='PackEpisodeInputs'),
]
train_dataloader = dict(
    batch_size=4,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type, data_root=data_root, split='train', fold=fold,
        num_folds=num_folds, shot=shot, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type, data_root=data_root, split='test', fold=fold,
        num_folds=num_folds, shot=shot, num_episodes=1000, seed=0, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='FewShotIoUMetric')
test_evaluator = val_evaluator
