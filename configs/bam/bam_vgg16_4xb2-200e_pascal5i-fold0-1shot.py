# BAM with VGG-16-BN on PASCAL-5i fold 0, 1-shot, with BAM's recipe
# (config/pascal/pascal_split0_vgg.yaml: SGD lr 0.005, momentum 0.9, weight decay 1e-4, poly
# 0.9, batch 8 = 4 GPUs x 2, 200 epochs, 473 crops, SyncBN under DDP, the backbone's batch
# norms frozen; training images holding a novel class left out) under BAM's test protocol (5
# seeds: tools/test.py --seeds). The frozen backbone and the base learner come from BAM's
# released PSPNet of this fold (tools/model_converters/bam_pspnet2mmfss.py). BAM's released
# model of this fold and shot: tools/model_converters/bam2mmfss.py, then `python
# tools/test.py THIS_CONFIG pretrain/bam_vgg_pascal_split0_1shot.pth`.
_base_ = [
    '../_base_/models/bam_vgg16.py', '../_base_/datasets/pascal5i_bam.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_200e.py'
]
base_learner_checkpoint = 'pretrain/bam_pspnet_vgg_pascal_split0.pth'
released_checkpoint = 'pretrain/bam_vgg_pascal_split0_1shot.pth'
data_preprocessor = dict(size=(473, 473))
model = dict(
    data_preprocessor=data_preprocessor,
    backbone=dict(
        init_cfg=dict(
            type='Pretrained', checkpoint=base_learner_checkpoint, prefix='backbone.')),
    decode_head=dict(
        base_learner_init=dict(
            type='Pretrained', checkpoint=base_learner_checkpoint, prefix='decode_head.')))
optim_wrapper = dict(optimizer=dict(lr=0.005))
train_dataloader = dict(
    batch_size=2, sampler=dict(type='DefaultSampler', shuffle=True), drop_last=True,
    pin_memory=True, dataset=dict(filter_novel_images=True))
