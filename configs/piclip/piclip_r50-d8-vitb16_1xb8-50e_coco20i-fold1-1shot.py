_base_ = ['./piclip_r50-d8-vitb16_1xb8-50e_coco20i-fold0-1shot.py']
fold = 1
base_learner_checkpoint = 'pretrain/bam_pspnet_resnet50_coco_split1.pth'
model = dict(
    backbone=dict(init_cfg=dict(checkpoint=base_learner_checkpoint)),
    decode_head=dict(base_learner_init=dict(checkpoint=base_learner_checkpoint)))
train_dataloader = dict(dataset=dict(fold=fold))
val_dataloader = dict(dataset=dict(fold=fold))
test_dataloader = val_dataloader
