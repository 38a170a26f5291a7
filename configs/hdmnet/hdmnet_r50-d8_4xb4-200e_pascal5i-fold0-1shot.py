# HDMNet on PASCAL-5i fold 0, 1-shot, with HDMNet's recipe (config/pascal/
# pascal_split0_resnet50_manet.yaml: AdamW lr 1e-4, weight decay 0.01, 10x for the reductions
# and merges, poly 0.9, batch 4 per GPU on 4 GPUs, 200 epochs, 473 crops, every batch norm
# frozen) under BAM's protocol (HDMNet's test.py draws its seeds as BAM's does, from seed 123).
# Backbone and base learner: BAM's PSPNet of this fold (HDMNet's initmodel/PSPNet are BAM's;
# tools/model_converters/bam_pspnet2mmfss.py). HDMNet released no PASCAL models.
_base_ = [
    '../_base_/models/hdmnet_r50-d8.py', '../_base_/datasets/pascal5i_bam.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_200e.py'
]
base_learner_checkpoint = 'pretrain/bam_pspnet_resnet50_pascal_split0.pth'
data_preprocessor = dict(size=(473, 473))
model = dict(
    data_preprocessor=data_preprocessor,
    backbone=dict(
        init_cfg=dict(
            type='Pretrained', checkpoint=base_learner_checkpoint, prefix='backbone.')),
    decode_head=dict(
        base_learner_init=dict(
            type='Pretrained', checkpoint=base_learner_checkpoint, prefix='decode_head.')))
optim_wrapper = {{_base_.hdmnet_optim_wrapper}}
train_dataloader = dict(
    batch_size=4, sampler=dict(type='DefaultSampler', shuffle=True), drop_last=True,
    pin_memory=True, dataset=dict(filter_novel_images=True))
