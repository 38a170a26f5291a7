# The base-class view of PASCAL-5i with BAM's base-learner augmentation (BAM train_base.py,
# config/pascal/*_base.yaml): RandScale 0.5-2.0 of the image's own size, RandRotate +-10
# degrees with p 0.5 (mean colour; labels 255), Gaussian blur 5x5 with p 0.5, horizontal
# flip, 417x417 crop; validation at 417 (long side, keep ratio: resized_val, padded by the
# data preprocessor).
_base_ = ['./pascal5i_base.py']
crop_size = (417, 417)
img_mean_bgr = (103.53, 116.28, 123.675)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomRescale', ratio_range=(0.5, 2.0)),
    dict(type='RandomRotate', prob=0.5, degree=10, pad_val=img_mean_bgr, seg_pad_val=255),
    dict(type='RandomGaussianBlur', kernel_size=5, prob=0.5),
    dict(type='RandomFlip', prob=0.5),
    dict(type='RandomCrop', crop_size=crop_size),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=crop_size, keep_ratio=True),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
train_dataloader = dict(
    batch_size=3,
    sampler=dict(type='DefaultSampler', shuffle=True),
    drop_last=True,  # BAM's train_base.py loader: every batch full (batch norm)
    pin_memory=True,
    dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
