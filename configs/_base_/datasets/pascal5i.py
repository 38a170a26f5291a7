# PASCAL-5i (VOC 2012 + SBD labels). Set data_root to your VOC2012 folder holding
# JPEGImages/ and SegmentationClassAug/ (see README: "Point a config at real data").
dataset_type = 'PASCAL5iDataset'
data_root = 'data/VOCdevkit/VOC2012'
fold = 0
shot = 1
crop_size = (473, 473)  # PFENet/BAM: 60x60 features at 1/8

# PFENet/BAM's training augmentation (PFENet util/transform.py, train.py): RandScale 0.9-1.1
# of the image's own size, RandRotate +-10 degrees with p 0.5 padded with the mean colour
# (BGR here; labels 255), Gaussian blur 5x5 with p 0.5, horizontal flip, crop. Kept
# differences: the crop does not retry (PFENet draws up to 30 more crops while less than 85%
# of the foreground is inside), and a short image is padded at the bottom/right by the data
# preprocessor (mean colour, labels 255) where PFENet pads it centred.
img_mean_bgr = (103.53, 116.28, 123.675)
scale_range = (0.9, 1.1)
train_pipeline = [
    dict(
        type='ApplyToEpisode',
        transforms=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations'),
            dict(type='BinarizeMask'),
            dict(type='RandomRescale', ratio_range=scale_range),
            dict(type='RandomRotate', prob=0.5, degree=10, pad_val=img_mean_bgr,
                 seg_pad_val=255),
            dict(type='RandomGaussianBlur', kernel_size=5, prob=0.5),
            dict(type='RandomFlip', prob=0.5),
            dict(type='RandomCrop', crop_size=crop_size),
        ]),
    dict(type='PackEpisodeInputs'),
]
# Evaluation: PFENet's protocol (README, "Evaluation protocols"; mmfss/datasets/protocols.py):
# the episodes of PFENet's test.py (5001: test_num 5000 + the extra one its loop scores; seed
# 321; val.txt in list order), inputs resized to a long side of 473 (sides floored to a
# multiple of 8, top-left, zero padding), scored in the original label padded to a square.
# ProtocolTestResize applies the geometry of the dataset's protocol, so the dataset's
# `protocol=` alone switches protocols (pascal5i_bam.py, pascal5i_hsnet.py).
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
        type=dataset_type, data_root=data_root, split='train', fold=fold, shot=shot,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type, data_root=data_root, split='val', fold=fold, shot=shot,
        protocol='pfenet', pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='FewShotIoUMetric')
test_evaluator = val_evaluator
