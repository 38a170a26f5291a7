# COCO-20i (COCO 2014, label maps written by tools/dataset_converters/coco20i.py; see README,
# "Prepare the datasets"). PASCAL-5i's episode pipelines at PFENet/BAM's COCO geometry.
# Fold convention: split_style='interleaved' (PFENet use_split_coco, HSNet) or 'contiguous'.
_base_ = ['./pascal5i.py']
dataset_type = 'COCO20iDataset'
data_root = 'data/coco'
split_style = 'interleaved'
# PFENet/BAM train and test COCO at 641 (train_h/train_w/val_size) with scale 0.8-1.25
crop_size = (641, 641)
scale_range = (0.8, 1.25)
img_mean_bgr = (103.53, 116.28, 123.675)
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
# Evaluation: PFENet's protocol (pascal5i.py's test pipeline) at its COCO size (val_size 641;
# 20001 episodes, seed 321). PFENet's exact episodes need its own list: pass it as ann_file (the
# default lists the label folder in name order). coco20i_bam.py and coco20i_hsnet.py switch the
# protocol.
train_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, split_style=split_style,
                 pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(type=dataset_type, data_root=data_root, split_style=split_style))
test_dataloader = val_dataloader
