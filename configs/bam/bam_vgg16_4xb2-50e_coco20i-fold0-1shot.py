# BAM with VGG-16-BN on COCO-20i fold 0, 1-shot, with BAM's recipe
# (config/coco/coco_split0_vgg.yaml: SGD lr 0.005, batch 8 = 4 GPUs x 2, 50 epochs, 641
# crops, scale 0.8-1.25; the backbone's batch norms frozen; training images holding a novel
# class left out) under BAM's test protocol. Backbone and base learner: BAM's released COCO
# PSPNet of this fold (60 base classes + background). BAM's released model:
# tools/model_converters/bam2mmfss.py.
_base_ = [
    '../_base_/models/bam_vgg16.py', '../_base_/datasets/coco20i_bam.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_50e.py'
]
base_learner_checkpoint = 'pretrain/bam_pspnet_vgg_coco_split0.pth'
released_checkpoint = 'pretrain/bam_vgg_coco_split0_1shot.pth'
data_preprocessor = dict(size=(641, 641))
model = dict(
    data_preprocessor=data_preprocessor,
    backbone=dict(
        init_cfg=dict(
            type='Pretrained', checkpoint=base_learner_checkpoint, prefix='backbone.')),
    decode_head=dict(
        base_learner=dict(num_classes=61),
        base_learner_init=dict(
            type='Pretrained', checkpoint=base_learner_checkpoint, prefix='decode_head.')))
optim_wrapper = dict(optimizer=dict(lr=0.005))
train_dataloader = dict(
    batch_size=2, sampler=dict(type='DefaultSampler', shuffle=True), drop_last=True,
    pin_memory=True, dataset=dict(filter_novel_images=True))
