# Few-shot episodes over an mmseg dataset (here ADE20K; any BaseSegDataset works the same
# way, a user's own included): EpisodicSegDataset wraps the mmseg dataset config, applies
# its reduce_zero_label / label_map exactly as mmseg's LoadAnnotations does, and splits its
# 150 classes into `num_folds` folds (contiguous, as PASCAL-5i) or `novel_classes=[...]`.
# Training: base-class episodes of the training images; test: fixed episodes (seed 0) of the
# novel classes in the validation images. See docs/own_data.md.
dataset_type = 'EpisodicSegDataset'
data_root = 'data/ade/ADEChallengeData2016'
fold = 0
num_folds = 5
shot = 1
crop_size = (473, 473)
ade_train = dict(type='ADE20KDataset', data_root=data_root,
                 data_prefix=dict(img_path='images/training',
                                  seg_map_path='annotations/training'))
ade_val = dict(type='ADE20KDataset', data_root=data_root,
               data_prefix=dict(img_path='images/validation',
                                seg_map_path='annotations/validation'))
img_mean_bgr = (103.53, 116.28, 123.675)
train_pipeline = [
    dict(
        type='ApplyToEpisode',
        transforms=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations'),
            dict(type='BinarizeMask'),
            dict(type='RandomRescale', ratio_range=(0.9, 1.1)),
            dict(type='RandomRotate', prob=0.5, degree=10, pad_val=img_mean_bgr,
                 seg_pad_val=255),
            dict(type='RandomFlip', prob=0.5),
            dict(type='RandomCrop', crop_size=crop_size),
        ]),
    dict(type='PackEpisodeInputs'),
]
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
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type, dataset=ade_train, split='train', fold=fold,
        num_folds=num_folds, shot=shot, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type, dataset=ade_val, split='val', fold=fold, num_folds=num_folds,
        shot=shot, num_episodes=1000, seed=0, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='FewShotIoUMetric')
test_evaluator = val_evaluator
