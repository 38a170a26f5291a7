# DOTGraph on COCO-20i fold 0, 1-shot: ResNet-50 + CLIP ViT-B/16, 641x641 crops (81x81 node
# grid, supplement §5); SGD lr 0.005, batch 8 (4 GPUs x 2; PFENet), poly 0.9, 50 epochs. The
# frozen backbone and the base learner come from the base-class PSPNet of the same fold: BAM's
# released base learner, converted (tools/model_converters/bam_pspnet2mmfss.py; docs/install.md,
# "Reference weights"). To use one trained here with BAM's recipe (configs/base_learner), set
# base_learner_checkpoint to its checkpoint.
_base_ = [
    '../_base_/models/dotgraph_r50-d8.py', '../_base_/datasets/coco20i_bam.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_50e.py'
]
base_learner_checkpoint = 'pretrain/bam_pspnet_resnet50_coco_split0.pth'
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
    pin_memory=True)
