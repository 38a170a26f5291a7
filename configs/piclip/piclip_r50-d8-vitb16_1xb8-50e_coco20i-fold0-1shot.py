# PI-CLIP on COCO-20i fold 0, 1-shot, with its recipe (config/coco/
# coco_split0_resnet50_manet.yaml: HDMNet's AdamW lr 1e-4, 10x for the reductions and merges,
# batch 8 on one GPU, 50 epochs, 473 crops, scale 0.8-1.25, every batch norm frozen) under BAM's
# protocol at 641 (PI-CLIP's own test resizes to 473). Its visual-text prior reads the classes
# annotated in each query (prompt_classes='query_labels'), as PI-CLIP's code does: numbers made
# with this config are PI-CLIP's setting, not a label-free few-shot prediction. Backbone and
# base learner: BAM's COCO PSPNet of this fold; CLIP: OpenAI's ViT-B/16.
_base_ = [
    '../_base_/models/piclip_r50-d8.py', '../_base_/datasets/coco20i_bam.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_50e.py'
]
base_learner_checkpoint = 'pretrain/bam_pspnet_resnet50_coco_split0.pth'
crop_size = (473, 473)
data_preprocessor = dict(size=crop_size)
model = dict(
    data_preprocessor=data_preprocessor,
    backbone=dict(
        init_cfg=dict(
            type='Pretrained', checkpoint=base_learner_checkpoint, prefix='backbone.')),
    decode_head=dict(
        base_learner=dict(num_classes=61),
        base_learner_init=dict(
            type='Pretrained', checkpoint=base_learner_checkpoint, prefix='decode_head.')))
optim_wrapper = {{_base_.hdmnet_optim_wrapper}}
train_pipeline = [
    dict(
        type='ApplyToEpisode',
        transforms=[
            dict(type='LoadImageFromFile'),
            dict(type='LoadAnnotations'),
            dict(type='BinarizeMask'),
            dict(type='RandomRescale', ratio_range={{_base_.scale_range}}),
            dict(type='RandomRotate', prob=0.5, degree=10, pad_val={{_base_.img_mean_bgr}},
                 seg_pad_val=255),
            dict(type='RandomGaussianBlur', kernel_size=5, prob=0.5),
            dict(type='RandomFlip', prob=0.5),
            dict(type='RandomCrop', crop_size=crop_size),
        ]),
    dict(type='PackEpisodeInputs'),
]
train_dataloader = dict(
    batch_size=8, sampler=dict(type='DefaultSampler', shuffle=True), drop_last=True,
    pin_memory=True, dataset=dict(filter_novel_images=True, pipeline=train_pipeline))
