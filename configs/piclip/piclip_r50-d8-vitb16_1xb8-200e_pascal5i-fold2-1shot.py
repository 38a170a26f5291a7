_base_ = ['./piclip_r50-d8-vitb16_1xb8-200e_pascal5i-fold0-1shot.py']
fold = 2
base_learner_checkpoint = 'pretrain/bam_pspnet_resnet50_pascal_split2.pth'
model = dict(
    backbone=dict(init_cfg=dict(checkpoint=base_learner_checkpoint)),
    decode_head=dict(base_learner_init=dict(checkpoint=base_learner_checkpoint)))
train_dataloader = dict(dataset=dict(fold=fold))
val_dataloader = dict(dataset=dict(fold=fold))
test_dataloader = val_dataloader
