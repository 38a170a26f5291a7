# DOTGraph on PASCAL-5i fold 0, 1-shot: ResNet-50 + CLIP ViT-B/16, 473x473 crops (60x60 node grid,
# supplement §5); SGD lr 0.0025, batch 4 (PFENet), poly 0.9, 100 epochs (supplement Table 4). The
# frozen backbone and the base learner come from the base-class PSPNet of the same fold: BAM's
# released base learner, converted (tools/model_converters/bam_pspnet2mmfss.py; docs/install.md,
# "Reference weights"). To use one trained here with BAM's recipe (configs/base_learner), set
# base_learner_checkpoint to its checkpoint.
_base_ = [
    '../_base_/models/dotgraph_r50-d8.py', '../_base_/datasets/pascal5i_bam.py',
    '../_base_/default_runtime.py', '../_base_/schedules/schedule_100e.py'
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
train_dataloader = dict(
    sampler=dict(type='DefaultSampler', shuffle=True), drop_last=True, pin_memory=True)
