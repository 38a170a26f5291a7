_base_ = ['./bam_vgg16_4xb2-200e_pascal5i-fold0-1shot.py']
fold = 3
base_learner_checkpoint = 'pretrain/bam_pspnet_vgg_pascal_split3.pth'
released_checkpoint = 'pretrain/bam_vgg_pascal_split3_1shot.pth'
model = dict(
    backbone=dict(init_cfg=dict(checkpoint=base_learner_checkpoint)),
    decode_head=dict(base_learner_init=dict(checkpoint=base_learner_checkpoint)))
train_dataloader = dict(dataset=dict(fold=fold))
val_dataloader = dict(dataset=dict(fold=fold))
test_dataloader = val_dataloader
